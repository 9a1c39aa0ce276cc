"""Generators and discriminators by architecture name, conditional or not."""

from __future__ import annotations

from dataclasses import dataclass

from gankit.errors import GankitError
from gankit.models.base import Discriminator, Generator
from gankit.models.dcgan import (
    DCGANDiscriminator,
    DCGANGenerator,
    MinibatchStdDCGANDiscriminator,
    SNDCGANDiscriminator,
)
from gankit.models.mlp import MLPDiscriminator, MLPGenerator
from gankit.models.r3gan import R3GANDiscriminator, R3GANGenerator
from gankit.models.resnet import ResNetDiscriminator, ResNetGenerator
from gankit.registry import Registry


@dataclass(frozen=True)
class Architecture:
    generator: type[Generator]
    discriminator: type[Discriminator]
    default_width: int


MODELS: Registry[Architecture] = Registry("model")
MODELS.add("mlp", Architecture(MLPGenerator, MLPDiscriminator, 128),
           "the original GAN (Goodfellow et al. 2014): two hidden layers of 128, leaky ReLU")
MODELS.add("dcgan", Architecture(DCGANGenerator, DCGANDiscriminator, 64),
           "DCGAN (Radford et al. 2016): strided convolutions with batch norm")
MODELS.add("sndcgan", Architecture(DCGANGenerator, SNDCGANDiscriminator, 64),
           "DCGAN G + spectrally normalised DCGAN D without batch norm (Miyato et al. 2018)")
MODELS.add("dcgan-mbstd", Architecture(DCGANGenerator, MinibatchStdDCGANDiscriminator, 64),
           "DCGAN with a minibatch standard deviation channel in D (Karras et al. 2018)")
MODELS.add("resnet", Architecture(ResNetGenerator, ResNetDiscriminator, 64),
           "ResNet G + spectrally normalised ResNet D (Miyato et al. 2018, SNGAN)")
MODELS.add("r3gan", Architecture(R3GANGenerator, R3GANDiscriminator, 32),
           "R3GAN's modernised ResNet, no normalisation (Huang et al. 2024)")


def build_gan(
    model: str,
    image_shape: tuple[int, int, int],
    *,
    z_dim: int = 100,
    num_classes: int = 0,
    width: int | None = None,
) -> tuple[Generator, Discriminator]:
    """Build a generator/discriminator pair for images of `image_shape` (C, H, W).

    `num_classes > 0` makes both class-conditional; `width` scales the channels (or hidden
    units), defaulting to the architecture's own.
    """
    arch = MODELS.get(model)
    if z_dim < 1 or (width is not None and width < 1) or num_classes < 0:
        raise GankitError("z_dim and width must be positive and num_classes non-negative")
    width = width or arch.default_width
    generator = arch.generator(z_dim, image_shape, num_classes, width)
    discriminator = arch.discriminator(image_shape, num_classes, width)
    return generator, discriminator


__all__ = ["MODELS", "Architecture", "Discriminator", "Generator", "build_gan"]
