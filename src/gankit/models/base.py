"""What every generator and discriminator shares, conditioning included.

Conditioning is done here once for all architectures: the generator concatenates a learned
label embedding to z; the discriminator adds the projection term <embed(y), h> to its logit
(Miyato & Koyama 2018, "cGANs with Projection Discriminator").
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class Generator(nn.Module):
    """Maps z of shape (N, z_dim), plus labels when conditional, to images (N, C, H, W).

    Subclasses build `self.body`, which takes the (N, input_dim) code. Its output is in
    [-1, 1] behind a tanh, and may overshoot behind a linear layer (r3gan): `draw` gives
    images in the data range, `forward` what training differentiates.
    """

    body: nn.Module

    def __init__(self, z_dim: int, image_shape: tuple[int, int, int], num_classes: int = 0) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None

    @property
    def input_dim(self) -> int:
        return self.z_dim * (2 if self.num_classes else 1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if labels is None:
                raise ValueError("this generator is conditional: pass labels")
            z = torch.cat([z, self.embed(labels)], dim=1)
        return self.body(z)

    def draw(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [-1, 1]: the output clamped to the data range."""
        return self(z, labels).clamp(-1, 1)


class Discriminator(nn.Module):
    """Maps images (plus labels when conditional) to one real-vs-fake logit per image, shape (N,).

    Subclasses implement `features(x) -> (N, feature_dim)`; the linear head and the projection
    term are added here. `spectral` wraps the head and embedding in spectral normalisation.
    """

    def __init__(self, feature_dim: int, num_classes: int = 0, spectral: bool = False) -> None:
        super().__init__()
        wrap = spectral_norm if spectral else (lambda m: m)
        self.num_classes = num_classes
        self.head = wrap(nn.Linear(feature_dim, 1))
        self.embed = None
        if num_classes:
            # Same scale as the linear head's default init; nn.Embedding's N(0, 1) would make
            # the projection term ~sqrt(feature_dim) times larger and swamp the loss.
            embed = nn.Embedding(num_classes, feature_dim)
            bound = feature_dim**-0.5
            nn.init.uniform_(embed.weight, -bound, bound)
            self.embed = wrap(embed)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)
        logit = self.head(h).squeeze(1)
        if self.embed is not None:
            if labels is None:
                raise ValueError("this discriminator is conditional: pass labels")
            logit = logit + (self.embed(labels) * h).sum(dim=1)
        return logit
