"""DCGAN (Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks"): strided (transposed) 4x4 convolutions,
batch norm, ReLU in G and leaky ReLU (0.2) in D, tanh output, N(0, 0.02) initialisation."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from gankit.models.base import Discriminator, Generator
from gankit.models.sizes import conv_plan

WIDTH = 64


def _init_weights(module: nn.Module) -> None:
    for m in module.modules():
        if parametrize.is_parametrized(m):
            continue  # spectrally normalised: the normalisation sets the scale, not the init
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(Generator):
    """Project z to base x base x (width * 2^n), then n transposed convolutions that double the
    resolution and halve the channels, the last one to the image channels."""

    def __init__(self, z_dim: int, image_shape: tuple[int, int, int], num_classes: int = 0,
                 width: int = WIDTH) -> None:
        super().__init__(z_dim, image_shape, num_classes)
        base, n = conv_plan(image_shape, "dcgan")
        channels = [width * 2 ** (n - i) for i in range(n)] + [image_shape[0]]
        layers: list[nn.Module] = [
            nn.Linear(self.input_dim, channels[0] * base * base, bias=False),
            nn.Unflatten(1, (channels[0], base, base)),
            nn.BatchNorm2d(channels[0]), nn.ReLU(True),
        ]
        for i in range(n):
            last = i == n - 1
            layers.append(nn.ConvTranspose2d(channels[i], channels[i + 1], 4, 2, 1, bias=last))
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(channels[i + 1]), nn.ReLU(True)]
        self.body = nn.Sequential(*layers)
        _init_weights(self)


class DCGANDiscriminator(Discriminator):
    """n strided convolutions that halve the resolution and double the channels (no batch norm
    on the first, as in the paper), then a linear logit on the flattened features."""

    spectral = False
    extra_channels = 0  # maps a subclass appends to the last convolution's before the head

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int = 0,
                 width: int = WIDTH) -> None:
        base, n = conv_plan(image_shape, "dcgan")
        channels = [image_shape[0]] + [width * 2**i for i in range(n)]
        super().__init__((channels[-1] + self.extra_channels) * base * base, num_classes,
                         spectral=self.spectral)
        layers: list[nn.Module] = []
        for i in range(n):
            conv = nn.Conv2d(channels[i], channels[i + 1], 4, 2, 1,
                             bias=i == 0 or self.spectral)
            layers.append(spectral_norm(conv) if self.spectral else conv)
            if i > 0 and not self.spectral:
                layers.append(nn.BatchNorm2d(channels[i + 1]))
            layers.append(nn.LeakyReLU(0.2, True))
        self.body = nn.Sequential(*layers)
        _init_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)


class SNDCGANDiscriminator(DCGANDiscriminator):
    """The DCGAN discriminator with every layer spectrally normalised and no batch norm, as
    Miyato et al. 2018 ("Spectral Normalization for Generative Adversarial Networks") train
    their standard CNN: each layer is 1-Lipschitz, so D cannot sharpen without bound."""

    spectral = True


class MinibatchStdDCGANDiscriminator(DCGANDiscriminator):
    """The DCGAN discriminator with a minibatch standard deviation channel before its head, as
    Karras et al. 2018 ("Progressive Growing of GANs for Improved Quality, Stability, and
    Variation") add it: the features' spread over groups of four images, averaged to one number
    per group and appended as a constant map, so D can tell a batch that lacks variety from a
    real one, and G is pushed towards varied samples."""

    extra_channels = 1
    group = 4

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        n, c, height, width = h.shape
        group = self.group if n % self.group == 0 else n
        # image i sits in group i % (n // group): strided groups, so no group is one class run
        grouped = h.float().reshape(group, n // group, c, height, width)
        spread = (grouped.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))
        channel = spread.repeat(group).to(h.dtype).reshape(n, 1, 1, 1)
        return torch.cat([h, channel.expand(n, 1, height, width)], dim=1).flatten(1)
