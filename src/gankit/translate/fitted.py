"""A camera model fitted to unlabelled images of a degraded domain: the non-GAN path with the
information a CycleGAN has.

A CycleGAN trained from clean images to unlabelled degraded ones learns the degradation from
those images. The classical way to use the same images is to fit a parametric degradation
(blur, exposure, Poisson-Gaussian sensor noise as in Foi et al. 2008, "Practical
Poissonian-Gaussian noise modeling and fitting for single-image raw-data") by the method of
simulated moments (McFadden 1989): choose the parameters for which clean images put through
the model have the statistics of the degraded ones — here the quantiles of the pixel values,
of the horizontal and vertical differences and of the high-pass residual. A recogniser then
trains on the clean images plus fitted-degraded copies, as it would with CycleGAN copies.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from gankit import camera

# The search box, per parameter: (low, high, log-scale).
RANGES = {"blur": (0.05, 2.5, False), "gain": (0.05, 1.0, False), "gamma": (0.3, 3.0, True),
          "photons": (10.0, 1e5, True), "read": (0.0, 0.1, False)}
QUANTILES = torch.linspace(0.02, 0.98, 25)


@dataclass(frozen=True)
class CameraModel:
    """Blur of `blur` pixels, then exposure (gain, gamma), then sensor noise (`photons` at full
    scale, read noise of std `read`), on the [0, 1] scale; images in and out are in [-1, 1]."""

    blur: float
    gain: float
    gamma: float
    photons: float
    read: float

    def apply(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = (images.float() + 1) / 2
        x = camera.blur(x, torch.full((len(x),), self.blur))
        x = camera.sensor_noise(camera.expose(x, self.gain, self.gamma), self.photons,
                                self.read, generator)
        return x.clamp(0, 1) * 2 - 1

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def statistics(images: torch.Tensor) -> list[torch.Tensor]:
    """Quantiles of what a degradation changes: pixel values (exposure), differences between
    neighbours (blur), the residual after a 3x3 mean (noise)."""
    x = images.float()
    smooth = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    parts = (x, x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :], x - smooth)
    return [torch.quantile(p.flatten()[:4_000_000], QUANTILES) for p in parts]


def _distance(got: list[torch.Tensor], want: list[torch.Tensor]) -> float:
    """Mean absolute quantile gap per statistic, each in units of the target's spread."""
    return sum(float((g - w).abs().mean() / (w[-1] - w[0]).clamp(min=1e-3))
               for g, w in zip(got, want, strict=True))


def _model(u: torch.Tensor) -> CameraModel:
    """The camera model at point `u` of the unit cube."""
    values = {}
    for (name, (low, high, log)), t in zip(RANGES.items(), u.tolist(), strict=True):
        values[name] = (math.exp(math.log(low) + t * (math.log(high) - math.log(low))) if log
                        else low + t * (high - low))
    return CameraModel(**values)


def fit_camera(clean: torch.Tensor, degraded: torch.Tensor, *, n: int = 1024,
               candidates: int = 256, rounds: int = 4, seed: int = 0
               ) -> tuple[CameraModel, float]:
    """The camera model whose output on `clean` images best matches the statistics of the
    unlabelled `degraded` images, and its distance: random search over RANGES, then `rounds`
    of local search around the best point with a halving radius. Every candidate sees the same
    images and the same noise draws, so candidates differ only by their parameters."""
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(clean), generator=gen)[:n]
    source = clean[pick]
    want = statistics(degraded[torch.randperm(len(degraded), generator=gen)[:n]])
    noise_seed = int(torch.randint(0, 2**62, (1,), generator=gen))

    def cost(u: torch.Tensor) -> float:
        out = _model(u).apply(source, torch.Generator().manual_seed(noise_seed))
        return _distance(statistics(out), want)

    points = torch.rand(candidates, len(RANGES), generator=gen)
    scored = sorted(((cost(u), u) for u in points), key=lambda s: s[0])
    best_cost, best = scored[0]
    radius = 0.15
    for _ in range(rounds):
        for u in (best + radius * (2 * torch.rand(candidates // 4, len(RANGES), generator=gen)
                                   - 1)).clamp(0, 1):
            c = cost(u)
            if c < best_cost:
                best_cost, best = c, u
        radius /= 2
    return _model(best), best_cost


def fitted_copies(clean: torch.Tensor, degraded: torch.Tensor, *, seed: int = 0
                  ) -> tuple[torch.Tensor, CameraModel]:
    """`clean` put through the camera model fitted to `degraded` (fresh noise for every
    image), and the model."""
    model, _ = fit_camera(clean, degraded, seed=seed)
    return model.apply(clean, torch.Generator().manual_seed(seed + 1)), model
