"""Image-to-image translation between domains (e.g. normal and low-light): CycleGAN, pix2pix,
domain transforms, classical corrections."""

from gankit.translate.apply import translate_images
from gankit.translate.classical import CORRECTIONS, correct, parse_correction
from gankit.translate.domains import TRANSFORMS, Domain, LowLight, load_domain, load_pair
from gankit.translate.fitted import CameraModel, fit_camera, fitted_copies
from gankit.translate.translator import (
    METHODS,
    TranslateConfig,
    Translator,
    cycle_loss,
    load_translator,
    train_translator,
)

__all__ = ["CORRECTIONS", "METHODS", "TRANSFORMS", "CameraModel", "Domain", "LowLight",
           "TranslateConfig", "Translator", "correct", "cycle_loss", "fit_camera",
           "fitted_copies", "load_domain", "load_pair", "load_translator", "parse_correction",
           "train_translator", "translate_images"]
