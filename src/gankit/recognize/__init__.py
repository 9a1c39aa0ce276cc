"""Recognition: the CNN recogniser, its training, augmentation, reports and run directories."""

from gankit.recognize.augment import (
    AUGMENTATIONS,
    FLIPS,
    augment_batch,
    flip_allowed,
    shift_and_flip,
    strong_augment,
)
from gankit.recognize.extra import load_extra
from gankit.recognize.model import FEATURE_DIM, SmallCNN, inference_copy
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

__all__ = ["AUGMENTATIONS", "FEATURE_DIM", "FLIPS", "ClassifierConfig", "RecognitionReport",
           "SmallCNN", "StoredRecogniser", "Supplement", "accuracy", "augment_batch", "embed",
           "flip_allowed", "inference_copy",
           "evaluate_recogniser_run",
           "load_extra", "load_recogniser", "load_recogniser_run",
           "predict_logits", "recognition_report", "save_recogniser",
           "shift_and_flip", "strong_augment", "train_classifier", "train_recogniser_run"]
