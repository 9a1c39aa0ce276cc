"""Domain features: the penultimate layer of gankit's own recogniser, trained on the dataset's
train split once per machine and cached with its test accuracy. A fast, dataset-specific
stand-in for Inception when iterating on CPU (minutes to train, against Inception's
tens of minutes per 10k images)."""

from __future__ import annotations

import hashlib

import torch

from gankit.data import ImageDataset, to_float, to_uint8
from gankit.errors import GankitError
from gankit.metrics.cache import content_hash, features_cache_dir
from gankit.recognize import (
    ClassifierConfig,
    accuracy,
    embed,
    load_recogniser,
    predict_logits,
    save_recogniser,
    train_classifier,
)

DOMAIN_CLASSIFIER = ClassifierConfig(epochs=2.0)


class DomainFeatures:
    """Callable: uint8 images -> (N, 256) recogniser features; `logits` gives class scores."""

    dim, resize = 256, "none"

    def __init__(self, train: ImageDataset, test: ImageDataset, device: str = "cpu",
                 progress: bool = False) -> None:
        key = content_hash(torch.cat([to_uint8(train.images).flatten(), train.labels.byte()]))
        path = features_cache_dir().parent / "recognisers" / f"domain-{key[:24]}.safetensors"
        try:
            stored = load_recogniser(path, device)
            self.model, self.test_accuracy = stored.model, float(stored.info["test_accuracy"])
        except GankitError:  # not cached yet, or damaged: (re)train, never trust a bad file
            if progress:
                print(f"note: training the domain recogniser for {train.name} once "
                      f"({DOMAIN_CLASSIFIER.epochs:g} epochs); it is cached in {path.parent} "
                      "for every later score on this data", flush=True)
            self.model = train_classifier(train, DOMAIN_CLASSIFIER, device=device,
                                          progress=progress)
            self.test_accuracy = accuracy(self.model, test)
            path.parent.mkdir(parents=True, exist_ok=True)
            save_recogniser(path, self.model, train.classes,
                            {"test_accuracy": self.test_accuracy, "data": train.name})
        self.name = f"domain-cnn/{train.name}"
        self.weights_sha1 = hashlib.sha1(path.read_bytes()).hexdigest()

    def __call__(self, pixels: torch.Tensor, progress: bool = False) -> torch.Tensor:
        return embed(self.model, to_float(pixels))

    def logits(self, pixels: torch.Tensor) -> torch.Tensor:
        return predict_logits(self.model, to_float(pixels))


__all__ = ["DOMAIN_CLASSIFIER", "DomainFeatures"]
