"""The original GAN's networks (Goodfellow et al. 2014, "Generative Adversarial Nets"), as
specified for gankit: z of 100 dims, two hidden layers of 128 units with leaky ReLU, one tanh
output per pixel; the discriminator mirrors it with a single logit."""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.models.base import Discriminator, Generator

HIDDEN = 128


class MLPGenerator(Generator):
    def __init__(self, z_dim: int, image_shape: tuple[int, int, int], num_classes: int = 0,
                 width: int = HIDDEN) -> None:
        super().__init__(z_dim, image_shape, num_classes)
        self.body = nn.Sequential(
            nn.Linear(self.input_dim, width), nn.LeakyReLU(0.2),
            nn.Linear(width, width), nn.LeakyReLU(0.2),
            nn.Linear(width, math.prod(image_shape)), nn.Tanh(),
            nn.Unflatten(1, tuple(image_shape)),
        )


class MLPDiscriminator(Discriminator):
    def __init__(self, image_shape: tuple[int, int, int], num_classes: int = 0,
                 width: int = HIDDEN) -> None:
        super().__init__(width, num_classes)
        self.body = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(image_shape), width), nn.LeakyReLU(0.2),
            nn.Linear(width, width), nn.LeakyReLU(0.2),
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
