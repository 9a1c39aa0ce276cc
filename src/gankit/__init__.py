"""gankit: generative adversarial networks for image-recognition work."""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public names and the module each lives in, imported on first use (PEP 562) so that
# `gankit --help` and other light commands start without importing torch.
_EXPORTS = {"DATASETS": "gankit.data", "ImageDataset": "gankit.data",
            "load_dataset": "gankit.data", "GankitError": "gankit.errors",
            "LOSSES": "gankit.losses", "MODELS": "gankit.models", "build_gan": "gankit.models",
            "RECIPES": "gankit.train", "GANTrainer": "gankit.train",
            "TrainConfig": "gankit.train", "load_generator": "gankit.train",
            "make_config": "gankit.train"}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gankit' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)
