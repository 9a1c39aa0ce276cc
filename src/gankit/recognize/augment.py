"""Augmentation for training recognisers, applied to each batch on the fly from a seeded
generator: `classical` (random shifts), `strong` (RandAugment and random erasing from
torchvision's transforms v2, on top of the shifts) and `degrade` (random blur, exposure and
sensor noise on top of the shifts); each mirrors half the images only where `flip_allowed`
says a mirror keeps the class."""

from __future__ import annotations

import functools
import math

import torch

from gankit import camera
from gankit.data import to_float, to_uint8
from gankit.errors import GankitError
from gankit.transforms import mirror_half, translate

AUGMENTATIONS = ("none", "classical", "strong", "degrade")
FLIPS = ("auto", "on", "off")
MAX_SHIFT = 2  # pixels; ~7% of a 28-pixel image, the usual choice for MNIST-like data
BACKGROUND = -1.0  # the pixel value a shift uncovers: black in [-1, 1] images
# Datasets gankit knows a left-right mirror keeps the class of (clothing); digits and letters
# it does not (a mirrored 3 is no 3), and of a user's folder gankit knows nothing.
MIRROR_SAFE = ("fashion-mnist",)


def flip_allowed(dataset_name: str, flip: str = "auto") -> bool:
    """Whether augmentation may mirror images of `dataset_name`: `on`/`off` as the user says;
    `auto` only for the datasets in MIRROR_SAFE, so folder data is never mirrored unasked."""
    if flip not in FLIPS:
        raise GankitError(f"unknown --flip {flip!r}; choose one of: {', '.join(FLIPS)}")
    return flip == "on" or (flip == "auto" and dataset_name in MIRROR_SAFE)


def shift_and_flip(images: torch.Tensor, generator: torch.Generator, *,
                   max_shift: int = MAX_SHIFT, flip: bool = False) -> torch.Tensor:
    """Move each image by up to `max_shift` pixels each way (the uncovered border is the
    background value -1) and, with `flip`, mirror half of them."""
    shifts = torch.randint(-max_shift, max_shift + 1, (len(images), 2), generator=generator)
    out = translate(images, shifts, fill=BACKGROUND)
    return mirror_half(out, generator) if flip else out


@functools.lru_cache(maxsize=1)
def _strong_policy():
    """RandAugment (Cubuk et al. 2020) at torchvision's default 2 ops of magnitude 9: rotations
    up to ~9 degrees, shears up to ~0.09, translations up to ~13% of the side, and photometric
    ops; it never mirrors. Then random erasing (Zhong et al. 2020) of a quarter of the images,
    at its defaults. Built on first use: transforms v2 is slow to import for every command."""
    from torchvision.transforms import v2

    return v2.RandAugment(num_ops=2, magnitude=9), v2.RandomErasing(p=0.25)


def strong_augment(images: torch.Tensor, generator: torch.Generator, *,
                   flip: bool = False) -> torch.Tensor:
    """Shifts (and mirrors where `flip`), then RandAugment on each image's uint8 pixels and
    random erasing: the augmentation a practitioner would try before any GAN. torchvision
    draws from torch's global generator, so it runs under a fork of it seeded from
    `generator`: the same generator state gives the same batch."""
    rand_augment, erase = _strong_policy()
    moved = shift_and_flip(images, generator, flip=flip)
    pixels = to_uint8(moved)
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.stack([erase(to_float(rand_augment(p))) for p in pixels])


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def degrade(images: torch.Tensor, generator: torch.Generator, *,
            flip: bool = False) -> torch.Tensor:
    """Shifts (and mirrors where `flip`), then, each with probability 1/2 and in the order a
    camera applies them: Gaussian blur (sigma 0.3-1.5 pixels), an exposure change (gain
    0.2-1, gamma 0.6-2.5) and sensor noise (shot noise at 50-5,000 photons for full scale,
    log-uniform, plus read noise of std 0-0.05). The corruption training of Hendrycks &
    Dietterich (2019, "Benchmarking neural network robustness to common corruptions") and
    Vasiljevic et al. (2016, blur and noise): the non-GAN way to a recogniser for degraded
    images, knowing the kinds of degradation but not their parameters."""
    x = (shift_and_flip(images, generator, flip=flip) + 1) / 2
    n, per_image = len(x), (-1, *[1] * (x.dim() - 1))
    on = [torch.rand(n, generator=generator) < 0.5 for _ in range(3)]
    sigma = _uniform(n, 0.3, 1.5, generator)
    x = torch.where(on[0].view(per_image), camera.blur(x, sigma), x)
    gain, gamma = _uniform(n, 0.2, 1.0, generator), _uniform(n, 0.6, 2.5, generator)
    x = torch.where(on[1].view(per_image), camera.expose(x, gain, gamma), x)
    photons = torch.exp(_uniform(n, math.log(50), math.log(5000), generator))
    read = _uniform(n, 0.0, 0.05, generator)
    x = torch.where(on[2].view(per_image), camera.sensor_noise(x, photons, read, generator), x)
    return x.clamp(0, 1) * 2 - 1


def augment_batch(images: torch.Tensor, augment: str, generator: torch.Generator, *,
                  flip: bool) -> torch.Tensor:
    """One batch under the named augmentation (AUGMENTATIONS)."""
    if augment == "classical":
        return shift_and_flip(images, generator, flip=flip)
    if augment == "strong":
        return strong_augment(images, generator, flip=flip)
    if augment == "degrade":
        return degrade(images, generator, flip=flip)
    return images
