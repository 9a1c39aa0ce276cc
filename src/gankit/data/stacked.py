"""Stacked datasets for counting modes (Metz et al. 2017, "Unrolled Generative Adversarial
Networks", StackedMNIST): each image stacks three random images of a grayscale dataset as its
three channels, so k classes give k^3 modes, labelled c0 * k^2 + c1 * k + c2. A generator's mode
coverage is read by classifying each channel with a recogniser of the grayscale data."""

from __future__ import annotations

import torch

from gankit.data.dataset import ImageDataset
from gankit.errors import GankitError

PREFIX = "stacked:"
SPLIT_SEEDS = {"train": 0, "test": 1}  # each split draws its own triples, the same every time


def stack(source: ImageDataset, seed: int) -> ImageDataset:
    """As many stacked images as `source` holds, each channel a random image of it."""
    if source.image_shape[0] != 1 or not source.labeled:
        raise GankitError(f"stacked: needs a labelled grayscale dataset; {source.name} has "
                          f"{source.image_shape[0]} channels"
                          + ("" if source.labeled else " and no labels"))
    gen = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(source), (len(source), 3), generator=gen)
    k = source.num_classes
    labels = source.labels[picks]
    modes = labels[:, 0] * k * k + labels[:, 1] * k + labels[:, 2]
    width = len(str(k**3 - 1))
    return ImageDataset(f"{PREFIX}{source.name}", source.split,
                        source.images[picks].squeeze(2).contiguous(), modes,
                        tuple(f"{m:0{width}d}" for m in range(k**3)))
