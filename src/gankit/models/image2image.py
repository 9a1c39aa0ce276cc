"""Image-to-image networks shared by completion, translation and AdvGAN.

- `UNet`: two down/up levels with skip connections (Ronneberger et al. 2015), as pix2pix's
  generator (Isola et al. 2017) and the completion model use it.
- `ResNetTranslator`: encoder, residual blocks, decoder with instance norm — CycleGAN's
  generator (Zhu et al. 2017, after Johnson et al. 2016), which AdvGAN also uses (Xiao et al.
  2018); scaled down for small images.
- `PatchDiscriminator`: spectrally normalised strided convolutions to a grid of logits, one per
  overlapping patch (pix2pix's PatchGAN).

All take any image side; sides that are not multiples of 4 are padded on the way in and
cropped on the way out. Outputs pass through tanh, i.e. lie in (-1, 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _pad4(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    return F.pad(x, (0, -w % 4, 0, -h % 4), mode="replicate")


def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                         nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """(N, in_channels, H, W) -> (N, out_channels, H, W) in (-1, 1)."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 32) -> None:
        super().__init__()
        self.width = width
        self.enc1 = _double_conv(in_channels, width)
        self.enc2 = _double_conv(width, 2 * width)
        self.mid = _double_conv(2 * width, 4 * width)
        self.up2 = nn.ConvTranspose2d(4 * width, 2 * width, 2, stride=2)
        self.dec2 = _double_conv(4 * width, 2 * width)
        self.up1 = nn.ConvTranspose2d(2 * width, width, 2, stride=2)
        self.dec1 = _double_conv(2 * width, width)
        self.out = nn.Conv2d(width, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        e1 = self.enc1(_pad4(x))
        e2 = self.enc2(F.max_pool2d(e1, 2))
        m = self.mid(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        return torch.tanh(self.out(d1))[..., :h, :w]


def _conv_norm_relu(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
            nn.InstanceNorm2d(c_out, affine=True), nn.ReLU(inplace=True)]


class _Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*_conv_norm_relu(channels, channels, 1),
                                  nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
                                  nn.InstanceNorm2d(channels, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNetTranslator(nn.Module):
    """(N, C, H, W) -> (N, C, H, W) in (-1, 1): two stride-2 convolutions down, `blocks`
    residual blocks, two transposed convolutions up."""

    def __init__(self, channels: int, width: int = 16, blocks: int = 4) -> None:
        super().__init__()
        self.width, self.blocks = width, blocks
        self.body = nn.Sequential(
            *_conv_norm_relu(channels, width, 1), *_conv_norm_relu(width, 2 * width, 2),
            *_conv_norm_relu(2 * width, 4 * width, 2),
            *[_Residual(4 * width) for _ in range(blocks)],
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False),
            nn.InstanceNorm2d(2 * width, affine=True), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),
            nn.InstanceNorm2d(width, affine=True), nn.ReLU(inplace=True),
            nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        return self.body(_pad4(x))[..., :h, :w]


class PatchDiscriminator(nn.Module):
    """(N, in_channels, H, W) -> (N, 1, H/4, W/4) logits, one per overlapping patch."""

    def __init__(self, in_channels: int, width: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(
            spectral_norm(nn.Conv2d(in_channels, width, 4, 2, 1)), nn.LeakyReLU(0.2, True),
            spectral_norm(nn.Conv2d(width, 2 * width, 4, 2, 1)), nn.LeakyReLU(0.2, True),
            spectral_norm(nn.Conv2d(2 * width, 1, 3, 1, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
