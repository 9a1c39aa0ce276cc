"""Features computed once per machine: keyed by a content hash of the exact uint8 images and
by the extractor's identity, so a changed image set or extractor is never served stale.

A long pass (10k images through Inception on a CPU) is written in
chunks to a `.partial` file beside the entry, so an interrupted pass resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from tqdm import tqdm

from gankit.data.sources import cache_dir
from gankit.io import atomic_write


def content_hash(pixels: torch.Tensor) -> str:
    digest = hashlib.sha256(str(tuple(pixels.shape)).encode())
    digest.update(pixels.contiguous().numpy().tobytes())
    return digest.hexdigest()


def features_cache_dir() -> Path:
    return cache_dir() / "features"


CHUNK = 500


def _load_features(path: Path) -> torch.Tensor | None:
    if not path.is_file():
        return None
    try:
        return load_file(str(path))["features"]
    except Exception:  # a damaged cache entry is recomputed, never trusted
        return None


def cached_features(pixels: torch.Tensor, extractor_id: str, label: str,
                    compute: Callable[[torch.Tensor], torch.Tensor],
                    progress: bool = False) -> torch.Tensor:
    """`compute(pixels)` unless features for these exact pixels and extractor are cached.

    `label` (e.g. "fashion-mnist-test-n10000") only makes the file name readable.
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{label}-{extractor_id}")
    path = features_cache_dir() / f"{safe}-{content_hash(pixels)[:24]}.safetensors"
    features = _load_features(path)
    if features is not None and len(features) == len(pixels):
        return features
    partial = path.with_name(path.name + ".partial")
    done = _load_features(partial)
    chunks = [done] if done is not None and len(done) < len(pixels) else []
    n_done = len(chunks[0]) if chunks else 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with tqdm(total=len(pixels), initial=n_done, disable=not progress, desc=label,
              unit="img") as bar:
        for start in range(n_done, len(pixels), CHUNK):
            chunks.append(compute(pixels[start : start + CHUNK]))
            bar.update(len(chunks[-1]))
            if start + CHUNK < len(pixels):
                atomic_write(partial, safetensors_bytes({"features": torch.cat(chunks)}))
    features = torch.cat(chunks) if chunks else compute(pixels)
    atomic_write(path, safetensors_bytes({"features": features.contiguous()}))
    partial.unlink(missing_ok=True)
    return features
