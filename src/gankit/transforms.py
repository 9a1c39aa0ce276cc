"""Batched geometric operations on image tensors, differentiable in the pixels, each image
with its own random parameters: the shared core of classical and differentiable augmentation."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def translate(images: torch.Tensor, shifts: torch.Tensor, fill: float) -> torch.Tensor:
    """Move image i by shifts[i] = (down, right) whole pixels; uncovered pixels get `fill`."""
    n, c, h, w = images.shape
    pad = int(shifts.abs().max()) if len(shifts) else 0
    padded = F.pad(images, (pad,) * 4, value=fill)
    shifts = shifts.to(images.device)
    rows = torch.arange(h, device=images.device) + pad - shifts[:, :1]  # (n, h)
    cols = torch.arange(w, device=images.device) + pad - shifts[:, 1:]  # (n, w)
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(c, device=images.device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


def mirror_half(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image left-right with probability 1/2 (one draw per image from `generator`)."""
    draw = torch.rand(len(images), generator=generator, device=generator.device) < 0.5
    return torch.where(draw.to(images.device)[:, None, None, None], images.flip(-1), images)


def cutout_mask(n: int, h: int, w: int, size: tuple[int, int], centres: torch.Tensor,
                device: torch.device | str = "cpu") -> torch.Tensor:
    """(n, 1, h, w) mask, 0 inside a size[0] x size[1] box around each centre (row, col)."""
    ys = torch.arange(h, device=device)[None, :, None]
    xs = torch.arange(w, device=device)[None, None, :]
    top = centres[:, :1, None].to(device) - size[0] // 2
    left = centres[:, 1:, None].to(device) - size[1] // 2
    inside = (ys >= top) & (ys < top + size[0]) & (xs >= left) & (xs < left + size[1])
    return (~inside).float().unsqueeze(1)
