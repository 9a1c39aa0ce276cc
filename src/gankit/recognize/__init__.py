"""Recognition: the CNN recogniser, its training and its predictions."""

from gankit.recognize.model import FEATURE_DIM, SmallCNN
from gankit.recognize.train import (
    ClassifierConfig,
    accuracy,
    embed,
    predict_logits,
    train_classifier,
)

__all__ = ["FEATURE_DIM", "ClassifierConfig", "SmallCNN", "accuracy", "embed",
           "predict_logits", "train_classifier"]
