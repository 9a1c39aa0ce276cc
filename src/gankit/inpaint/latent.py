"""Completion by latent search in a trained GAN (Yeh et al. 2017, "Semantic Image Inpainting
with Deep Generative Models"): find z such that G(z) agrees with the known pixels, weighted
toward the hole's border (contextual loss), while D finds G(z) realistic (prior loss); keep
the best of several restarts per image, then paste G(z) into the hole.

Yeh et al. blend with Poisson editing; gankit pastes, so known pixels stay bit-exact and the
seam is left to the border-weighted contextual loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gankit.inpaint.baselines import paste
from gankit.latent_search import check_searchable, search_latents
from gankit.models import Discriminator
from gankit.train.rundir import TrainedGenerator


@dataclass(frozen=True)
class LatentSearch:
    restarts: int = 8
    steps: int = 200
    lr: float = 0.05
    prior_weight: float = 0.003  # lambda of the paper
    window: int = 7  # neighbourhood of the importance weights
    seed: int = 0


def importance_weights(mask: torch.Tensor, window: int) -> torch.Tensor:
    """Known pixels weighted by the share of missing pixels around them; 0 in the hole."""
    around = F.avg_pool2d(mask, window, stride=1, padding=window // 2,
                          count_include_pad=False)
    return around * (1 - mask)


def complete_latent(trained: TrainedGenerator, discriminator: Discriminator,
                    images: torch.Tensor, mask: torch.Tensor,
                    search: LatentSearch = LatentSearch()) -> torch.Tensor:
    G = trained.generator
    check_searchable(G, images, "latent completion")
    device = next(G.parameters()).device
    r = search.restarts
    target = images.to(device).repeat_interleave(r, dim=0)
    weights = importance_weights(mask.to(device).repeat_interleave(r, dim=0), search.window)

    def loss(fake: torch.Tensor) -> torch.Tensor:
        contextual = (weights * (fake - target)).abs().flatten(1).sum(dim=1)
        prior = F.softplus(-discriminator(fake)).flatten()  # -log D(G(z)), the realism term
        return contextual + search.prior_weight * prior

    z = search_latents(G, len(images), loss, restarts=r, steps=search.steps, lr=search.lr,
                       seed=search.seed)
    with torch.no_grad():
        filled = G.draw(z)
    return paste(images, filled.to(images.device), mask)
