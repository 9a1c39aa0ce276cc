"""Does GAN augmentation help a recogniser? The whole experiment behind `gankit augment`.

For each seed: draw a labelled subset of the train split (the only data anything here trains
on, the GAN included); train a class-conditional GAN on it with DiffAugment (Zhao et al. 2020)
and the mode-seeking term (Mao et al. 2019) that keeps it from drawing one image per class;
draw a pool of synthetic labelled images from it (optionally keeping, per class, those a
recogniser trained on the same real subset is most confident about); then train the recogniser
under four conditions with one number of updates and one set of hyper-parameters, and test each
on the test split:

    real, real + classical, real + GAN, real + classical + GAN

GAN images add to the real ones rather than displace them: each update of a "+ GAN" recogniser
takes a real batch and a synthetic batch, the synthetic loss weighted by `synthetic_weight`.
A synthetic image's target blends its conditioning label with the mean prediction of teacher
recognisers trained earlier in the seed on the same real images (`teacher_share`; knowledge
distillation, Hinton et al. 2015), which softens the labels of images the GAN drew ambiguously;
averaging several teachers (`teacher="ensemble"`) gives better targets than one
(Lakshminarayanan et al. 2017), and softening them with a temperature better still.
Measured at 100 images per class (docs/benchmarks.md): mixing
GAN images in as if they were real cost 0.6-0.8 points against classical augmentation; weight
0.5 with half-teacher targets gained 0.6 on one seed, the three-recogniser ensemble teacher
0.25 more than a single teacher on two, and that ensemble gained +0.92 over 5 seeds at
temperature 1, +1.16 at 2, +1.34 at 4 and +1.28 at 8; Hinton et al.'s loss at temperature 4
("hinton" in DISTILLATIONS) gained +0.27 against +0.97 on the one seed it ran. On two seeds
at temperature 4, uniform targets in the teachers' place (label smoothing alone) lowered the
gain by 0.21 and 0.46, and filtering the pool by confidence by 0.22 and 0.27; half the
synthetic images per update by 0.12 and 0.30, and a GAN learning rate of 8e-4 left it as it
was (-0.13, +0.13).

This is the set-up of Antoniou et al. 2017 ("Data Augmentation Generative Adversarial
Networks") and Shmelkov et al. 2018 ("How good is my GAN?"), scaled to a CPU.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from gankit.data import ImageDataset, load_dataset, per_class_indices, to_float
from gankit.errors import GankitError
from gankit.imaging import save_grid
from gankit.io import atomic_write
from gankit.plots import interval_bars_png
from gankit.recognize import (
    ClassifierConfig,
    Supplement,
    accuracy,
    predict_logits,
    train_classifier,
)
from gankit.sampling import generate
from gankit.stats import summarize
from gankit.train import GANTrainer, make_config

CONDITIONS = ("real", "real+classical", "real+gan", "real+classical+gan")
# Each "+ GAN" condition and the condition it adds GAN images to; their accuracy difference on
# the same seed (same subset, same recogniser seed) is what the GAN images bring.
GAN_GAINS = {"real+gan": "real", "real+classical+gan": "real+classical"}
# Which recognisers, trained earlier in the same seed, teach each "+ GAN" condition (their mean
# softmax): the one trained on the same real images under the same augmentation ("same"), or
# every earlier one whose augmentation the condition shares ("ensemble": no classically
# augmented teacher for real + GAN). Measured by bench/augment_screen.py (docs/benchmarks.md).
TEACHERS: dict[str, dict[str, tuple[str, ...]]] = {
    "same": {"real+gan": ("real",), "real+classical+gan": ("real+classical",)},
    "ensemble": {"real+gan": ("real",),
                 "real+classical+gan": ("real", "real+classical", "real+gan")},
}
# How a "+ GAN" recogniser matches the teachers' softened predictions: with its own logits as
# they are ("soft-targets": the softened predictions act as informed label smoothing), or
# divided by the teachers' temperature, the loss scaled by its square ("hinton": Hinton et
# al. 2015's distillation loss). Each maps the teachers' temperature to the student's.
DISTILLATIONS = {"soft-targets": lambda temperature: 1.0, "hinton": lambda temperature: temperature}
FILTER_OVERSAMPLE = 3  # candidates drawn per kept image when filtering by confidence
GRID_PER_CLASS = 16
SEED_RECORD = "seed.json"  # a finished seed's result, which a resumed experiment reuses


@dataclass(frozen=True)
class AugmentConfig:
    data: str = "fashion-mnist"
    data_root: str | None = None
    per_class: int = 100
    seeds: int = 5
    gan_recipe: str = "default"
    # Measured at 100/class over 5 seeds: 3,000 steps of Adam 4e-4 (the recipe's betas 0, 0.99)
    # gain as much as 5,000 of the earlier 2e-4 (0.5, 0.999) (+0.77 vs +0.75) and bring the
    # experiment from 70 to 59 minutes on 2 cores (docs/benchmarks.md). The full-data default
    # recipe's 1.2e-3 was tuned on 60k images, not on these small subsets.
    gan_lr: float | None = 4e-4  # both Adam learning rates (None: the recipe's)
    gan_steps: int = 3000
    gan_diffaugment: str = "color,translation,cutout"
    # On 10-500 images per class the conditional GAN otherwise draws nearly one image per
    # class (measured: within-class spread 0.23 of the real one; 1.1 with it).
    gan_mode_seeking: float = 1.0
    synthetic_ratio: float = 10.0  # synthetic images per real image in the pool
    synthetic_weight: float = 0.5  # of the synthetic batch's loss against the real batch's
    # Synthetic images per update (None: the real batch's); 64 lost 0.2 points (docstring).
    synthetic_batch: int | None = None
    teacher_share: float = 0.5  # of a synthetic target from the teacher recognisers
    teacher: str = "ensemble"  # which earlier recognisers teach a "+ GAN" one (TEACHERS)
    # Divides the teachers' logits before their softmax (Hinton et al. 2015's temperature);
    # 4 is the best measured (module docstring).
    teacher_temperature: float = 4.0
    distillation: str = "soft-targets"  # how the student matches them (DISTILLATIONS)
    filter_by_confidence: bool = False
    classifier: ClassifierConfig = field(default_factory=lambda: ClassifierConfig(steps=600))
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def synthetic_per_class(self) -> int:
        return max(1, round(self.synthetic_ratio * self.per_class))

    def recognisers(self, seed: int) -> tuple[ClassifierConfig, ClassifierConfig]:
        """The recogniser settings of the conditions without and with classical augmentation."""
        plain = replace(self.classifier, seed=seed, augment="none")
        return plain, replace(plain, augment="classical")


@dataclass(frozen=True)
class SeedData:
    """What one seed may train on (`train`, rows `train_index` of the train split) and what
    it is tested on (`test`, the whole test split)."""

    train: ImageDataset
    train_index: torch.Tensor
    test: ImageDataset


def seed_data(config: AugmentConfig, seed: int, full_train: ImageDataset,
              test: ImageDataset) -> SeedData:
    index = per_class_indices(full_train, config.per_class, seed)
    return SeedData(full_train.select(index), index, test)


def train_gan(config: AugmentConfig, data: ImageDataset, seed: int, out: Path,
              progress: bool) -> GANTrainer:
    recipe_batch = make_config({"recipe": config.gan_recipe}).batch_size
    gan_config = make_config({"recipe": config.gan_recipe, "data": config.data,
                              "batch_size": min(recipe_batch, len(data)),
                              "data_root": config.data_root, "per_class": config.per_class,
                              "conditional": True, "diffaugment": config.gan_diffaugment,
                              "mode_seeking": config.gan_mode_seeking,
                              "steps": config.gan_steps, "seed": seed, "device": config.device,
                              **({} if config.gan_lr is None else
                                 {"lr_g": config.gan_lr, "lr_d": config.gan_lr}),
                              "sample_every": max(1, config.gan_steps // 4),
                              "checkpoint_every": config.gan_steps})
    trainer = GANTrainer(gan_config, out, data=data, progress=progress, tensorboard=False)
    trainer.fit()
    return trainer


def synthesize(trainer: GANTrainer, like: ImageDataset, n_per_class: int, seed: int,
               judge: torch.nn.Module | None) -> ImageDataset:
    """`n_per_class` generated images of each class; with a `judge` recogniser, the ones it
    is most confident belong to their label out of FILTER_OVERSAMPLE times as many."""
    generator = trainer.sampling_generator()
    k = like.num_classes
    draw = n_per_class * (FILTER_OVERSAMPLE if judge is not None else 1)
    pixels, labels = generate(generator, draw * k, seed=10_000 + seed)
    images = to_float(pixels)
    if judge is not None:
        confidence = predict_logits(judge, images).softmax(dim=1)
        confidence = confidence.gather(1, labels[:, None]).squeeze(1)
        keep = torch.cat([
            torch.nonzero(labels == c).flatten()[
                confidence[labels == c].argsort(descending=True)[:n_per_class]]
            for c in range(k)])
        images, labels = images[keep], labels[keep]
    return ImageDataset(f"gan:{trainer.run.path}", "train", images, labels, like.classes)


def supplement(config: AugmentConfig, synthetic: ImageDataset,
               teachers: Sequence[torch.nn.Module]) -> Supplement:
    """The synthetic images with two targets: their conditioning labels
    (`1 - config.teacher_share` of the loss) and the `teachers`' mean softmax at
    `config.teacher_temperature`, which the student matches at the temperature that
    `config.distillation` names."""
    temperature = config.teacher_temperature
    predicted = torch.stack([(predict_logits(t, synthetic.images) / temperature).softmax(dim=1)
                             for t in teachers]).mean(dim=0)
    return Supplement(synthetic.images, predicted, config.synthetic_weight,
                      temperature=DISTILLATIONS[config.distillation](temperature),
                      labels=synthetic.labels, label_share=1 - config.teacher_share,
                      batch_size=config.synthetic_batch)


def run_seed(config: AugmentConfig, seed: int, data: SeedData, out: Path,
             progress: bool) -> dict[str, Any]:
    started = time.monotonic()
    trainer = train_gan(config, data.train, seed, out / "gan", progress)
    gan_seconds = time.monotonic() - started

    plain, classical = config.recognisers(seed)
    real_model = train_classifier(data.train, plain, device=config.device, progress=progress)
    n_synthetic = config.synthetic_per_class()
    synthetic = synthesize(trainer, data.train, n_synthetic, seed,
                           real_model if config.filter_by_confidence else None)
    shown = min(n_synthetic, GRID_PER_CLASS)  # a row of each class
    rows = [synthetic.images[synthetic.labels == c][:shown] for c in range(data.train.num_classes)]
    save_grid(torch.cat(rows), out / "synthetic.png", nrow=shown, scale=2)

    models = {"real": real_model}
    models["real+classical"] = train_classifier(data.train, classical, device=config.device,
                                                progress=progress)
    for condition, cfg in (("real+gan", plain), ("real+classical+gan", classical)):
        teachers = [models[c] for c in TEACHERS[config.teacher][condition]]
        extra = supplement(config, synthetic, teachers)
        models[condition] = train_classifier(data.train, cfg, device=config.device,
                                             progress=progress, supplement=extra)
    return {"seed": seed,
            "accuracy": {c: 100 * accuracy(models[c], data.test) for c in CONDITIONS},
            "train_images": len(data.train), "synthetic_images": len(synthetic),
            "train_index_sha": _index_digest(data.train_index),
            "gan_seconds": round(gan_seconds, 1),
            "seconds": round(time.monotonic() - started, 1)}


def run_experiment(config: AugmentConfig, out: str | Path, *,
                   progress: bool = False) -> dict[str, Any]:
    """Run every seed and write augment.json, augment.md and augment.png into `out`."""
    if config.seeds < 1:
        raise GankitError(f"--seeds must be at least 1, got {config.seeds}")
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
    if config.distillation not in DISTILLATIONS:
        raise GankitError(f"unknown --distillation {config.distillation!r}; choose from: "
                          f"{', '.join(DISTILLATIONS)}")
    if config.teacher not in TEACHERS:
        raise GankitError(f"unknown --teacher {config.teacher!r}; choose from: "
                          f"{', '.join(TEACHERS)}")
    out = Path(out)
    started = time.monotonic()
    full_train = load_dataset(config.data, "train", root=config.data_root)
    if not full_train.labeled:
        raise GankitError(f"{full_train.name} has no labels, so a class-conditional GAN cannot "
                          "be trained on it; give it class sub-folders")
    test = load_dataset(config.data, "test", root=config.data_root)
    seeds, reused = [], []
    for seed in range(config.seeds):
        folder = out / f"seed{seed}"
        record = finished_seed(config, folder)
        was_finished = record is not None
        if was_finished:
            reused.append(record)
        else:
            record = run_seed(config, seed, seed_data(config, seed, full_train, test), folder,
                              progress)
            atomic_write(folder / SEED_RECORD, json.dumps(
                {"config": _seed_settings(config), **record}, indent=2).encode())
        seeds.append(record)
        print(f"seed {seed}{' (reused)' if was_finished else ''}: "
              + ", ".join(f"{c} {a:.2f}%" for c, a in record["accuracy"].items()))
    summaries = {c: summarize([s["accuracy"][c] for s in seeds]).to_dict() for c in CONDITIONS}
    # A resumed experiment's cost counts the reused seeds' own time, not only this call's.
    seconds = time.monotonic() - started + sum(s["seconds"] for s in reused)
    result = {"experiment": "gan_augmentation", "config": config.to_dict(),
              "conditions": summaries, "gains": gan_gains(seeds), "seeds": seeds,
              "reused_seeds": [s["seed"] for s in reused],
              "minutes": round(seconds / 60, 2)}
    atomic_write(out / "augment.json", json.dumps(result, indent=2).encode())
    atomic_write(out / "augment.md", markdown_table(result).encode())
    interval_bars_png(list(CONDITIONS), [summaries[c]["mean"] for c in CONDITIONS],
                      [tuple(summaries[c]["ci95"]) for c in CONDITIONS], out / "augment.png",
                      title=f"{config.data}, {config.per_class} per class, "
                            f"{config.seeds} seeds: mean and 95% interval",
                      ylabel="test accuracy (%)")
    return result


def gan_gains(seeds: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Mean, std and Student-t 95% interval of each "+ GAN" condition's accuracy minus its
    baseline's, paired by seed: tighter than comparing the two conditions' own intervals, as
    the subset draw's luck cancels."""
    return {gan: summarize([s["accuracy"][gan] - s["accuracy"][base] for s in seeds]).to_dict()
            for gan, base in GAN_GAINS.items()}


def finished_seed(config: AugmentConfig, folder: Path) -> dict[str, Any] | None:
    """The record of a seed that an earlier call with the same settings finished in `folder`,
    or None after clearing what a cut-off or differently configured attempt left there, so
    that an interrupted experiment resumes at its first unfinished seed."""
    record_file = folder / SEED_RECORD
    if record_file.is_file():
        record = json.loads(record_file.read_text())
        if record.pop("config") == _seed_settings(config):
            return record
    if folder.exists():
        shutil.rmtree(folder)
    return None


def _seed_settings(config: AugmentConfig) -> dict[str, Any]:
    """Everything that decides a seed's result: the settings less the number of seeds."""
    settings = config.to_dict()
    del settings["seeds"]
    return settings


def markdown_table(result: dict[str, Any]) -> str:
    cfg = result["config"]
    rows = [f"| {c} | {s['mean']:.2f} | {s['std']:.2f} | [{s['ci95'][0]:.2f}, "
            f"{s['ci95'][1]:.2f}] |" for c, s in result["conditions"].items()]
    gains = [f"| {GAN_GAINS[c]} | {s['mean']:+.2f} | {s['std']:.2f} | [{s['ci95'][0]:+.2f}, "
             f"{s['ci95'][1]:+.2f}] |" for c, s in result["gains"].items()]
    return "\n".join([
        f"{cfg['data']}, {cfg['per_class']} labelled images per class, {cfg['seeds']} seeds, "
        f"{result['minutes']:.1f} min in all",
        "",
        "| training data | accuracy % (mean) | std | 95% interval |",
        "|---|---|---|---|",
        *rows,
        "",
        "| GAN images added to | gain in points (mean, paired by seed) | std | 95% interval |",
        "|---|---|---|---|",
        *gains, ""])


def _index_digest(index: torch.Tensor) -> str:
    return hashlib.sha256(index.numpy().tobytes()).hexdigest()[:16]
