"""Image grids to PNG: the one place tensors in [-1, 1] become files a person looks at."""

from __future__ import annotations

import io
import math
from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image

from gankit.io import atomic_write


def image_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> torch.Tensor:
    """A (C, H, W) grid in [0, 1] of images in [-1, 1]; `nrow` images a row (default: square)."""
    nrow = nrow or max(1, math.ceil(math.sqrt(len(images))))
    return make_grid(images.detach().float().cpu(), nrow=nrow, padding=padding,
                     normalize=True, value_range=(-1, 1), pad_value=1.0)


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None,
              scale: int = 1) -> Path:
    """Write images in [-1, 1] as one PNG grid, optionally enlarged `scale` times (nearest)."""
    grid = image_grid(images, nrow)
    if scale > 1:
        grid = grid.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)
    buffer = io.BytesIO()
    save_image(grid, buffer, format="png")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, buffer.getvalue())
    return path
