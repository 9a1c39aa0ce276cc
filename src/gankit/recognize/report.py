"""How well a recogniser does on a labelled set: accuracy, per-class accuracy, confusion."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from gankit.data import ImageDataset
from gankit.recognize.model import SmallCNN
from gankit.recognize.train import predict_logits


@dataclass(frozen=True)
class RecognitionReport:
    data: str  # "name/split"
    n: int
    accuracy: float
    per_class: dict[str, float]
    confusion: list[list[int]]  # rows: true class, columns: predicted class

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recognition_report(model: SmallCNN, data: ImageDataset) -> RecognitionReport:
    predictions = predict_logits(model, data.images).argmax(dim=1)
    k = data.num_classes
    confusion = torch.bincount(data.labels * k + predictions, minlength=k * k).view(k, k)
    per_class = confusion.diag().double() / confusion.sum(dim=1).clamp(min=1)
    return RecognitionReport(f"{data.name}/{data.split}", len(data),
                             float(confusion.diag().sum() / max(len(data), 1)),
                             dict(zip(data.classes, per_class.tolist(), strict=True)),
                             confusion.tolist())
