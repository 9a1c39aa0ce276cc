"""AutoAttack (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an
ensemble of diverse parameter-free attacks"), L-inf standard version.

Its attacks run one after another, each on the images the ones before left correctly
classified: APGD-CE (100 iterations), APGD-T (the targeted DLR loss, 100 iterations against each
of the 9 classes the clean image scores highest after its own), FAB-T and Square (5,000
queries). APGD comes from the Adversarial Robustness Toolbox. ART has no FAB, so gankit runs the
other three. Square is gankit's own, as in its paper (Andriushchenko et al. 2020, "Square
Attack"): a square of its own place for every image and one network pass per query, where
ART's draws one place for the whole batch and makes three passes per query (docs/benchmarks.md,
*Measurements behind code defaults*). Square needs no
gradient, so a recogniser that only hides its gradients (the failure AutoAttack exists to
expose) still falls to it.
"""

from __future__ import annotations

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
    so ART's eps and clip values are the papers' numbers. It wraps the model it is given, which
    `attack_images` (the one caller) has already made an inference copy."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

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
               target: int | None = None,
               robust_after: dict[str, int] | None = None) -> torch.Tensor:
    """Adversarial versions of `images` (gankit's [-1, 1] range): each image keeps the first
    attack's adversary that misclassifies it, or stays clean when none does. `robust_after`,
    when given, adds how many images each stage left correctly classified (clean, apgd-ce,
    apgd-t, square), so that a gap to another attack can be traced to the stage that made it."""
    if target is not None:
        raise GankitError("autoattack is untargeted (it picks its own targets); drop --target")
    if budget.norm != "linf":
        raise GankitError("autoattack here is the L-inf standard version; use --norm linf, or "
                          "--method pgd for l2")
    evasion = require("art.attacks.evasion", "robust")
    estimators = require("art.estimators.classification", "robust")
    device = images.device
    wrapped = _UnitRange(model).eval()
    logits_of = _logits(wrapped, device, config.batch_size)
    x = (images.detach() / 2 + 0.5).cpu().numpy().astype(np.float32)
    y = labels.cpu().numpy()
    clean_logits = logits_of(torch.from_numpy(x)).cpu().numpy()
    classes = clean_logits.shape[1]
    estimator = estimators.PyTorchClassifier(
        wrapped, nn.CrossEntropyLoss(), tuple(images.shape[1:]), nb_classes=classes,
        clip_values=(0.0, 1.0), device_type="gpu" if device.type == "cuda" else "cpu")
    adversarial = x.copy()
    robust = clean_logits.argmax(1) == y
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

    counts = {} if robust_after is None else robust_after

    def count(stage: str) -> None:
        counts[stage] = counts.get(stage, 0) + int(robust.sum())

    count("clean")
    with _numpy_seed(seed):
        attempt(evasion.AutoProjectedGradientDescent(
            estimator, loss_type="cross_entropy", targeted=False, **apgd), y)
        count("apgd-ce")
        ranked = np.argsort(-clean_logits, axis=1)
        others = ranked[ranked != y[:, None]].reshape(len(y), classes - 1)
        targeted = evasion.AutoProjectedGradientDescent(
            estimator, loss_type="difference_logits_ratio", targeted=True, **apgd)
        for k in range(min(config.targets, classes - 1)):
            attempt(targeted, others[:, k])
        count("apgd-t")
    made = torch.from_numpy(adversarial).to(device) * 2 - 1
    left = torch.from_numpy(np.flatnonzero(robust)).to(device)
    if len(left) and config.square_queries:
        gen = torch.Generator().manual_seed(seed + 1)
        made[left] = square(wrapped, images[left] / 2 + 0.5, labels[left].to(device),
                            budget.eps, config.square_queries, gen) * 2 - 1
    made = budget.project(made, images).detach()  # exactly in the ball after float rounding
    robust = logits_of(made / 2 + 0.5).argmax(1).cpu().numpy() == y
    count("square")
    return made  # exactly in the ball after float rounding


def _square_share(p_init: float, query: int, queries: int) -> float:
    """The share of pixels a query's square covers: p_init, halved at the schedule's points
    (Andriushchenko et al. 2020, given for 10,000 queries and scaled to `queries`)."""
    at = int(query / queries * 10_000)
    halvings = sum(at > point for point in (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000))
    return p_init / 2**halvings


def _margin(model: nn.Module, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The true class's logit minus the best other one's: below zero = misclassified."""
    with torch.no_grad():
        logits = model(x)
    true = logits.gather(1, labels[:, None]).squeeze(1)
    return true - logits.scatter(1, labels[:, None], -torch.inf).amax(dim=1)


def square(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float,
           queries: int, gen: torch.Generator, p_init: float = 0.8) -> torch.Tensor:
    """Square Attack, L-inf, on images in [0, 1]: from vertical stripes of +-eps, each query
    sets a random square of every still-robust image to a random corner of the eps-box (one
    sign per channel) and keeps it where the margin falls."""
    n, c, h, w = images.shape
    stripes = eps * (torch.randint(0, 2, (n, c, 1, w), generator=gen) * 2 - 1).to(images)
    x = (images + stripes).clamp(0, 1)
    margin = _margin(model, x, labels)
    rows, cols = torch.arange(h, device=images.device), torch.arange(w, device=images.device)
    for query in range(queries):
        left = (margin > 0).nonzero().squeeze(1)
        if len(left) == 0:
            break
        side = max(1, min(round((_square_share(p_init, query, queries) * h * w) ** 0.5), h - 1))
        top = torch.randint(0, h - side + 1, (len(left),), generator=gen).to(images.device)
        edge = torch.randint(0, w - side + 1, (len(left),), generator=gen).to(images.device)
        inside = (((rows >= top[:, None]) & (rows < top[:, None] + side))[:, :, None]
                  & ((cols >= edge[:, None]) & (cols < edge[:, None] + side))[:, None, :])
        signs = eps * (torch.randint(0, 2, (len(left), c, 1, 1), generator=gen) * 2 - 1)
        clean = images[left]
        proposal = torch.where(inside[:, None], (clean + signs.to(images)).clamp(0, 1), x[left])
        new_margin = _margin(model, proposal, labels[left])
        improved = new_margin < margin[left]
        x[left[improved]], margin[left[improved]] = proposal[improved], new_margin[improved]
    return x


def _logits(model: nn.Module, device: torch.device,
            batch_size: int) -> Callable[[torch.Tensor], torch.Tensor]:
    def logits_of(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([model(x[i : i + batch_size].to(device))
                              for i in range(0, len(x), batch_size)])
    return logits_of
