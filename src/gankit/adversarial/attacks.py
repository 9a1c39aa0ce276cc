"""Gradient attacks on recognisers: FGSM (Goodfellow et al. 2015, "Explaining and Harnessing
Adversarial Examples") and PGD with random starts and restarts (Madry et al. 2018, "Towards Deep
Learning Models Resistant to Adversarial Attacks"), in the L-infinity and L2 norms.

gankit images live in [-1, 1], but budgets are quoted, as in the papers, on the [0, 1] pixel
scale: eps = 0.1 allows a tenth of the pixel range. `Budget` converts once; every attack keeps
its images inside the eps-ball and the valid pixel range after every step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError

NORMS = ("linf", "l2")
SCALE = 2.0  # width of gankit's pixel range [-1, 1] on the [0, 1] scale of the budgets


@dataclass(frozen=True)
class Budget:
    """How far an attack may move an image: `eps` in `norm`, on the [0, 1] pixel scale."""

    eps: float = 0.1
    norm: str = "linf"

    def check(self, image_shape: tuple[int, ...]) -> None:
        if self.norm not in NORMS:
            raise GankitError(f"unknown norm {self.norm!r}; choose one of: {', '.join(NORMS)}")
        # The largest distance two images in [0, 1] can be apart in this norm.
        widest = 1.0 if self.norm == "linf" else math.sqrt(math.prod(image_shape))
        if not 0 < self.eps <= widest:
            raise GankitError(f"--eps {self.eps:g} is outside (0, {widest:g}]: budgets are on "
                              f"the [0, 1] pixel scale, e.g. --eps 0.1 for {self.norm}")

    def project(self, adversarial: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """The nearest image to `adversarial` inside the ball around `images` and in [-1, 1]."""
        eps = SCALE * self.eps
        delta = adversarial - images
        if self.norm == "linf":
            delta = delta.clamp(-eps, eps)
        else:
            norms = delta.flatten(1).norm(dim=1).clamp(min=1e-12)
            delta = delta * (eps / norms).clamp(max=1.0).view(-1, *[1] * (delta.dim() - 1))
        return (images + delta).clamp(-1.0, 1.0)

    def step(self, gradient: torch.Tensor, size: float) -> torch.Tensor:
        """The steepest-ascent step of length `size` (on the [0, 1] scale) in this norm."""
        if self.norm == "linf":
            return SCALE * size * gradient.sign()
        norms = gradient.flatten(1).norm(dim=1).clamp(min=1e-12)
        return SCALE * size * gradient / norms.view(-1, *[1] * (gradient.dim() - 1))

    def random_start(self, images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """A uniformly random point of the ball (L2: random direction, uniform radius)."""
        eps = SCALE * self.eps
        shape, per_image = images.shape, (-1, *[1] * (images.dim() - 1))
        if self.norm == "linf":
            noise = (torch.rand(shape, generator=gen) * 2 - 1) * eps
        else:
            direction = torch.randn(shape, generator=gen)
            direction = direction / direction.flatten(1).norm(dim=1).view(per_image)
            noise = direction * torch.rand(shape[0], generator=gen).view(per_image) * eps
        return self.project(images + noise.to(images.device), images)


def attack_loss(logits: torch.Tensor, labels: torch.Tensor, target: int | None) -> torch.Tensor:
    """Per-image loss the attack ascends: cross-entropy on the true label (untargeted) or
    minus cross-entropy on the target class (targeted)."""
    if target is None:
        return F.cross_entropy(logits, labels, reduction="none")
    wanted = torch.full_like(labels, target)
    return -F.cross_entropy(logits, wanted, reduction="none")


def fooled(logits: torch.Tensor, labels: torch.Tensor, target: int | None) -> torch.Tensor:
    """Which images the attack has succeeded on: misclassified, or classified as the target."""
    predictions = logits.argmax(dim=1)
    return predictions != labels if target is None else predictions == target


def _gradient(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
              target: int | None) -> torch.Tensor:
    images = images.detach().requires_grad_(True)
    loss = attack_loss(model(images), labels, target).sum()
    return torch.autograd.grad(loss, images)[0]


def fgsm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, budget: Budget,
         target: int | None = None) -> torch.Tensor:
    """One step of size eps along the gradient's sign (L-inf) or direction (L2)."""
    step = budget.step(_gradient(model, images, labels, target), budget.eps)
    return budget.project(images + step, images).detach()


@dataclass(frozen=True)
class PGDConfig:
    steps: int = 40
    step_size: float | None = None  # on the [0, 1] scale; default 2.5 * eps / steps (Madry)
    restarts: int = 1
    random_start: bool = True
    seed: int = 0

    def size(self, eps: float) -> float:
        return self.step_size if self.step_size is not None else 2.5 * eps / self.steps


def pgd(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, budget: Budget,
        config: PGDConfig = PGDConfig(), target: int | None = None,
        generator: torch.Generator | None = None) -> torch.Tensor:
    """Projected gradient ascent; over restarts, each image keeps its first successful
    adversary (or, where none succeeds, the one with the highest loss). A restart attacks only
    the images no earlier restart has fooled (their outcome cannot change, so an eval-mode
    model gives the same result for a fraction of the passes). Random starts come from
    `generator` (default: one seeded with config.seed, so a call is reproducible)."""
    gen = generator or torch.Generator().manual_seed(config.seed)
    size = config.size(budget.eps)
    best = images.detach().clone()
    best_loss = torch.full((len(images),), -math.inf, device=images.device)
    done = torch.zeros(len(images), dtype=torch.bool, device=images.device)
    for _ in range(config.restarts):
        # Drawn for every image, so the remaining ones get the same starts as without skipping.
        start = budget.random_start(images, gen) if config.random_start else images.detach()
        left = (~done).nonzero().squeeze(1)
        if len(left) == 0:
            break
        x, clean, truth = start[left], images[left], labels[left]
        for _ in range(config.steps):
            x = budget.project(x + budget.step(_gradient(model, x, truth, target), size), clean)
        with torch.no_grad():
            logits = model(x)
            loss, success = attack_loss(logits, truth, target), fooled(logits, truth, target)
        take = success | (loss > best_loss[left])
        best[left[take]], best_loss[left[take]] = x[take], loss[take]
        done[left[success]] = True
    return best.detach()
