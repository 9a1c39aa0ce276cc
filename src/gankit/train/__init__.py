"""Training: the GAN loop, its configuration, run directories and checkpoints."""

from gankit.train.config import RECIPES, TrainConfig, make_config
from gankit.train.rundir import RunDir, TrainedGenerator, load_gan, load_generator
from gankit.train.trainer import GANTrainer, TrainSummary

__all__ = ["RECIPES", "GANTrainer", "RunDir", "TrainConfig", "TrainSummary",
           "TrainedGenerator", "load_gan", "load_generator", "make_config"]
