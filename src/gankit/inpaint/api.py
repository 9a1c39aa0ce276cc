"""`gankit inpaint`: complete images with a named method and write what a person looks at."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from gankit.data import load_images
from gankit.errors import GankitError
from gankit.imaging import save_grid
from gankit.inpaint.baselines import biharmonic, mean_fill, telea
from gankit.inpaint.cgan import complete_cgan, load_completion
from gankit.inpaint.latent import LatentSearch, complete_latent
from gankit.inpaint.masks import make_masks
from gankit.registry import Registry
from gankit.runs import require_kind
from gankit.train.rundir import load_gan, load_generator

# A method completes (images, mask) using the model in a run directory (baselines ignore it).
Method = Callable[[Path, torch.Tensor, torch.Tensor, str], torch.Tensor]
METHODS: Registry[Method] = Registry("inpainting method")


@METHODS.register("latent", "search a GAN's latent space for the best fit (Yeh et al. 2017)")
def _latent(run: Path, images: torch.Tensor, mask: torch.Tensor, device: str) -> torch.Tensor:
    if require_kind(run, "gan", "completion") == "completion":
        raise GankitError(f"{run} is a completion run: use it with --method cgan (--method "
                          "latent searches the latent space of a GAN run)")
    trained, discriminator = load_gan(run, device=device)
    return complete_latent(trained, discriminator, images, mask, LatentSearch())


@METHODS.register("cgan", "a completion GAN trained for the task (gankit inpaint train)")
def _cgan(run: Path, images: torch.Tensor, mask: torch.Tensor, device: str) -> torch.Tensor:
    return complete_cgan(load_completion(run, device), images, mask)


@METHODS.register("mean", "baseline: the mean of the known pixels")
def _mean(run: Path, images: torch.Tensor, mask: torch.Tensor, device: str) -> torch.Tensor:
    return mean_fill(images, mask)


@METHODS.register("biharmonic", "baseline: scikit-image's biharmonic inpainting")
def _biharmonic(run: Path, images: torch.Tensor, mask: torch.Tensor,
                device: str) -> torch.Tensor:
    return biharmonic(images, mask)


@METHODS.register("telea", "baseline: OpenCV's Telea inpainting (needs OpenCV)")
def _telea(run: Path, images: torch.Tensor, mask: torch.Tensor, device: str) -> torch.Tensor:
    return telea(images, mask)


def run_image_shape(run_dir: str | Path) -> tuple[int, int, int]:
    """The image shape a GAN run or a completion run works on."""
    if require_kind(run_dir, "gan", "completion") == "completion":
        return tuple(load_completion(run_dir, "cpu").image_shape)
    return tuple(load_generator(run_dir, device="cpu").generator.image_shape)


@dataclass(frozen=True)
class Completion:
    masked: torch.Tensor  # the input with its hole shown grey
    completed: torch.Tensor
    original: torch.Tensor  # the uncut images (known here because gankit cut the holes)
    grid: Path


def inpaint(run_dir: str | Path, images: str, mask: str, out: str | Path, *,
            method: str = "latent", n: int = 16, seed: int = 0,
            device: str = "auto") -> Completion:
    """Cut `mask` holes into the first `n` of `images` and complete them with `method`;
    writes OUT/grid.png (rows: masked, completed, original) and OUT/completed_*.png."""
    complete = METHODS.get(method)
    shape = run_image_shape(run_dir)
    data = load_images(images, shape, n=n)
    holes = make_masks(mask, len(data), shape[1], shape[2], seed=seed)
    masked = torch.where(holes.expand_as(data.images).bool(), 0.0, data.images)
    completed = complete(Path(run_dir), masked, holes, device).cpu()
    out = Path(out)
    for i, image in enumerate(completed):
        save_grid(image[None], out / f"completed_{i:04d}.png")
    grid = save_grid(torch.cat([masked, completed, data.images]), out / "grid.png",
                     nrow=len(data), scale=2)
    return Completion(masked, completed, data.images, grid)
