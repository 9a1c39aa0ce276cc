"""Recognition: the CNN recogniser, its training, augmentation, reports and run directories."""

from gankit.recognize.augment import AUGMENTATIONS, classical_views, mirror_safe, shift_and_flip
from gankit.recognize.extra import load_extra
from gankit.recognize.model import FEATURE_DIM, SmallCNN
from gankit.recognize.report import RecognitionReport, recognition_report
from gankit.recognize.run import evaluate_recogniser_run, load_recogniser_run, train_recogniser_run
from gankit.recognize.store import StoredRecogniser, load_recogniser, save_recogniser
from gankit.recognize.train import (
    ClassifierConfig,
    Supplement,
    accuracy,
    embed,
    predict_logits,
    train_classifier,
)

__all__ = ["AUGMENTATIONS", "FEATURE_DIM", "ClassifierConfig", "RecognitionReport",
           "SmallCNN", "StoredRecogniser", "Supplement", "accuracy", "classical_views", "embed",
           "evaluate_recogniser_run",
           "load_extra", "load_recogniser", "load_recogniser_run", "mirror_safe",
           "predict_logits", "recognition_report", "save_recogniser",
           "shift_and_flip", "train_classifier", "train_recogniser_run"]
