"""Recognisers on disk: weights in safetensors, and in its metadata what rebuilding them needs
(image shape, classes, width) plus free-form JSON facts such as test accuracy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from gankit.errors import GankitError
from gankit.io import atomic_write
from gankit.recognize.model import SmallCNN


@dataclass(frozen=True)
class StoredRecogniser:
    model: SmallCNN
    classes: tuple[str, ...]
    info: dict[str, Any]


def save_recogniser(path: str | Path, model: SmallCNN, classes: tuple[str, ...],
                    info: dict[str, Any]) -> None:
    header = {"image_shape": list(model.image_shape), "width": model.width,
              "classes": list(classes), "info": info}
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(path, safetensors_bytes(weights, metadata={"gankit": json.dumps(header)}))


def load_recogniser(path: str | Path, device: str = "cpu") -> StoredRecogniser:
    """The recogniser saved at `path`, in eval mode; a damaged file is a GankitError naming it."""
    try:
        with safe_open(str(path), framework="pt") as f:
            header = json.loads(f.metadata()["gankit"])
            weights = {k: f.get_tensor(k) for k in f.keys()}
        model = SmallCNN(tuple(header["image_shape"]), len(header["classes"]), header["width"])
        model.load_state_dict(weights)
    except FileNotFoundError:
        raise GankitError(f"{path} does not exist; train a recogniser first "
                          "(gankit classify train)") from None
    except Exception as err:  # any damage: name the file, never half-load it
        raise GankitError(f"{path} is not a readable gankit recogniser ({type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else ''}); retrain it") from None
    return StoredRecogniser(model.to(device).eval(), tuple(header["classes"]), header["info"])
