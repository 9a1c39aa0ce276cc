"""The settings of a GAN-augmentation experiment (gankit.experiments.augmentation), their
checks, and each seed's split of the labelled data into fit and validation images."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch

from gankit.data import ImageDataset, per_class_indices
from gankit.errors import GankitError
from gankit.experiments.verdict import LABELS
from gankit.recognize import ClassifierConfig, flip_allowed

CONDITIONS = tuple(LABELS)
TEACHERS = {"real": "none", "classical": "classical", "strong": "strong"}  # -> augmentation
STUDENTS = ("distilled", "gan")  # the teachers' ensemble distilled on a pool
# Costs in recogniser updates: they order the ready tasks and size `longer`. A GAN step of the
# default recipe (width 32, batch 64, conditional, DiffAugment, mode seeking) cost 0.7
# recogniser updates (batch 128) on one thread in fp32, measured on a 2-core Xeon without AMX.
GAN_STEP_COST = 0.7


@dataclass(frozen=True)
class AugmentConfig:
    data: str = "fashion-mnist"
    data_root: str | None = None
    per_class: int = 100  # labelled images per class, validation included
    validation_share: float = 0.2  # of each class's labelled images, held out for choices
    seeds: int = 5
    flip: str = "auto"  # whether augmentation mirrors (gankit.recognize.flip_allowed)
    gan_recipe: str = "default"
    gan_lr: float | None = 4e-4  # both Adam learning rates (None: the recipe's)
    gan_steps: int = 3000
    gan_width: int | None = None  # the GAN nets' width (None: the recipe's)
    gan_diffaugment: str = "color,translation,cutout"
    gan_mode_seeking: float = 1.0  # without it the GAN draws nearly one image per class
    synthetic_ratio: float = 10.0  # pool images per fit image, GAN or augmented copies
    synthetic_weight: float = 0.5  # of the pool batch's loss against the real batch's
    synthetic_batch: int | None = None  # pool images per update (None: the real batch's)
    teacher_share: float = 0.5  # of a pool image's target from the teachers (rest: label)
    teacher_temperature: float = 4.0  # divides the teachers' logits before their softmax
    filter_by_confidence: bool = False  # keep the GAN images the `real` teacher is surest of
    classifier: ClassifierConfig = field(default_factory=lambda: ClassifierConfig(steps=600))
    device: str = "auto"
    workers: int | None = None  # processes side by side (None: resolve_workers' choice)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validation_per_class(self) -> int:
        return max(1, round(self.validation_share * self.per_class))

    def fit_per_class(self) -> int:
        return self.per_class - self.validation_per_class()

    def pool_per_class(self) -> int:
        return max(1, round(self.synthetic_ratio * self.fit_per_class()))

    def updates(self) -> int:
        """Every condition's number of updates but `longer`'s (a fixed count: equal budgets)."""
        return self.classifier.steps or 0

    def longer_updates(self) -> int:
        """Updates that cost what the GAN pipeline adds to the teachers: its GAN and its
        student (a real and a pool batch per update)."""
        share = (self.synthetic_batch or self.classifier.batch_size) / self.classifier.batch_size
        return round(self.updates() * (1 + share) + GAN_STEP_COST * self.gan_steps)

    def recogniser(self, augment: str, seed: int, steps: int | None = None) -> ClassifierConfig:
        return replace(self.classifier, seed=seed, augment=augment, flip=self.flip,
                       steps=steps or self.classifier.steps)


@dataclass(frozen=True)
class SeedData:
    """What one seed trains on (`fit`, rows `fit_index` of the train split), chooses with
    (`validation`, rows `validation_index`, disjoint from `fit`) and is tested on (`test`)."""

    fit: ImageDataset
    fit_index: torch.Tensor
    validation: ImageDataset
    validation_index: torch.Tensor
    test: ImageDataset


def seed_data(config: AugmentConfig, seed: int, full_train: ImageDataset,
              test: ImageDataset) -> SeedData:
    """The seed's labelled subset, split per class into fit and validation images."""
    labelled = per_class_indices(full_train, config.per_class, seed)
    held = config.validation_per_class()
    gen = torch.Generator().manual_seed(seed + 1)  # another stream than the subset's draw
    labels = full_train.labels[labelled]
    chosen = [members[torch.randperm(len(members), generator=gen)[:held]]
              for members in (labelled[labels == k] for k in range(full_train.num_classes))]
    validation = torch.sort(torch.cat(chosen)).values
    fit = labelled[~torch.isin(labelled, validation)]
    return SeedData(full_train.select(fit), fit, full_train.select(validation), validation, test)


def check(config: AugmentConfig) -> None:
    """A clear error for each setting out of range, before anything trains."""
    if config.seeds < 1:
        raise GankitError(f"--seeds must be at least 1, got {config.seeds}")
    if config.workers is not None and config.workers < 1:
        raise GankitError(f"--workers must be at least 1, got {config.workers}")
    if not 0 < config.validation_share < 1:
        raise GankitError(f"--validation-share is a share between 0 and 1 (both excluded), "
                          f"got {config.validation_share}")
    if config.per_class < 2 or config.fit_per_class() < 1:
        raise GankitError(
            f"--per-class {config.per_class} leaves no image per class to train on once "
            f"{config.validation_per_class()} are held out for validation; use --per-class "
            f"{config.validation_per_class() + 1} or more")
    flip_allowed(config.data, config.flip)  # an unknown --flip fails here, named
    if config.synthetic_ratio <= 0 or config.synthetic_weight < 0:
        raise GankitError(f"--ratio must be positive and --synthetic-weight not negative, got "
                          f"{config.synthetic_ratio} and {config.synthetic_weight}")
    if config.synthetic_batch is not None and config.synthetic_batch < 1:
        raise GankitError(f"--synthetic-batch must be at least 1, got {config.synthetic_batch}")
    if not 0 <= config.teacher_share <= 1:
        raise GankitError(f"--teacher-share is a share between 0 and 1, got "
                          f"{config.teacher_share}")
    if config.teacher_temperature <= 0:
        raise GankitError(f"--teacher-temperature must be positive, got "
                          f"{config.teacher_temperature}")
    if config.gan_steps < 1 or config.updates() < 1:
        raise GankitError(f"--gan-steps and --classifier-steps must be at least 1, got "
                          f"{config.gan_steps} and {config.classifier.steps}")


