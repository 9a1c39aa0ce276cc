"""Searching a generator's latent space for the image that best explains an input: the engine
of latent-search inpainting (Yeh et al. 2017) and of Defense-GAN's projection (Samangouei et
al. 2018). Several random restarts per input run side by side in one batch; the best is kept.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from gankit.errors import GankitError
from gankit.models import Generator
from gankit.train.speed import Frozen


def check_searchable(generator: Generator, images: torch.Tensor, purpose: str) -> None:
    """A latent search needs an unconditional generator that draws images of this shape."""
    if generator.num_classes:
        raise GankitError(f"{purpose} needs an unconditional GAN; this run was trained with "
                          "--conditional")
    if tuple(images.shape[1:]) != tuple(generator.image_shape):
        raise GankitError(f"the GAN draws {tuple(generator.image_shape)} images but these are "
                          f"{tuple(images.shape[1:])}")


def search_latents(generator: Generator, n: int, loss: Callable[[torch.Tensor], torch.Tensor],
                   *, restarts: int, steps: int, lr: float, seed: int) -> torch.Tensor:
    """The latent (n, z_dim) that minimises `loss` for each of n inputs.

    `loss(images)` gets G(z) for n * restarts latents, input i's restarts in rows
    i*restarts ... i*restarts + restarts - 1, and returns one loss per row. Adam on z; the
    generator's weights are left untouched (no gradients are kept for them).
    """
    device = next(generator.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    z = torch.randn(n * restarts, generator.z_dim, generator=gen, device=device)
    z.requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    fixed = Frozen(generator)
    with torch.enable_grad():  # callers may sit inside no_grad (e.g. a classifier's eval)
        for _ in range(steps):
            total = loss(fixed(z)).sum()
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
    with torch.no_grad():
        final = loss(generator(z)).view(n, restarts)
    best = final.argmin(dim=1) + torch.arange(n, device=device) * restarts
    return z.detach()[best]
