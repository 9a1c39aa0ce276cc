"""Classical augmentation for training recognisers: random shifts, and mirror flips where the
data allows them. Applied to each batch on the fly, from a seeded generator."""

from __future__ import annotations

import torch

from gankit.transforms import mirror_half, translate

AUGMENTATIONS = ("none", "classical")
MAX_SHIFT = 2  # pixels; ~7% of a 28-pixel image, the usual choice for MNIST-like data
BACKGROUND = -1.0  # the pixel value a shift uncovers: black in [-1, 1] images


def mirror_safe(dataset_name: str) -> bool:
    """Whether a left-right flip keeps an image's class. True for clothing and for folders
    of photographs; false for digits and letters (a mirrored 3 is no longer a 3)."""
    return dataset_name == "fashion-mnist" or dataset_name.startswith("folder:")


def shift_and_flip(images: torch.Tensor, generator: torch.Generator, *,
                   max_shift: int = MAX_SHIFT, flip: bool = False) -> torch.Tensor:
    """Move each image by up to `max_shift` pixels each way (the uncovered border is the
    background value -1) and, with `flip`, mirror half of them."""
    shifts = torch.randint(-max_shift, max_shift + 1, (len(images), 2), generator=generator)
    out = translate(images, shifts, fill=BACKGROUND)
    return mirror_half(out, generator) if flip else out


def classical_views(images: torch.Tensor, *, max_shift: int = MAX_SHIFT,
                    flip: bool = False) -> list[torch.Tensor]:
    """The images themselves, moved by `max_shift` pixels each of four ways and, with `flip`,
    mirrored: fixed views from classical augmentation's range, for averaging a model's
    predictions over them (test-time augmentation)."""
    moves = [(max_shift, 0), (-max_shift, 0), (0, max_shift), (0, -max_shift)]
    shifted = [translate(images, torch.tensor([move]).expand(len(images), 2), fill=BACKGROUND)
               for move in moves]
    return [images, *shifted, *([images.flip(-1)] if flip else [])]
