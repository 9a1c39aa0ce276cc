"""gankit: generative adversarial networks for image-recognition work."""

from gankit.data import DATASETS, ImageDataset, load_dataset
from gankit.errors import GankitError
from gankit.losses import LOSSES
from gankit.models import MODELS, build_gan
from gankit.train import (
    RECIPES,
    GANTrainer,
    TrainConfig,
    load_generator,
    make_config,
)

__version__ = "0.1.0"

__all__ = ["DATASETS", "LOSSES", "MODELS", "RECIPES", "GANTrainer", "GankitError",
           "ImageDataset", "TrainConfig", "build_gan", "load_dataset", "load_generator",
           "make_config", "__version__"]
