"""Colour datasets practitioners expect by name: CIFAR-10 and SVHN (32x32 RGB, 10 classes).

Both are looked for in --data-root, $GANKIT_DATA, /usr/share/datasets and gankit's cache, and
downloaded into the cache as a fallback when the machine is online. CIFAR-10 is read from its
binary distribution (fixed 3,073-byte records), never from the Python one, which is pickles;
SVHN from its MATLAB files through torchvision (scipy.io, no pickles).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gankit.data.dataset import ImageDataset, from_uint8
from gankit.data.sources import DATASETS, DIGIT_CLASSES, cache_dir, fetch, search_bases
from gankit.errors import GankitError

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-bin"
CIFAR10_RECORD = 1 + 3 * 32 * 32  # a label byte, then the red, green and blue planes


def read_cifar10_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 NHWC pixels, int64 labels) of one CIFAR-10 binary batch file."""
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % CIFAR10_RECORD:
        raise GankitError(f"{path} is not a CIFAR-10 binary batch ({raw.size} bytes, not a "
                          f"multiple of {CIFAR10_RECORD}); download it again")
    records = raw.reshape(-1, CIFAR10_RECORD)
    pixels = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return pixels, records[:, 0].astype(np.int64)


@DATASETS.register("cifar10", "Krizhevsky's CIFAR-10: 50k/10k 32x32 colour, 10 object "
                              "classes (binary version; downloaded when online)")
def _load_cifar10(split: str, root: Path | None, download: bool) -> ImageDataset:
    names = ([f"data_batch_{k}.bin" for k in range(1, 6)] if split == "train"
             else ["test_batch.bin"])
    searched = []
    for base in search_bases(root):
        for folder in (base / CIFAR10_FOLDER, base / "cifar10" / CIFAR10_FOLDER, base):
            searched.append(str(folder))
            if all((folder / n).is_file() for n in names):
                parts = [read_cifar10_batch(folder / n) for n in names]
                if any(int(labels.max()) >= len(CIFAR10_CLASSES) for _, labels in parts):
                    raise GankitError(f"{folder} holds labels past CIFAR-10's 10 classes; is it "
                                      "CIFAR-100? download CIFAR-10's binary version")
                pixels = np.concatenate([p for p, _ in parts])
                labels = np.concatenate([lab for _, lab in parts])
                return ImageDataset("cifar10", split, from_uint8(pixels),
                                    torch.from_numpy(labels), CIFAR10_CLASSES)
    if download:
        from torchvision.datasets.utils import download_and_extract_archive

        fetch("cifar10", lambda: download_and_extract_archive(CIFAR10_URL, str(cache_dir())),
              f"pass --data-root DIR holding {CIFAR10_FOLDER}/ from {CIFAR10_URL}")
        return _load_cifar10(split, None, False)
    raise GankitError(f"cifar10 not found (looked in {', '.join(dict.fromkeys(searched))}); "
                      f"pass --data-root DIR holding {CIFAR10_FOLDER}/ from {CIFAR10_URL}")


@DATASETS.register("svhn", "Netzer et al.'s Street View House Numbers: 73k/26k 32x32 colour "
                           "digits (downloaded when online)")
def _load_svhn(split: str, root: Path | None, download: bool) -> ImageDataset:
    from torchvision.datasets import SVHN

    file = f"{split}_32x32.mat"
    for base in search_bases(root):
        for folder in (base / "svhn", base):
            if (folder / file).is_file():
                data = SVHN(str(folder), split=split, download=False)
                labels = np.asarray(data.labels, dtype=np.int64)  # torchvision maps 10 to 0
                return ImageDataset("svhn", split, from_uint8(data.data.transpose(0, 2, 3, 1)),
                                    torch.from_numpy(labels), DIGIT_CLASSES)
    if download:
        folder = cache_dir() / "svhn"
        fetch("svhn", lambda: SVHN(str(folder), split=split, download=True),
              "pass --data-root DIR holding svhn/ from http://ufldl.stanford.edu/housenumbers/")
        return _load_svhn(split, None, False)
    raise GankitError(f"svhn not found (looked for {file} in --data-root, $GANKIT_DATA, "
                      f"/usr/share/datasets and {cache_dir()}); pass --data-root DIR holding "
                      "it (from http://ufldl.stanford.edu/housenumbers/)")
