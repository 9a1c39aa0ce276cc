"""Extra labelled training images for a recogniser: drawn from a conditional GAN run, or read
from a folder whose class sub-folders are named like the dataset's classes."""

from __future__ import annotations

from pathlib import Path

import torch

from gankit.data import ImageDataset, match_channels, to_float
from gankit.data.sources import load_folder
from gankit.errors import GankitError
from gankit.runs import MANIFEST, require_kind
from gankit.sampling import generate
from gankit.train.rundir import load_generator


def load_extra(source: str | Path, like: ImageDataset, *, per_class: int, seed: int = 0,
               device: str = "auto") -> ImageDataset:
    """Labelled images shaped and labelled like `like`. From a GAN run: `per_class` images of
    every class; from a folder: all of its images."""
    path = Path(source)
    if (path / MANIFEST).is_file():
        require_kind(path, "gan")
        return _from_gan_run(path, like, per_class, seed, device)
    if path.is_dir():
        return _from_folder(path, like)
    raise GankitError(f"--extra {source} is neither a gankit run directory nor a folder of "
                      "class sub-folders")


def _from_gan_run(path: Path, like: ImageDataset, per_class: int, seed: int,
                  device: str) -> ImageDataset:
    trained = load_generator(path, device=device)
    if not trained.generator.num_classes:
        raise GankitError(f"--extra {path} was trained unconditionally, so its images have no "
                          "labels; train it with --conditional")
    if trained.classes != like.classes:
        raise GankitError(f"--extra {path} was trained on classes {list(trained.classes)}, "
                          f"but {like.name} has {list(like.classes)}")
    if tuple(trained.generator.image_shape) != like.image_shape:
        raise GankitError(f"--extra {path} makes {tuple(trained.generator.image_shape)} images, "
                          f"but {like.name} has {like.image_shape}")
    pixels, labels = generate(trained.generator, per_class * like.num_classes, seed=seed)
    return ImageDataset(f"gan:{path}", "train", to_float(pixels), labels, like.classes)


def _from_folder(path: Path, like: ImageDataset) -> ImageDataset:
    c, h, w = like.image_shape
    folder = load_folder(str(path), "train", h if h == w else None)
    if not folder.labeled:
        raise GankitError(f"--extra {path} has no class sub-folders; put each class's images "
                          f"in a sub-folder named after it ({', '.join(like.classes)})")
    unknown = sorted(set(folder.classes) - set(like.classes))
    if unknown:
        raise GankitError(f"--extra {path} has classes {unknown} that {like.name} does not "
                          f"have; its sub-folders must be named from: {', '.join(like.classes)}")
    if folder.image_shape[1:] != (h, w):
        raise GankitError(f"--extra {path} holds {folder.image_shape[1:]} images, but "
                          f"{like.name} has {(h, w)}")
    remap = torch.tensor([like.classes.index(name) for name in folder.classes])
    return ImageDataset(f"folder:{path}", "train", match_channels(folder.images, c),
                        remap[folder.labels], like.classes)
