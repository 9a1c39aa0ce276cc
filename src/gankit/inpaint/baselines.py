"""Classical completion baselines: mean fill, biharmonic (scikit-image) and Telea (OpenCV,
when importable). Images are float NCHW in [-1, 1], masks 1 where pixels are missing."""

from __future__ import annotations

import numpy as np
import torch

from gankit.data import to_float, to_uint8
from gankit.errors import GankitError


def paste(known: torch.Tensor, filled: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`filled` inside the hole, `known` everywhere else, bit for bit."""
    return torch.where(mask.expand_as(known).bool(), filled, known)


def mean_fill(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each image's hole gets the mean of its own known pixels (per channel)."""
    known = 1 - mask
    mean = (images * known).sum(dim=(2, 3), keepdim=True) / known.sum(dim=(2, 3), keepdim=True)
    return paste(images, mean.expand_as(images), mask)


def biharmonic(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Biharmonic inpainting (Damelin & Hoang 2018), scikit-image's `inpaint_biharmonic`."""
    from skimage.restoration import inpaint_biharmonic

    out = []
    for image, hole in zip(images.cpu().numpy(), mask.cpu().numpy(), strict=True):
        channels = np.moveaxis(image, 0, -1)  # HWC
        filled = inpaint_biharmonic(channels, hole[0].astype(bool), channel_axis=-1)
        out.append(np.moveaxis(filled, -1, 0))
    filled = torch.from_numpy(np.stack(out)).float().clamp(-1, 1)
    return paste(images, filled.to(images.device), mask)


def telea_available() -> bool:
    try:
        import cv2  # noqa: F401
    except ImportError:  # absent, or present without its system libraries (libGL)
        return False
    return True


def telea(images: torch.Tensor, mask: torch.Tensor, radius: int = 3) -> torch.Tensor:
    """Fast marching inpainting (Telea 2004) from OpenCV, on uint8 pixels."""
    if not telea_available():
        raise GankitError("the telea baseline needs OpenCV: pip install opencv-python-headless")
    import cv2

    pixels = to_uint8(images.cpu()).numpy()
    holes = (mask.cpu().numpy()[:, 0] > 0).astype(np.uint8)
    out = []
    for image, hole in zip(pixels, holes, strict=True):
        hwc = np.ascontiguousarray(np.moveaxis(image, 0, -1))
        filled = cv2.inpaint(hwc, hole, radius, cv2.INPAINT_TELEA)
        out.append(filled.reshape(hwc.shape).transpose(2, 0, 1))
    filled = to_float(torch.from_numpy(np.stack(out)))
    return paste(images, filled.to(images.device), mask)
