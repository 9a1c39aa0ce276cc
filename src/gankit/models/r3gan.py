"""The modernised ResNet of R3GAN (Huang et al. 2024, "The GAN is dead; long live the GAN! A
Modern GAN Baseline", section 3, config E), scaled to gankit's small images.

As in the paper: no normalisation layers; every residual block is an inverted bottleneck
(1x1 conv expanding the channels, a grouped 3x3 conv, a 1x1 conv back) with leaky ReLU; the
transition between resolutions is bilinear resampling with a 1x1 conv; fix-up initialisation
(Zhang et al. 2019): each block's last conv starts at zero and the others are scaled by
L^(-1/4) for L blocks, so that the residual stack starts as the identity. G begins from a
learned base-resolution basis that a linear layer in z modulates; D ends in a depthwise conv
over the whole base resolution. G's last layer is a linear 1x1 conv, as in the paper's code
(and StyleGAN2's), not a tanh: without normalisation layers nothing keeps a tanh out of
saturation, where it passes G no gradient (docs/benchmarks.md, mode coverage); `draw`
clamps samples to [-1, 1]. Scaled down: one stage per resolution (7 -> 14 -> 28 or
4 -> 8 -> 16 -> 32) at `width` channels each, instead of the paper's widening stages.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gankit.models.base import Discriminator, Generator
from gankit.models.sizes import conv_plan

WIDTH = 32
EXPANSION = 2  # the bottleneck's channels over the block's
GROUP_SIZE = 16  # channels per group of the grouped 3x3 conv (the paper's cardinality)
BLOCKS_PER_STAGE = 1
SLOPE = 0.2  # leaky ReLU


class _Block(nn.Module):
    """x + conv1x1(act(grouped conv3x3(act(conv1x1(x))))), fix-up initialised."""

    def __init__(self, channels: int, total_blocks: int) -> None:
        super().__init__()
        hidden = channels * EXPANSION
        self.expand = nn.Conv2d(channels, hidden, 1)
        self.grouped = nn.Conv2d(hidden, hidden, 3, padding=1,
                                 groups=max(1, hidden // GROUP_SIZE))
        self.reduce = nn.Conv2d(hidden, channels, 1, bias=False)
        scale = total_blocks ** -0.25  # L^(-1/(2m-2)) with m = 3 layers per branch
        for conv in (self.expand, self.grouped):
            nn.init.kaiming_normal_(conv.weight, a=SLOPE, nonlinearity="leaky_relu")
            conv.weight.data.mul_(scale)
            nn.init.zeros_(conv.bias)
        nn.init.zeros_(self.reduce.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.expand(x), SLOPE)
        h = F.leaky_relu(self.grouped(h), SLOPE)
        return x + self.reduce(h)


class _Resample(nn.Module):
    """Bilinear resampling by `factor` followed by a 1x1 conv (the transition layer)."""

    def __init__(self, channels: int, factor: float) -> None:
        super().__init__()
        self.factor = factor
        self.mix = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.factor < 1:  # downsample: mix, then resample, as the paper's D transition
            return F.interpolate(self.mix(x), scale_factor=self.factor, mode="bilinear",
                                 align_corners=False)
        return self.mix(F.interpolate(x, scale_factor=self.factor, mode="bilinear",
                                      align_corners=False))


class _Basis(nn.Module):
    """A learned (width, base, base) basis, each channel scaled by the code's linear map."""

    def __init__(self, input_dim: int, width: int, base: int) -> None:
        super().__init__()
        self.basis = nn.Parameter(torch.randn(width, base, base))
        self.modulate = nn.Linear(input_dim, width)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.modulate(code)[:, :, None, None] * self.basis


def _stages(width: int, n: int, factor: float) -> list[nn.Module]:
    total = (n + 1) * BLOCKS_PER_STAGE
    layers: list[nn.Module] = []
    for stage in range(n + 1):
        layers += [_Block(width, total) for _ in range(BLOCKS_PER_STAGE)]
        if stage < n:
            layers.append(_Resample(width, factor))
    return layers


class R3GANGenerator(Generator):
    def __init__(self, z_dim: int, image_shape: tuple[int, int, int], num_classes: int = 0,
                 width: int = WIDTH) -> None:
        super().__init__(z_dim, image_shape, num_classes)
        base, n = conv_plan(image_shape, "r3gan")
        self.body = nn.Sequential(
            _Basis(self.input_dim, width, base), *_stages(width, n, 2.0),
            nn.LeakyReLU(SLOPE), nn.Conv2d(width, image_shape[0], 1))

    def code_weight(self) -> torch.Tensor:
        """The linear map from the code to the first activations, as (outputs, input_dim) rows
        up to a rotation: channel c's row of the modulation, times the norm of its basis
        (what gankit explore's SeFa decomposes)."""
        basis = self.body[0]
        return basis.modulate.weight * basis.basis.flatten(1).norm(dim=1)[:, None]


class R3GANDiscriminator(Discriminator):
    def __init__(self, image_shape: tuple[int, int, int], num_classes: int = 0,
                 width: int = WIDTH) -> None:
        super().__init__(width, num_classes)
        base, n = conv_plan(image_shape, "r3gan")
        self.blocks = nn.Sequential(
            nn.Conv2d(image_shape[0], width, 1), *_stages(width, n, 0.5), nn.LeakyReLU(SLOPE),
            nn.Conv2d(width, width, base, groups=width))  # depthwise over the base resolution

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x).flatten(1)
