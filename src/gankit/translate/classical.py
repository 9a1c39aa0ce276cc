"""Classical image corrections, the test-time baselines a learned translator must beat.

A correction is a chain of steps written STEP[+STEP...], applied left to right, e.g.
`nlmeans+gamma` (denoise, then brighten: brightening first would amplify the sensor noise).
`none` leaves the images alone and is a baseline too: a correction that scores below it is
broken for that domain. The steps, all from scikit-image, each image on its own:

- brighten: `gamma` (gamma estimated per image so that its mean matches the normal domain's),
  `equalize` (global histogram equalisation), `clahe` (contrast-limited adaptive histogram
  equalisation, Zuiderveld 1994);
- denoise, with the noise level estimated per image (Donoho & Johnstone 1994, skimage's
  `estimate_sigma`) so that nothing is tuned on test images: `nlmeans` (non-local means,
  Buades et al. 2005, h = 0.8 sigma, scikit-image's suggestion), `tv` (total-variation
  denoising, Chambolle 2004, weight 0.5 sigma), `bilateral` (Tomasi & Manduchi 1998, colour
  sigma = sigma); the last two factors are the best of {0.25, 0.5, 1, 2, 4} at removing
  Gaussian noise from Fashion-MNIST *training* images (docs/benchmarks.md);
- sharpen: `unsharp` (unsharp masking, radius 1 pixel, amount 1), the blind answer to blur.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from gankit.errors import GankitError
from gankit.registry import Registry

# (one channel on [0, 1] as float64, mean brightness of the normal domain on [0, 1]) -> same
Step = Callable[[np.ndarray, float], np.ndarray]
CORRECTIONS: Registry[Step] = Registry("correction step")
NONE = "none"


def _sigma(x: np.ndarray) -> float:
    from skimage.restoration import estimate_sigma

    return max(float(estimate_sigma(x)), 1e-3)


@CORRECTIONS.register("equalize", "global histogram equalisation")
def equalize(x: np.ndarray, target_mean: float) -> np.ndarray:
    from skimage import exposure

    return exposure.equalize_hist(x, nbins=256)


@CORRECTIONS.register("clahe", "contrast-limited adaptive histogram equalisation")
def clahe(x: np.ndarray, target_mean: float) -> np.ndarray:
    from skimage import exposure

    return exposure.equalize_adapthist(x, clip_limit=0.03)


@CORRECTIONS.register("gamma", "gamma correction, gamma estimated to match the mean")
def gamma(x: np.ndarray, target_mean: float) -> np.ndarray:
    mean = float(np.clip(x.mean(), 1e-4, 1 - 1e-4))
    return np.clip(x, 0, 1) ** (math.log(target_mean) / math.log(mean))  # mean -> target


@CORRECTIONS.register("nlmeans", "non-local means denoising, noise level estimated")
def nlmeans(x: np.ndarray, target_mean: float) -> np.ndarray:
    from skimage.restoration import denoise_nl_means

    sigma = _sigma(x)
    return denoise_nl_means(x, h=0.8 * sigma, sigma=sigma, patch_size=3, patch_distance=5,
                            fast_mode=True)


@CORRECTIONS.register("tv", "total-variation denoising, weight from the noise level")
def tv(x: np.ndarray, target_mean: float) -> np.ndarray:
    from skimage.restoration import denoise_tv_chambolle

    return denoise_tv_chambolle(x, weight=0.5 * _sigma(x))


@CORRECTIONS.register("bilateral", "bilateral filter, colour sigma from the noise level")
def bilateral(x: np.ndarray, target_mean: float) -> np.ndarray:
    from skimage.restoration import denoise_bilateral

    return denoise_bilateral(x, sigma_color=_sigma(x), sigma_spatial=1.0)


@CORRECTIONS.register("unsharp", "unsharp masking, radius 1 pixel, amount 1")
def unsharp(x: np.ndarray, target_mean: float) -> np.ndarray:
    from skimage.filters import unsharp_mask

    return unsharp_mask(x, radius=1.0, amount=1.0)


def parse_correction(spec: str) -> tuple[str, ...]:
    """The steps of STEP[+STEP...] (empty for `none`); an unknown step lists the choices."""
    if spec == NONE:
        return ()
    steps = tuple(spec.split("+"))
    if not all(steps):
        raise GankitError(f"correction {spec!r} has an empty step; write STEP[+STEP...] or "
                          f"{NONE}")
    for step in steps:
        CORRECTIONS.get(step)
    return steps


def correct(spec: str, images: torch.Tensor, target_mean: float) -> torch.Tensor:
    """Images in [-1, 1] through the correction `spec`, channel by channel, clipped."""
    steps = [CORRECTIONS.get(s) for s in parse_correction(spec)]
    if not steps:
        return images.clone()
    unit = ((images + 1) / 2).clamp(0, 1).numpy().astype(np.float64)

    def chain(x: np.ndarray) -> np.ndarray:
        for step in steps:
            x = np.clip(step(x, target_mean), 0, 1)
        return x

    out = np.stack([np.stack([chain(channel) for channel in image]) for image in unit])
    return torch.from_numpy(out).float() * 2 - 1
