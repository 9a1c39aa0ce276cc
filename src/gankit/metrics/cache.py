"""Features computed once per machine: keyed by a content hash of the exact uint8 images and
by the extractor's identity, so a changed image set or extractor is never served stale."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from gankit.data.sources import cache_dir
from gankit.io import atomic_write


def content_hash(pixels: torch.Tensor) -> str:
    digest = hashlib.sha256(str(tuple(pixels.shape)).encode())
    digest.update(pixels.contiguous().numpy().tobytes())
    return digest.hexdigest()


def features_cache_dir() -> Path:
    return cache_dir() / "features"


def cached_features(pixels: torch.Tensor, extractor_id: str, label: str,
                    compute: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """`compute(pixels)` unless features for these exact pixels and extractor are cached.

    `label` (e.g. "fashion-mnist-test-n10000") only makes the file name readable.
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{label}-{extractor_id}")
    path = features_cache_dir() / f"{safe}-{content_hash(pixels)[:24]}.safetensors"
    if path.is_file():
        try:
            features = load_file(str(path))["features"]
            if len(features) == len(pixels):
                return features
        except Exception:  # a damaged cache entry is recomputed, never trusted
            pass
    features = compute(pixels)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, safetensors_bytes({"features": features.contiguous()}))
    return features
