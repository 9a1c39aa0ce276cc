"""Drawing images from a trained generator: grids, fixed classes, latent interpolations."""

from __future__ import annotations

import torch

from gankit.data import class_index, to_uint8
from gankit.device import seeded_generator
from gankit.errors import GankitError
from gankit.models import Generator
from gankit.train.rundir import TrainedGenerator


def resolve_class(trained: TrainedGenerator, name_or_index: str) -> int:
    """A class given by index or by (case-insensitive) name."""
    if not trained.config.conditional:
        raise GankitError("this run was trained unconditionally; --class needs a run trained "
                          "with --conditional")
    return class_index(name_or_index, trained.classes)


@torch.no_grad()
def sample(generator: Generator, n: int, *, labels: torch.Tensor | None = None,
           seed: int = 0) -> torch.Tensor:
    """n images in [-1, 1]; a conditional generator cycles through its classes unless given
    `labels`."""
    device = next(generator.parameters()).device
    z = torch.randn(n, generator.z_dim, generator=seeded_generator(seed, device), device=device)
    return generator.draw(z, _labels(generator, n, labels, device))


@torch.no_grad()
def interpolate(generator: Generator, rows: int, steps: int, *,
                labels: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
    """`rows` spherical interpolations of `steps` images each between random latent pairs;
    returns (rows * steps, C, H, W), row-major."""
    if steps < 2:
        raise GankitError(f"--interpolate needs at least 2 steps, got {steps}")
    device = next(generator.parameters()).device
    gen = seeded_generator(seed, device)
    ends = torch.randn(2, rows, generator.z_dim, generator=gen, device=device)
    t = torch.linspace(0, 1, steps, device=device)
    z = slerp(ends[0], ends[1], t).reshape(rows * steps, generator.z_dim)
    row_labels = _labels(generator, rows, labels, device)
    flat = row_labels.repeat_interleave(steps) if row_labels is not None else None
    return generator.draw(z, flat)


def _labels(generator: Generator, n: int, labels: torch.Tensor | None,
            device: torch.device) -> torch.Tensor | None:
    if not generator.num_classes:
        return None
    if labels is None:
        return torch.arange(n, device=device) % generator.num_classes
    return labels.to(device).expand(n) if labels.ndim == 0 else labels.to(device)


@torch.no_grad()
def generate(generator: Generator, n: int, *, seed: int = 0,
             batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n images as uint8 NCHW on the CPU (quantised exactly as saved PNGs are), in batches;
    a conditional generator cycles through its classes and the labels come back too."""
    images, labels = [], []
    k = generator.num_classes
    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        batch_labels = (torch.arange(start, start + count) % k) if k else None
        images.append(to_uint8(sample(generator, count, labels=batch_labels,
                                      seed=seed * 100_003 + start)).cpu())
        if batch_labels is not None:
            labels.append(batch_labels)
    return torch.cat(images), (torch.cat(labels) if labels else None)


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latents (White 2016, "Sampling Generative Networks").

    z0, z1: (N, D); t: (T,) in [0, 1]. Returns (N, T, D).
    """
    a, b = z0.unsqueeze(1), z1.unsqueeze(1)
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1).clamp(-1 + 1e-7, 1 - 1e-7)
    omega = torch.acos(cos).unsqueeze(-1)
    t = t.view(1, -1, 1)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)
