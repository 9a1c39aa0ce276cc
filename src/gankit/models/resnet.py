"""ResNet GAN with a spectrally normalised discriminator, after Miyato et al. 2018
("Spectral Normalization for Generative Adversarial Networks", the CIFAR ResNet of their
appendix, itself from Gulrajani et al. 2017). Widths are reduced by default for CPU budgets."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as sn

from gankit.models.base import Discriminator, Generator
from gankit.models.sizes import conv_plan

WIDTH = 64


class _UpBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(channels), nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x, scale_factor=2.0, mode="nearest")
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return up + h


class _DownBlock(nn.Module):
    """Pre-activation residual block; the first block skips the leading ReLU (raw pixels)."""

    def __init__(self, c_in: int, c_out: int, first: bool, down: bool) -> None:
        super().__init__()
        self.first, self.down = first, down
        self.conv1 = sn(nn.Conv2d(c_in, c_out, 3, 1, 1))
        self.conv2 = sn(nn.Conv2d(c_out, c_out, 3, 1, 1))
        self.skip = sn(nn.Conv2d(c_in, c_out, 1)) if (c_in != c_out or down) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        s = x
        if self.down:
            h = F.avg_pool2d(h, 2)
            s = F.avg_pool2d(self.skip(x), 2) if self.first else self.skip(F.avg_pool2d(x, 2))
        elif self.skip is not None:
            s = self.skip(x)
        return s + h


class ResNetGenerator(Generator):
    def __init__(self, z_dim: int, image_shape: tuple[int, int, int], num_classes: int = 0,
                 width: int = WIDTH) -> None:
        super().__init__(z_dim, image_shape, num_classes)
        base, n = conv_plan(image_shape, "resnet")
        self.body = nn.Sequential(
            nn.Linear(self.input_dim, width * base * base),
            nn.Unflatten(1, (width, base, base)),
            *[_UpBlock(width) for _ in range(n)],
            nn.BatchNorm2d(width), nn.ReLU(True),
            nn.Conv2d(width, image_shape[0], 3, 1, 1), nn.Tanh(),
        )


class ResNetDiscriminator(Discriminator):
    """n downsampling blocks, one more at the base resolution, ReLU, global sum pooling."""

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int = 0,
                 width: int = WIDTH) -> None:
        super().__init__(width, num_classes, spectral=True)
        _, n = conv_plan(image_shape, "resnet")
        blocks = [_DownBlock(image_shape[0], width, first=True, down=True)]
        blocks += [_DownBlock(width, width, first=False, down=True) for _ in range(n - 1)]
        blocks.append(_DownBlock(width, width, first=False, down=False))
        self.blocks = nn.Sequential(*blocks)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.blocks(x)).sum(dim=(2, 3))
