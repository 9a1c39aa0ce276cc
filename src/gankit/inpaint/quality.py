"""How well a completion restores the original: PSNR, SSIM and L1, over the hole and over the
whole image. Images in [-1, 1] are measured on the [0, 1] scale (data range 1)."""

from __future__ import annotations

import numpy as np
import torch


def psnr(completed: torch.Tensor, original: torch.Tensor, region: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB over the pixels where `region` is 1, all images pooled
    (10 log10(1 / MSE) on the [0, 1] scale)."""
    region = region.expand_as(original).bool()
    mse = (((completed - original) / 2)[region] ** 2).mean().clamp(min=1e-12)
    return float(-10 * torch.log10(mse))


def l1(completed: torch.Tensor, original: torch.Tensor, region: torch.Tensor) -> float:
    """Mean absolute error on the [0, 1] scale over the pixels where `region` is 1."""
    region = region.expand_as(original).bool()
    return float(((completed - original) / 2)[region].abs().mean())


def ssim(completed: torch.Tensor, original: torch.Tensor,
         region: torch.Tensor) -> float:
    """Mean SSIM (Wang et al. 2004; scikit-image, 7x7 windows) over the pixels where `region`
    is 1: each image's SSIM map is averaged over its region, then over images."""
    from skimage.metrics import structural_similarity

    scores = []
    for a, b, r in zip(completed.cpu().numpy(), original.cpu().numpy(),
                       region.expand_as(original).cpu().numpy(), strict=True):
        _, ssim_map = structural_similarity((a + 1) / 2, (b + 1) / 2, data_range=1.0,
                                            channel_axis=0, full=True)
        scores.append(ssim_map[r.astype(bool)].mean())
    return float(np.mean(scores))
