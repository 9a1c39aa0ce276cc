"""Datasets by name, as float NCHW images in [-1, 1] with int64 labels."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from gankit.data import (
    colour,  # noqa: F401  (registers cifar10 and svhn)
    stacked,
)
from gankit.data.dataset import (
    ImageDataset,
    class_index,
    from_uint8,
    match_channels,
    per_class_indices,
    per_class_subset,
    resize,
    to_float,
    to_uint8,
)
from gankit.data.sources import DATASETS, load_folder, load_image_file
from gankit.errors import GankitError

SPLITS = ("train", "val", "test")
HOLDOUT_SEED = 0  # the held-out images are the same whatever a run's seed


def load_dataset(
    name: str,
    split: str = "train",
    *,
    root: str | Path | None = None,
    image_size: int | None = None,
    per_class: int | None = None,
    seed: int = 0,
    download: bool = True,
    holdout: int = 0,
) -> ImageDataset:
    """Load a dataset by name (see `DATASETS`, `folder:PATH`, or `stacked:NAME` for three
    random images of a grayscale dataset stacked as channels, gankit.data.stacked).

    `image_size` resizes to a square; `per_class` draws a deterministic, balanced subset
    (the same images for the same seed); `download` allows the online fallback.
    `holdout` keeps that many training images out of split "train" and makes them split "val"
    (the same images for every seed), a validation set for choosing between runs.
    """
    if split not in SPLITS:
        raise GankitError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    if split == "val" and not holdout:
        raise GankitError("split 'val' is the images a run held out of training; train with "
                          "--holdout N (e.g. 10000) to have one")
    if image_size is not None and image_size < 4:
        raise GankitError(f"--image-size must be at least 4, got {image_size}")
    stored = "train" if split == "val" else split  # "val" is carved out of "train"
    if name.startswith(stacked.PREFIX):
        source = load_dataset(name.removeprefix(stacked.PREFIX), stored, root=root,
                              image_size=image_size, download=download)
        data = stacked.stack(source, stacked.SPLIT_SEEDS[stored])
    elif name.startswith("folder:"):
        data = load_folder(name.removeprefix("folder:"), stored, image_size)
    else:
        if name == "folder:PATH" or name == "folder":
            raise GankitError("give the folder as folder:PATH, e.g. folder:./my_images")
        loader = DATASETS.get(name)
        data = loader(stored, Path(root) if root else None, download)
        if image_size is not None:
            data = replace(data, images=resize(data.images, image_size))
    if holdout and split != "test":
        data = _held_out(data, holdout, split)
    if per_class is not None:
        data = per_class_subset(data, per_class, seed)
    return data


def _held_out(train: ImageDataset, n: int, split: str) -> ImageDataset:
    """Split "train" less `n` images drawn once for all seeds, or those `n` images ("val")."""
    if not 0 < n < len(train):
        raise GankitError(f"--holdout must be between 1 and {len(train) - 1} for {train.name}'s "
                          f"{len(train)} training images, got {n}")
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(HOLDOUT_SEED))
    part = order[:n] if split == "val" else order[n:]
    return replace(train.select(part.sort().values), split=split)


__all__ = ["DATASETS", "ImageDataset", "class_index", "load_dataset", "load_images",
           "match_channels", "per_class_indices", "per_class_subset", "resize",
           "from_uint8", "to_float", "to_uint8", "SPLITS"]


def load_images(source: str, image_shape: tuple[int, int, int], *, n: int | None = None,
                split: str = "test", root: str | Path | None = None) -> ImageDataset:
    """Images to work on, shaped `image_shape`: a dataset name (its `split`), `folder:PATH` or a
    plain folder, or one image file. Resized and converted to the channels asked for; the
    first `n` only when given."""
    c, h, w = image_shape
    path = Path(source).expanduser()
    if path.is_file():
        data = load_image_file(path, h if h == w else None)
    elif path.is_dir():
        data = load_folder(str(path), "train", h if h == w else None)
    else:
        data = load_dataset(source, split, root=root, image_size=h if h == w else None)
    if data.image_shape[1:] != (h, w):
        raise GankitError(f"{source} holds {data.image_shape[1]}x{data.image_shape[2]} images; "
                          f"{h}x{w} are needed")
    data = replace(data, images=match_channels(data.images, c))
    return data if n is None else data.select(torch.arange(min(n, len(data))))

