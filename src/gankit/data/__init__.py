"""Datasets by name, as float NCHW images in [-1, 1] with int64 labels."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gankit.data.dataset import (
    ImageDataset,
    from_uint8,
    per_class_subset,
    resize,
    to_float,
    to_uint8,
)
from gankit.data.sources import DATASETS, load_folder
from gankit.errors import GankitError

SPLITS = ("train", "test")


def load_dataset(
    name: str,
    split: str = "train",
    *,
    root: str | Path | None = None,
    image_size: int | None = None,
    per_class: int | None = None,
    seed: int = 0,
    download: bool = True,
) -> ImageDataset:
    """Load a dataset by name (see `DATASETS`, or `folder:PATH`).

    `image_size` resizes to a square; `per_class` draws a deterministic, balanced subset
    (the same images for the same seed); `download` allows the online fallback.
    """
    if split not in SPLITS:
        raise GankitError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    if image_size is not None and image_size < 4:
        raise GankitError(f"--image-size must be at least 4, got {image_size}")
    if name.startswith("folder:"):
        data = load_folder(name.removeprefix("folder:"), split, image_size)
    else:
        if name == "folder:PATH" or name == "folder":
            raise GankitError("give the folder as folder:PATH, e.g. folder:./my_images")
        loader = DATASETS.get(name)
        data = loader(split, Path(root) if root else None, download)
        if image_size is not None:
            data = replace(data, images=resize(data.images, image_size))
    if per_class is not None:
        data = per_class_subset(data, per_class, seed)
    return data


__all__ = ["DATASETS", "ImageDataset", "load_dataset", "per_class_subset", "resize",
           "from_uint8", "to_float", "to_uint8", "SPLITS"]
