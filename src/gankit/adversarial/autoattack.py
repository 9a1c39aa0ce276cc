"""AutoAttack (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an
ensemble of diverse parameter-free attacks"), run with the Adversarial Robustness Toolbox's
implementations of its attacks.

The standard version runs, each on the images the ones before left correctly classified:
APGD-CE (100 iterations), APGD-T (the targeted DLR loss, 100 iterations against each of the
9 classes the clean image scores highest after its own), FAB-T and Square (5,000 queries).
ART has no FAB, so gankit runs the other three; Square needs no gradient, so a recogniser that
only hides its gradients (the failure AutoAttack exists to expose) still falls to it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from gankit.adversarial.attacks import Budget
from gankit.errors import GankitError
from gankit.extras import require


@dataclass(frozen=True)
class AutoAttackConfig:
    """The standard version's budgets (Croce & Hein 2020, section 4)."""

    iterations: int = 100
    targets: int = 9
    square_queries: int = 5000
    batch_size: int = 500


class _UnitRange(nn.Module):
    """The recogniser on the [0, 1] pixel scale of the budgets (gankit images are in [-1, 1]),
    so ART's eps and clip values are the papers' numbers. A channels-last copy: the attack's
    tens of thousands of passes ran 1.4x (gradients) to 1.9x (forwards) as fast on oneDNN."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = copy.deepcopy(model).to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x * 2 - 1)


@contextmanager
def _numpy_seed(seed: int) -> Iterator[None]:
    """ART draws its random starts and squares from numpy's global generator: seed it for a
    reproducible attack and leave the caller's stream as it was."""
    saved = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        np.random.set_state(saved)


def _norm(budget: Budget) -> float | int:
    return np.inf if budget.norm == "linf" else 2


def autoattack(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, budget: Budget,
               config: AutoAttackConfig = AutoAttackConfig(), seed: int = 0,
               target: int | None = None) -> torch.Tensor:
    """Adversarial versions of `images` (gankit's [-1, 1] range): each image keeps the first
    attack's adversary that misclassifies it, or stays clean when none does."""
    if target is not None:
        raise GankitError("autoattack is untargeted (it picks its own targets); drop --target")
    evasion = require("art.attacks.evasion", "robust")
    estimators = require("art.estimators.classification", "robust")
    device = images.device
    wrapped = _UnitRange(model).eval()
    logits_of = _logits(wrapped, device, config.batch_size)
    classes = int(logits_of(images[:1] / 2 + 0.5).shape[1])
    estimator = estimators.PyTorchClassifier(
        wrapped, nn.CrossEntropyLoss(), tuple(images.shape[1:]), nb_classes=classes,
        clip_values=(0.0, 1.0), device_type="gpu" if device.type == "cuda" else "cpu")
    x = (images.detach() / 2 + 0.5).cpu().numpy().astype(np.float32)
    y = labels.cpu().numpy()
    adversarial = x.copy()
    robust = logits_of(torch.from_numpy(x)).argmax(1).cpu().numpy() == y
    common = {"norm": _norm(budget), "eps": budget.eps, "batch_size": config.batch_size,
              "verbose": False}
    apgd = {**common, "eps_step": 2 * budget.eps, "max_iter": config.iterations,
            "nb_random_init": 1}

    def attempt(attack: Any, goal: np.ndarray) -> None:
        """Run `attack` on the still-robust images; keep what now misclassifies."""
        left = np.flatnonzero(robust)
        if len(left) == 0:
            return
        made = attack.generate(x[left], y=np.eye(classes, dtype=np.float32)[goal[left]])
        wrong = logits_of(torch.from_numpy(made)).argmax(1).cpu().numpy() != y[left]
        adversarial[left[wrong]] = made[wrong]
        robust[left[wrong]] = False

    with _numpy_seed(seed):
        attempt(evasion.AutoProjectedGradientDescent(
            estimator, loss_type="cross_entropy", targeted=False, **apgd), y)
        ranked = np.argsort(-logits_of(torch.from_numpy(x)).cpu().numpy(), axis=1)
        others = ranked[ranked != y[:, None]].reshape(len(y), classes - 1)
        targeted = evasion.AutoProjectedGradientDescent(
            estimator, loss_type="difference_logits_ratio", targeted=True, **apgd)
        for k in range(min(config.targets, classes - 1)):
            attempt(targeted, others[:, k])
        attempt(evasion.SquareAttack(estimator, max_iter=config.square_queries, p_init=0.8,
                                     nb_restarts=1, **common), y)
    made = torch.from_numpy(adversarial).to(device) * 2 - 1
    return budget.project(made, images).detach()  # exactly in the ball after float rounding


def _logits(model: nn.Module, device: torch.device,
            batch_size: int) -> Callable[[torch.Tensor], torch.Tensor]:
    def logits_of(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([model(x[i : i + batch_size].to(device))
                              for i in range(0, len(x), batch_size)])
    return logits_of
