"""Masks for image completion: (N, 1, H, W) float tensors, 1 where pixels are missing (the
hole) and 0 where they are known. Every generator here is seeded and sized to the images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from gankit.errors import GankitError

MASK_KINDS = ("center", "box", "strokes", "half")


def center(n: int, h: int, w: int) -> torch.Tensor:
    """A centred square of half the side (14 x 14 on 28 x 28 images)."""
    mask = torch.zeros(n, 1, h, w)
    mh, mw = h // 2, w // 2
    top, left = (h - mh) // 2, (w - mw) // 2
    mask[:, :, top : top + mh, left : left + mw] = 1
    return mask


def half(n: int, h: int, w: int) -> torch.Tensor:
    """The bottom half."""
    mask = torch.zeros(n, 1, h, w)
    mask[:, :, h - h // 2 :, :] = 1
    return mask


def boxes(n: int, h: int, w: int, gen: torch.Generator, count: int = 3) -> torch.Tensor:
    """`count` random boxes per image, each side between 1/5 and 2/5 of the image's."""
    ys, xs = torch.arange(h)[None, :, None], torch.arange(w)[None, None, :]
    mask = torch.zeros(n, h, w, dtype=torch.bool)
    for _ in range(count):
        bh = torch.randint(max(1, h // 5), max(2, 2 * h // 5) + 1, (n, 1, 1), generator=gen)
        bw = torch.randint(max(1, w // 5), max(2, 2 * w // 5) + 1, (n, 1, 1), generator=gen)
        top = (torch.rand(n, 1, 1, generator=gen) * (h - bh + 1)).long()
        left = (torch.rand(n, 1, 1, generator=gen) * (w - bw + 1)).long()
        mask |= (ys >= top) & (ys < top + bh) & (xs >= left) & (xs < left + bw)
    return mask.float().unsqueeze(1)


def strokes(n: int, h: int, w: int, gen: torch.Generator, count: int = 4,
            segments: int = 3) -> torch.Tensor:
    """Brush strokes: `count` random polylines of `segments` pieces each, about 1/9 of the
    side thick, like free-form masks drawn by hand."""
    ys = torch.arange(h, dtype=torch.float32)[None, :, None]
    xs = torch.arange(w, dtype=torch.float32)[None, None, :]
    radius = max(1.0, min(h, w) / 18)
    mask = torch.zeros(n, h, w, dtype=torch.bool)
    for _ in range(count):
        start = torch.rand(n, 2, generator=gen) * torch.tensor([h - 1.0, w - 1.0])
        for _ in range(segments):
            step = (torch.rand(n, 2, generator=gen) - 0.5) * torch.tensor([h / 2, w / 2])
            end = (start + step).clamp(min=torch.zeros(2), max=torch.tensor([h - 1.0, w - 1.0]))
            mask |= _near_segment(ys, xs, start, end, radius)
            start = end
    return mask.float().unsqueeze(1)


def _near_segment(ys: torch.Tensor, xs: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                  radius: float) -> torch.Tensor:
    """Pixels within `radius` of the segment a-b (per image; points as (row, col))."""
    ay, ax = a[:, 0, None, None], a[:, 1, None, None]
    dy, dx = (b[:, 0] - a[:, 0])[:, None, None], (b[:, 1] - a[:, 1])[:, None, None]
    length2 = (dy**2 + dx**2).clamp(min=1e-6)
    t = (((ys - ay) * dy + (xs - ax) * dx) / length2).clamp(0, 1)
    return (ys - (ay + t * dy)) ** 2 + (xs - (ax + t * dx)) ** 2 <= radius**2


def make_masks(kind: str, n: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """`n` masks of a named kind (see MASK_KINDS) or read from a PNG file."""
    gen = torch.Generator().manual_seed(seed)
    if kind == "center":
        mask = center(n, h, w)
    elif kind == "half":
        mask = half(n, h, w)
    elif kind == "box":
        mask = boxes(n, h, w, gen)
    elif kind == "strokes":
        mask = strokes(n, h, w, gen)
    elif kind.lower().endswith(".png"):
        mask = read_mask(kind, h, w).expand(n, -1, -1, -1)
    else:
        raise GankitError(f"unknown mask {kind!r}; choose one of: {', '.join(MASK_KINDS)} "
                          "or a PNG file (white = missing)")
    check_masks(mask, (h, w), kind)
    return mask


def read_mask(path: str | Path, h: int, w: int) -> torch.Tensor:
    """A binary PNG (white = missing, black = known) of exactly h x w pixels -> (1, 1, h, w)."""
    try:
        with Image.open(path) as img:
            pixels = np.asarray(img.convert("L"))
    except FileNotFoundError:
        raise GankitError(f"mask file {path} does not exist") from None
    except (UnidentifiedImageError, OSError) as err:
        raise GankitError(f"mask file {path} is not a readable image ({err})") from None
    if pixels.shape != (h, w):
        raise GankitError(f"mask {path} is {pixels.shape[1]}x{pixels.shape[0]} but the images "
                          f"are {w}x{h}; draw the mask at the images' size")
    values = set(np.unique(pixels).tolist())
    if not values <= {0, 255}:
        raise GankitError(f"mask {path} is not binary (it has grey levels such as "
                          f"{sorted(values - {0, 255})[:3]}); use only black (known) and "
                          "white (missing)")
    return torch.from_numpy(pixels == 255).float()[None, None]


def check_masks(mask: torch.Tensor, size: tuple[int, int], source: str) -> None:
    if tuple(mask.shape[-2:]) != tuple(size):
        raise GankitError(f"mask {source} is {tuple(mask.shape[-2:])} but the images are "
                          f"{tuple(size)}")
    hidden = mask.flatten(1).mean(dim=1)
    if (hidden == 0).any():
        raise GankitError(f"mask {source} hides nothing in some images; nothing to complete")
    if (hidden == 1).any():
        raise GankitError(f"mask {source} hides the whole image; there is no context to "
                          "complete from")
