"""Where each named dataset comes from: IDX sets (Fashion-MNIST, MNIST), sklearn digits, folders."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from gankit.data.dataset import ImageDataset, from_uint8
from gankit.data.idx import read_idx
from gankit.errors import GankitError
from gankit.registry import Registry

Loader = Callable[[str, "Path | None", bool], ImageDataset]
DATASETS: Registry[Loader] = Registry("dataset")

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DIGIT_CLASSES = tuple(str(k) for k in range(10))
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}
_DOWNLOAD_TIMEOUT_S = 20


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gankit"


def _idx_files(split: str) -> tuple[str, str]:
    prefix = "train" if split == "train" else "t10k"
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def _find_idx(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def _idx_dataset(name: str, tv_name: str, classes: tuple[str, ...], apt_hint: str) -> Loader:
    """A loader that searches --data-root, $GANKIT_DATA, /usr/share/datasets, then downloads."""

    def load(split: str, root: Path | None, download: bool) -> ImageDataset:
        searched = []
        for base in search_bases(root):
            for directory in (base, base / name, base / tv_name / "raw"):
                searched.append(str(directory))
                images_stem, labels_stem = _idx_files(split)
                images = _find_idx(directory, images_stem)
                labels = _find_idx(directory, labels_stem)
                if images and labels:
                    return _read_pair(name, split, images, labels, classes)
        if download and os.environ.get("GANKIT_OFFLINE") != "1":
            _download(name, tv_name)
            return load(split, None, False)
        raise GankitError(
            f"{name} not found (looked in {', '.join(dict.fromkeys(searched))}); "
            f"install it with `{apt_hint}` or pass --data-root DIR holding "
            f"{'/'.join(_idx_files(split))}[.gz]"
        )

    return load


def _read_pair(name: str, split: str, images: Path, labels: Path,
               classes: tuple[str, ...]) -> ImageDataset:
    pixels, targets = read_idx(images), read_idx(labels)
    if len(pixels) != len(targets):
        raise GankitError(f"{images} and {labels} hold different numbers of items; re-install")
    return ImageDataset(name, split, from_uint8(pixels), torch.from_numpy(targets.astype(np.int64)),
                        classes)


def search_bases(root: Path | None) -> list[Path]:
    """Where a named dataset's files are looked for, in order."""
    bases = [p for p in (root, os.environ.get("GANKIT_DATA")) if p]
    return [*map(Path, bases), Path("/usr/share/datasets"), cache_dir()]


def fetch(name: str, download: Callable[[], None], hint: str) -> None:
    """The fallback for machines with internet: run `download` (into the gankit cache), or
    end in one line with `hint`, what to do instead."""
    if os.environ.get("GANKIT_OFFLINE") == "1":
        raise GankitError(f"{name} is not on this machine and downloads are off "
                          f"(GANKIT_OFFLINE=1); {hint}")
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)
    try:
        download()
    except Exception as err:  # any network or mirror failure ends in the same advice
        raise GankitError(f"{name} is not on this machine and downloading it failed "
                          f"({type(err).__name__}); {hint}") from None
    finally:
        socket.setdefaulttimeout(previous)


def _download(name: str, tv_name: str) -> None:
    import torchvision.datasets

    def both_splits() -> None:
        for train in (True, False):
            getattr(torchvision.datasets, tv_name)(str(cache_dir()), train=train, download=True)

    fetch(name, both_splits, f"install it with `apt-get install dataset-{name}` or pass "
                             "--data-root DIR")


DATASETS.add("fashion-mnist",
             _idx_dataset("fashion-mnist", "FashionMNIST", FASHION_CLASSES,
                          "apt-get install dataset-fashion-mnist"),
             "Zalando's Fashion-MNIST: 60k/10k 28x28 grayscale, 10 clothing classes")
DATASETS.add("mnist",
             _idx_dataset("mnist", "MNIST", DIGIT_CLASSES,
                          "gankit's download (needs internet) or a copy of the IDX files"),
             "LeCun's MNIST handwritten digits: 60k/10k 28x28 grayscale, 10 classes")


@DATASETS.register("digits", "scikit-learn's bundled 8x8 digits: 1797 images, every 5th is test")
def _load_digits(split: str, root: Path | None, download: bool) -> ImageDataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    index = np.arange(len(bunch.target))
    keep = index % 5 == 0 if split == "test" else index % 5 != 0
    pixels = np.rint(bunch.images[keep] * (255.0 / 16.0)).astype(np.uint8)
    return ImageDataset("digits", split, from_uint8(pixels),
                        torch.from_numpy(bunch.target[keep].astype(np.int64)), DIGIT_CLASSES)


DATASETS.add("folder:PATH", None,  # resolved by prefix in load_dataset
             "a folder of PNG/JPEG images; class sub-folders become labels; "
             "train/ and test/ sub-folders become splits")


def load_folder(path: str, split: str, image_size: int | None) -> ImageDataset:
    """Images under PATH (or PATH/train, PATH/test); each sub-folder is a class."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise GankitError(f"image folder {root} does not exist; pass folder:PATH of a real folder")
    if (root / "train").is_dir() and (root / "test").is_dir():
        base = root / split
    elif split == "test":
        raise GankitError(f"{root} has no test split; put images in {root}/train and {root}/test")
    else:
        base = root
    class_dirs = sorted(d for d in base.iterdir() if d.is_dir())
    groups = [(d.name, _image_files(d)) for d in class_dirs] or [("", _image_files(base))]
    groups = [(name, files) for name, files in groups if files]
    if not groups:
        raise GankitError(f"no PNG/JPEG images in {base}; add images or point folder: elsewhere")
    pictures = [(k, _open_image(f)) for k, (_, files) in enumerate(groups) for f in files]
    gray = all(img.mode in _GRAY_MODES for _, img in pictures)
    arrays = [_to_array(img, "L" if gray else "RGB", image_size, base) for _, img in pictures]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise GankitError(f"images in {base} have different sizes {sorted(shapes)[:3]}; "
                          "pass --image-size N to resize them all")
    labeled = bool(class_dirs)
    labels = np.array([k if labeled else -1 for k, _ in pictures], dtype=np.int64)
    classes = tuple(name for name, _ in groups) if labeled else ()
    return ImageDataset(f"folder:{root}", split, from_uint8(np.stack(arrays)),
                        torch.from_numpy(labels), classes)


def load_image_file(path: Path, image_size: int | None) -> ImageDataset:
    """One image file as a one-image, unlabelled dataset."""
    img = _open_image(path)
    mode = "L" if img.mode in _GRAY_MODES else "RGB"
    pixels = _to_array(img, mode, image_size, path.parent)
    return ImageDataset(f"file:{path}", "test", from_uint8(pixels[None]),
                        torch.tensor([-1]), ())


def _image_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def _open_image(path: Path) -> Image.Image:
    try:
        img = Image.open(path)
        img.load()
        return img
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as err:
        raise GankitError(f"cannot read image {path} ({err}); remove or replace it") from None


def _to_array(img: Image.Image, mode: str, image_size: int | None, base: Path) -> np.ndarray:
    img = img.convert(mode)
    if image_size is not None:
        # Shorter side to image_size, then a centred square: keeps the aspect ratio.
        scale = image_size / min(img.size)
        w, h = max(image_size, round(img.width * scale)), max(image_size, round(img.height * scale))
        img = img.resize((w, h), Image.Resampling.BILINEAR)
        left, top = (w - image_size) // 2, (h - image_size) // 2
        img = img.crop((left, top, left + image_size, top + image_size))
    elif img.width != img.height:
        raise GankitError(f"images in {base} are not square ({img.width}x{img.height}); "
                          "pass --image-size N to crop them to N x N")
    return np.asarray(img)
