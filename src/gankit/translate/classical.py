"""Classical lighting corrections, the baselines a learned translator must beat: histogram
equalisation, CLAHE (Zuiderveld 1994, scikit-image's `equalize_adapthist`), and gamma
correction with a gamma estimated per image so that its mean matches the normal domain's."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from skimage import exposure

from gankit.registry import Registry

# (images in [-1, 1], mean brightness of the normal domain on [0, 1]) -> corrected images
Correction = Callable[[torch.Tensor, float], torch.Tensor]
CORRECTIONS: Registry[Correction] = Registry("classical correction")


def _per_image(images: torch.Tensor, fn: Callable[[np.ndarray], np.ndarray]) -> torch.Tensor:
    unit = ((images + 1) / 2).clamp(0, 1).numpy().astype(np.float64)
    out = np.stack([np.stack([fn(channel) for channel in image]) for image in unit])
    return torch.from_numpy(out).float() * 2 - 1


@CORRECTIONS.register("equalize", "global histogram equalisation")
def equalize(images: torch.Tensor, target_mean: float) -> torch.Tensor:
    return _per_image(images, lambda x: exposure.equalize_hist(x, nbins=256))


@CORRECTIONS.register("clahe", "contrast-limited adaptive histogram equalisation")
def clahe(images: torch.Tensor, target_mean: float) -> torch.Tensor:
    return _per_image(images, lambda x: exposure.equalize_adapthist(x, clip_limit=0.03))


@CORRECTIONS.register("gamma", "gamma correction, gamma estimated to match the mean")
def gamma(images: torch.Tensor, target_mean: float) -> torch.Tensor:
    def correct(x: np.ndarray) -> np.ndarray:
        mean = float(np.clip(x.mean(), 1e-4, 1 - 1e-4))
        g = math.log(target_mean) / math.log(mean)  # mean ** g == target_mean
        return np.clip(x, 0, 1) ** g

    return _per_image(images, correct)
