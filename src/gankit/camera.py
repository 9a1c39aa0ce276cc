"""A camera's degradations of images on the [0, 1] scale, each parameter a float or one value
per image: Gaussian blur, an exposure (gain and gamma) and sensor noise."""

from __future__ import annotations

import torch
import torch.nn.functional as F

Parameter = float | torch.Tensor  # a tensor: one value per image


def _per_image(value: Parameter, x: torch.Tensor) -> Parameter:
    return value.view(-1, *[1] * (x.dim() - 1)) if isinstance(value, torch.Tensor) else value


def blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Each image through its own 7x7 Gaussian of standard deviation sigma[i] (pixels)."""
    n, c, h, w = x.shape
    offsets = torch.arange(-3, 4, dtype=x.dtype)
    taps = torch.exp(-offsets[None] ** 2 / (2 * sigma[:, None] ** 2))
    taps = taps / taps.sum(dim=1, keepdim=True)
    kernels = (taps[:, :, None] * taps[:, None, :]).repeat_interleave(c, dim=0)[:, None]
    padded = F.pad(x.reshape(1, n * c, h, w), (3, 3, 3, 3), mode="replicate")
    return F.conv2d(padded, kernels, groups=n * c).reshape(n, c, h, w)


def expose(x: torch.Tensor, gain: Parameter, gamma: Parameter) -> torch.Tensor:
    """A gamma curve then a gain: gamma > 1 darkens mid-tones more than highlights."""
    return _per_image(gain, x) * x.clamp(min=0) ** _per_image(gamma, x)


def sensor_noise(x: torch.Tensor, photons: Parameter, read: Parameter,
                 generator: torch.Generator) -> torch.Tensor:
    """Photon shot noise (Poisson, as a Gaussian of variance value / photons at full scale)
    plus read noise of standard deviation `read`; not clipped."""
    shot = torch.randn(x.shape, generator=generator) * (x.clamp(min=0)
                                                        / _per_image(photons, x)).sqrt()
    return x + shot + torch.randn(x.shape, generator=generator) * _per_image(read, x)
