"""The settings of a GAN-augmentation experiment (gankit.experiments.augmentation), their
checks, and each seed's split of the labelled data into fit and validation images."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch

from gankit.data import ImageDataset, per_class_indices
from gankit.errors import GankitError
from gankit.experiments.verdict import LABELS
from gankit.options import check_ranges, device_option, option
from gankit.recognize import FLIPS, ClassifierConfig, flip_allowed

CONDITIONS = tuple(LABELS)
TEACHERS = {"real": "none", "classical": "classical", "strong": "strong"}  # -> augmentation
STUDENTS = ("distilled", "gan")  # the teachers' ensemble distilled on a pool
# Costs in recogniser updates: they order the ready tasks and size `longer` (the GAN step's,
# measured: docs/benchmarks.md, *Measurements behind code defaults*).
GAN_STEP_COST = 0.7
CLASSIFIER_STEPS = 600  # recogniser updates of every condition but `longer`


@dataclass(frozen=True)
class AugmentConfig:
    data: str = option("labelled dataset or folder:PATH", "fashion-mnist")
    data_root: str | None = option("folder holding the dataset files (searched first)")
    per_class: int = option("labelled images per class, validation included", 100, low=2,
                            high=100_000)
    validation_share: float = option("share of each class's labelled images held out to "
                                     "choose by", 0.2, above=0, below=1)
    seeds: int = option("repetitions (subset, GAN, nets)", 5, low=1, high=100)
    flip: str = option("mirror images in augmentation: auto = only where gankit knows a mirror "
                       "keeps the class (fashion-mnist; never folder: data)", "auto",
                       choices=FLIPS)
    gan_recipe: str = option("recipe of the conditional GAN", "default")
    gan_lr: float | None = option("Adam learning rate of both GAN nets (unset: the recipe's)",
                                  4e-4, above=0, high=1)
    gan_steps: int = option("GAN updates", 3000, low=1, high=10**7)
    gan_width: int | None = option("the GAN nets' width (default: the recipe's)", low=1,
                                   high=512)
    gan_diffaugment: str = option("DiffAugment transforms for the GAN ('' = off)",
                                  "color,translation,cutout", flag="diffaugment")
    # without mode seeking the GAN draws nearly one image per class
    gan_mode_seeking: float = option("mode-seeking weight against within-class collapse "
                                     "(0 = off)", 1.0, low=0, high=100, flag="mode-seeking")
    synthetic_ratio: float = option("pool images (GAN or augmented copies) per real one", 10.0,
                                    above=0, high=1000, flag="ratio")
    synthetic_weight: float = option("weight of each update's pool batch in the loss (real: 1)",
                                     0.5, low=0, high=100)
    synthetic_batch: int | None = option("pool images per update (default: as many as real "
                                         "ones)", low=1, high=8192)
    teacher_share: float = option("share of a pool image's target taken from the teachers' "
                                  "prediction (0 = its label only)", 0.5, low=0, high=1)
    teacher_temperature: float = option("softens the teachers' prediction: their logits are "
                                        "divided by it", 4.0, above=0, high=100)
    filter_by_confidence: bool = option("keep the GAN images the real-data recogniser is "
                                        "surest of", False, flag="filter")
    classifier: ClassifierConfig = field(
        default_factory=lambda: ClassifierConfig(steps=CLASSIFIER_STEPS))
    device: str = device_option()
    workers: int | None = option("processes training side by side, each on its share of the "
                                 "torch threads (default: one per thread on the CPU, one on a "
                                 "GPU)", low=1, high=64)

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
    if not 0 < config.validation_share < 1:
        raise GankitError(f"--validation-share is a share between 0 and 1 (both excluded), "
                          f"got {config.validation_share}")
    if config.per_class < 2 or config.fit_per_class() < 1:
        raise GankitError(
            f"--per-class {config.per_class} leaves no image per class to train on once "
            f"{config.validation_per_class()} are held out for validation; use --per-class "
            f"{config.validation_per_class() + 1} or more")
    flip_allowed(config.data, config.flip)  # an unknown --flip fails here, named
    if not 0 <= config.teacher_share <= 1:
        raise GankitError(f"--teacher-share is a share between 0 and 1, got "
                          f"{config.teacher_share}")
    check_ranges(config)
    if config.updates() < 1:
        raise GankitError(f"--classifier-steps must be at least 1, got {config.classifier.steps}")
