"""The in-memory image dataset every layer above works with."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from gankit.errors import GankitError


@dataclass(frozen=True)
class ImageDataset:
    """Images as float NCHW in [-1, 1], labels int64 (-1 where the data has no labels)."""

    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != torch.float32:
            raise ValueError("images must be a float32 NCHW tensor")
        if self.labels.shape != (len(self.images),) or self.labels.dtype != torch.int64:
            raise ValueError("labels must be an int64 tensor with one entry per image")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    @property
    def labeled(self) -> bool:
        return len(self.classes) > 0

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def select(self, index: torch.Tensor | np.ndarray) -> ImageDataset:
        index = torch.as_tensor(index, dtype=torch.int64)
        return replace(self, images=self.images[index], labels=self.labels[index])

    def class_counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=self.num_classes).tolist()


def class_index(name_or_index: str, classes: tuple[str, ...]) -> int:
    """A class given by index or by (case-insensitive) name."""
    if name_or_index.isdigit() and int(name_or_index) < len(classes):
        return int(name_or_index)
    lowered = [c.lower() for c in classes]
    if name_or_index.lower() in lowered:
        return lowered.index(name_or_index.lower())
    choices = ", ".join(f"{k}={c}" for k, c in enumerate(classes))
    raise GankitError(f"unknown class {name_or_index!r}; choose one of: {choices}")


def from_uint8(pixels: np.ndarray) -> torch.Tensor:
    """uint8 NHW or NHWC pixels (as files store them) -> float NCHW in [-1, 1]."""
    x = torch.from_numpy(np.array(pixels, copy=True))
    if x.ndim == 3:
        x = x.unsqueeze(-1)
    return to_float(x.permute(0, 3, 1, 2)).contiguous()


def to_float(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 NCHW -> float NCHW in [-1, 1]; the inverse of `to_uint8`."""
    return pixels.float().div(127.5).sub(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float NCHW in [-1, 1] -> uint8 NCHW, rounding to the nearest level."""
    return images.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize to size x size (antialiased when shrinking)."""
    if images.shape[-2:] == (size, size):
        return images
    shrinking = size < min(images.shape[-2:])
    out = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False,
                        antialias=shrinking)
    return out.clamp(-1, 1)


def per_class_indices(data: ImageDataset, per_class: int, seed: int = 0) -> torch.Tensor:
    """Sorted indices of the same `per_class` images of each class for the same seed."""
    if not data.labeled:
        raise GankitError(f"--per-class needs labels, and {data.name} has none")
    if per_class < 1:
        raise GankitError(f"--per-class must be at least 1, got {per_class}")
    counts = data.class_counts()
    smallest = min(counts)
    if per_class > smallest:
        name = data.classes[counts.index(smallest)]
        raise GankitError(
            f"--per-class {per_class} is larger than the smallest class of {data.name} "
            f"({name!r}, {smallest} images); use --per-class {smallest} or less"
        )
    gen = torch.Generator().manual_seed(seed)
    chosen = []
    for k in range(data.num_classes):
        members = torch.nonzero(data.labels == k).flatten()
        chosen.append(members[torch.randperm(len(members), generator=gen)[:per_class]])
    return torch.sort(torch.cat(chosen)).values


def per_class_subset(data: ImageDataset, per_class: int, seed: int = 0) -> ImageDataset:
    """The same `per_class` images of each class for the same seed, in a stable order."""
    return data.select(per_class_indices(data, per_class, seed))


def match_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Grayscale <-> RGB: tile one channel to three, or average three to one."""
    if images.shape[1] == channels:
        return images
    if channels == 1:
        return images.mean(dim=1, keepdim=True)
    return images.expand(-1, channels, -1, -1).contiguous()

