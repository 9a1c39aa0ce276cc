"""Image domains for translation: a dataset, optionally passed through named transforms.

A domain is written DATASET[@TRANSFORM[+TRANSFORM...]], e.g. `fashion-mnist@low-light` or
`folder:./photos@blur+low-light`; transforms apply left to right. Every transform is a
deterministic function of the images and a seed.

`low-light` models a dim exposure (parameters in `LowLight`): pixel values on [0, 1] are
darkened by a gamma curve and a gain (which also compresses contrast), then get sensor noise —
photon shot noise (Poisson, approximated as Gaussian with variance value / photons) plus read
noise — and are clipped to [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.transforms.functional import gaussian_blur

from gankit import camera
from gankit.data import ImageDataset, load_dataset, match_channels
from gankit.errors import GankitError
from gankit.registry import Registry

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]  # [-1, 1] -> [-1, 1]
TRANSFORMS: Registry[Transform] = Registry("domain transform")


@dataclass(frozen=True)
class LowLight:
    gamma: float = 1.8  # > 1 darkens mid-tones more than highlights
    gain: float = 0.35  # exposure: the brightest value becomes 0.35
    photons: float = 400.0  # at full scale; fewer photons = more shot noise
    read_noise: float = 0.02  # std of the additive noise, on the [0, 1] scale

    def __call__(self, images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        dim = camera.expose((images + 1) / 2, self.gain, self.gamma)
        return camera.sensor_noise(dim, self.photons, self.read_noise, gen).clamp(0, 1) * 2 - 1


TRANSFORMS.add("low-light", LowLight(), "gamma 1.8 darkening, gain 0.35, shot + read noise")
TRANSFORMS.add("inverted", lambda images, gen: -images, "negative: white becomes black")
TRANSFORMS.add("blur", lambda images, gen: gaussian_blur(images, [5, 5], [1.0, 1.0]).clamp(-1, 1),
               "Gaussian blur, sigma 1 pixel")
TRANSFORMS.add("thick", lambda images, gen: F.max_pool2d(images, 3, stride=1, padding=1),
               "bright strokes dilated by one pixel (3x3 max filter)")


@dataclass(frozen=True)
class Domain:
    dataset: str
    transforms: tuple[str, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> Domain:
        dataset, _, chain = spec.partition("@")
        if not dataset:
            raise GankitError(f"domain {spec!r} names no dataset; write DATASET[@TRANSFORM]")
        names = tuple(t for t in chain.split("+") if t) if chain else ()
        for name in names:
            TRANSFORMS.get(name)  # an unknown name lists the choices
        return cls(dataset, names)

    def __str__(self) -> str:
        return self.dataset + ("@" + "+".join(self.transforms) if self.transforms else "")

    def apply(self, images: torch.Tensor, seed: int = 0) -> torch.Tensor:
        for position, name in enumerate(self.transforms):
            gen = torch.Generator().manual_seed(seed * 1000 + position)
            images = TRANSFORMS.get(name)(images, gen)
        return images


def _load(domain: Domain, split: str, root: str | Path | None,
          image_size: int | None) -> ImageDataset:
    return load_dataset(domain.dataset, split, root=root, image_size=image_size)


def load_domain(spec: str, split: str = "test", *, root: str | Path | None = None,
                image_size: int | None = None, seed: int = 0) -> ImageDataset:
    """All of DATASET/SPLIT through the domain's transforms, named after the domain."""
    domain = Domain.parse(spec)
    data = _load(domain, split, root, image_size)
    return replace(data, name=str(domain), images=domain.apply(data.images, seed))


def load_pair(a: str, b: str, *, paired: bool, split: str = "train",
              root: str | Path | None = None, image_size: int | None = None,
              seed: int = 0) -> tuple[ImageDataset, ImageDataset]:
    """Training images of domains A and B.

    Paired (pix2pix): the same images through each domain's transforms, row i of A matching
    row i of B, so both must come from one dataset. Unpaired (CycleGAN): when both domains
    come from one dataset, A gets one random half of it and B the other, so no image is ever
    seen in both forms.
    """
    da, db = Domain.parse(a), Domain.parse(b)
    same = da.dataset == db.dataset
    if paired and not same:
        raise GankitError(f"a paired method needs pairs: {a} and {b} come from different "
                          "datasets; use the same dataset with different transforms, or "
                          "--method cyclegan for unpaired data")
    base_a = _load(da, split, root, image_size)
    base_b = base_a if same else _load(db, split, root, image_size)
    if base_a.image_shape != base_b.image_shape:
        if image_size is None:
            raise GankitError(f"{a} has {base_a.image_shape} images but {b} has "
                              f"{base_b.image_shape}; pass --image-size N to resize both")
        channels = max(base_a.image_shape[0], base_b.image_shape[0])
        base_a = replace(base_a, images=match_channels(base_a.images, channels))
        base_b = replace(base_b, images=match_channels(base_b.images, channels))
    if same and not paired:
        order = torch.randperm(len(base_a), generator=torch.Generator().manual_seed(seed))
        half = len(order) // 2
        base_a, base_b = base_a.select(order[:half]), base_b.select(order[half:])
    return (replace(base_a, name=str(da), images=da.apply(base_a.images, seed)),
            replace(base_b, name=str(db), images=db.apply(base_b.images, seed + 1)))
