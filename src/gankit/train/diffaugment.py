"""Differentiable augmentation for data-efficient GAN training (Zhao et al. 2020,
"Differentiable Augmentation for Data-Efficient GAN Training"): the same random colour,
translation and cutout transforms are applied to real and generated images every time D sees
them, in the D step and the G step, so D cannot memorise a small training set and G still gets
gradients through the transforms. Magnitudes follow the paper: brightness ±0.5, saturation
×[0, 2], contrast ×[0.5, 1.5], translation up to 1/8 of the side, cutout of half the side.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from gankit.errors import GankitError
from gankit.transforms import cutout_mask, mirror_half, translate

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _uniform(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(len(x), 1, 1, 1, generator=gen, device=x.device)


def color(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    x = x + (_uniform(x, gen) - 0.5)  # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_uniform(x, gen) * 2) + mean  # saturation (a no-op on grayscale)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, gen) + 0.5) + mean  # contrast


def translation(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    h, w = x.shape[-2:]
    limit = torch.tensor([max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))],
                         device=x.device)
    draw = torch.rand(len(x), 2, generator=gen, device=x.device)
    shifts = (draw * (2 * limit + 1)).long() - limit  # uniform in [-limit, limit]
    return translate(x, shifts, fill=0.0)


def cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    size = (max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5)))
    draw = torch.rand(n, 2, generator=gen, device=x.device)
    centres = (draw * torch.tensor([h + 1 - size[0] % 2, w + 1 - size[1] % 2],
                                   device=x.device)).long()
    return x * cutout_mask(n, h, w, size, centres, x.device)


# "flip" is not in the paper: like the x-flips of Karras et al. 2020 (ADA) it suits only data
# whose mirror images belong to it (clothing, not digits); D then judges the mirror-symmetric
# version of each distribution.
POLICIES: dict[str, Transform] = {"color": color, "translation": translation, "cutout": cutout,
                                  "flip": mirror_half}


def parse_policy(policy: str) -> list[Transform]:
    """'color,translation,cutout' -> transforms; '' -> none."""
    names = [p.strip() for p in policy.split(",") if p.strip()]
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise GankitError(f"unknown DiffAugment transform {unknown[0]!r}; choose from: "
                          f"{', '.join(POLICIES)} (comma-separated)")
    return [POLICIES[p] for p in names]


def diff_augment(x: torch.Tensor, transforms: list[Transform],
                 gen: torch.Generator) -> torch.Tensor:
    for transform in transforms:
        x = transform(x, gen)
    return x.contiguous()
