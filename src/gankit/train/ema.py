"""Exponential moving average of generator weights, used for sampling (Yazici et al. 2019,
"The Unusual Effectiveness of Averaging in GAN Training"; Karras et al. 2018)."""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from torch import nn


class EMA:
    """Keeps `d * ema + (1 - d) * weights` after every step, with the decay warmed up as
    d = min(decay, (1 + t) / (10 + t)) so that short runs are not dominated by the random
    initial weights.

    Only parameters are averaged. Batch-norm statistics of the live generator do not fit the
    averaged weights, so `refresh_batch_norm` recomputes them before the EMA model is used.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        torch._foreach_lerp_(list(self.model.parameters()), list(model.parameters()), 1 - decay)


@torch.no_grad()
def refresh_batch_norm(model: nn.Module, inputs: Iterable[tuple[torch.Tensor, ...]]) -> None:
    """Recompute every batch-norm layer's running statistics as the plain average over `inputs`
    ("standing statistics", Brock et al. 2019; what torch.optim.swa_utils.update_bn does for
    single-input models). Leaves the model in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    for batch in inputs:
        model(*batch)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    model.eval()
