"""Does GAN augmentation help a recogniser? The whole experiment behind `gankit augment`.

For each seed: draw a labelled subset of the train split (the only data anything here trains
on, the GAN included); train a class-conditional GAN on it with DiffAugment (Zhao et al. 2020)
and the mode-seeking term (Mao et al. 2019) that keeps it from drawing one image per class;
draw a pool of synthetic labelled images from it (optionally keeping, per class, those a
recogniser trained on the same real subset is most confident about); then train the recogniser
under four conditions with one number of updates and one set of hyper-parameters, and test each
on the test split:

    real, real + classical, real + GAN, real + classical + GAN

Those are five tasks a seed (the GAN and its pool, one recogniser per condition), which run
side by side on worker processes as soon as what they need is done (`gankit.taskgraph`).

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
was (-0.13, +0.13), as did teachers averaged over each image's shifts and mirror
(`teacher_views="classical"`; -0.07, +0.08). GAN nets of width 48 instead of the recipe's 32
raised the gain over 5 seeds from +1.24 to +1.51 (docs/benchmarks.md).

This is the set-up of Antoniou et al. 2017 ("Data Augmentation Generative Adversarial
Networks") and Shmelkov et al. 2018 ("How good is my GAN?"), scaled to a CPU.
"""

from __future__ import annotations

import functools
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
from gankit.device import select_device
from gankit.errors import GankitError
from gankit.imaging import save_grid
from gankit.io import atomic_write, load_state, save_state
from gankit.plots import interval_bars_png
from gankit.recognize import (
    ClassifierConfig,
    Supplement,
    accuracy,
    classical_views,
    load_recogniser,
    mirror_safe,
    predict_logits,
    save_recogniser,
    train_classifier,
)
from gankit.sampling import generate
from gankit.stats import summarize
from gankit.taskgraph import Task, run_graph
from gankit.train import GANTrainer, make_config
from gankit.train.speed import resolve

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
# What each teacher predicts a synthetic image from: the image alone ("single"), or, in a
# condition with classical augmentation, the mean softmax over the image, its shifts and
# mirror ("classical": test-time augmentation; real + GAN keeps "single", so that nothing
# from classical augmentation reaches it).
TEACHER_VIEWS = ("single", "classical")
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
    # The GAN nets' width (None: the recipe's 32). Measured at 100/class over 5 seeds, 48
    # raised the gain over real + classical from +1.24 to +1.51 (higher on 4 seeds of 5) for
    # 48 instead of 34 minutes (docs/benchmarks.md).
    gan_width: int | None = 48
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
    teacher_views: str = "single"  # what each teacher predicts from (TEACHER_VIEWS)
    filter_by_confidence: bool = False
    classifier: ClassifierConfig = field(default_factory=lambda: ClassifierConfig(steps=600))
    device: str = "auto"
    # Processes training side by side (None: resolve_workers' choice for the device).
    workers: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def synthetic_per_class(self) -> int:
        return max(1, round(self.synthetic_ratio * self.per_class))

    def recogniser(self, condition: str, seed: int) -> ClassifierConfig:
        """The recogniser settings of a condition: classical augmentation where it names it."""
        augment = "classical" if classically_augmented(condition) else "none"
        return replace(self.classifier, seed=seed, augment=augment)


def classically_augmented(condition: str) -> bool:
    """Whether a condition's recogniser trains with classical augmentation."""
    return "classical" in condition.split("+")


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
                              **({} if config.gan_width is None else
                                 {"width": config.gan_width}),
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


def supplement(config: AugmentConfig, condition: str, synthetic: ImageDataset,
               teachers: Sequence[torch.nn.Module]) -> Supplement:
    """The synthetic images of a "+ GAN" `condition` with two targets: their conditioning
    labels (`1 - config.teacher_share` of the loss) and the `teachers`' mean softmax at
    `config.teacher_temperature` (over the views that `config.teacher_views` names), which
    the student matches at the temperature that `config.distillation` names."""
    temperature = config.teacher_temperature
    views = (classical_views(synthetic.images, flip=mirror_safe(config.data))
             if config.teacher_views == "classical" and classically_augmented(condition)
             else [synthetic.images])
    predicted = torch.stack([(predict_logits(t, v) / temperature).softmax(dim=1)
                             for t in teachers for v in views]).mean(dim=0)
    return Supplement(synthetic.images, predicted, config.synthetic_weight,
                      temperature=DISTILLATIONS[config.distillation](temperature),
                      labels=synthetic.labels, label_share=1 - config.teacher_share,
                      batch_size=config.synthetic_batch)


# A seed's work is five tasks, each leaving one file in the seed's folder that later tasks
# (and a resumed experiment) read: the GAN with its pool of synthetic images ("gan", which
# waits for the "real" recogniser when it filters the pool), then one recogniser per condition,
# each "+ GAN" one after the GAN and its teachers. Costs order the ready tasks (taskgraph):
# measured, a width-48 GAN step costs 2.2 recogniser updates (augment's shapes, one CPU
# thread, bf16 on an AMX CPU; a width-32 one 0.6 in fp32 on 2 threads, about 1 in bf16).
# Only the order of ready tasks depends on it.
POOL = "synthetic.safetensors"
SETTINGS = "settings.json"
GAN_STEP_COST = 2.2


@functools.lru_cache(maxsize=1)
def _splits(data: str, root: str | None) -> tuple[ImageDataset, ImageDataset]:
    """The train and test splits, read once per process however many tasks use them."""
    train = load_dataset(data, "train", root=root)
    if not train.labeled:
        raise GankitError(f"{train.name} has no labels, so a class-conditional GAN cannot "
                          "be trained on it; give it class sub-folders")
    return train, load_dataset(data, "test", root=root)


def _seed_data(config: AugmentConfig, seed: int) -> SeedData:
    return seed_data(config, seed, *_splits(config.data, config.data_root))


def _recogniser_file(folder: Path, condition: str) -> Path:
    return folder / f"{condition}.safetensors"


def _teachers(config: AugmentConfig, condition: str) -> tuple[str, ...]:
    return TEACHERS[config.teacher].get(condition, ())


def _seed_tasks(config: AugmentConfig, seed: int, folder: Path, progress: bool) -> list[Task]:
    """The tasks of `seed` whose files are not yet in `folder`."""
    recogniser = config.classifier
    updates = recogniser.steps or max(1, round(
        recogniser.epochs * len(_seed_data(config, seed).train) / recogniser.batch_size))
    synthetic_share = (config.synthetic_batch or recogniser.batch_size) / recogniser.batch_size
    tasks = []
    if not (folder / POOL).is_file():
        gan_after = ("real",) if config.filter_by_confidence else ()
        tasks.append(Task((seed, "gan"), _gan_task, (config, seed, folder, progress),
                          tuple((seed, k) for k in gan_after), GAN_STEP_COST * config.gan_steps))
    for condition in CONDITIONS:
        if _recogniser_file(folder, condition).is_file():
            continue
        with_gan = condition in GAN_GAINS
        after = _teachers(config, condition) + (("gan",) if with_gan else ())
        tasks.append(Task((seed, condition), _recogniser_task,
                          (config, seed, folder, condition, progress),
                          tuple((seed, k) for k in after),
                          updates * (1 + synthetic_share * with_gan)))
    return tasks


def _gan_task(config: AugmentConfig, seed: int, folder: Path, progress: bool) -> str:
    """Train the seed's conditional GAN (a cut-off one continues from its checkpoint) and
    write its pool of synthetic images and a grid of them."""
    started = time.monotonic()
    data = _seed_data(config, seed)
    run = folder / "gan"
    if (run / "checkpoint.safetensors").is_file():
        trainer = GANTrainer.resume(run, data=data.train, progress=progress, tensorboard=False)
        trainer.fit()
    else:
        trainer = train_gan(config, data.train, seed, run, progress)
    gan_seconds = time.monotonic() - started
    judge = _load(config, folder, "real") if config.filter_by_confidence else None
    n_synthetic = config.synthetic_per_class()
    synthetic = synthesize(trainer, data.train, n_synthetic, seed, judge)
    shown = min(n_synthetic, GRID_PER_CLASS)  # a row of each class
    rows = [synthetic.images[synthetic.labels == c][:shown] for c in range(data.train.num_classes)]
    save_grid(torch.cat(rows), folder / "synthetic.png", nrow=shown, scale=2)
    seconds = time.monotonic() - started
    save_state(folder / POOL, {"images": synthetic.images, "labels": synthetic.labels,
                               "gan_seconds": round(gan_seconds, 1), "seconds": round(seconds, 1),
                               "threads": torch.get_num_threads(), "bf16": trainer.speed.amp})
    return f"{len(synthetic)} synthetic images ({gan_seconds:.0f} s of GAN, {seconds:.0f} s)"


def _recogniser_task(config: AugmentConfig, seed: int, folder: Path, condition: str,
                     progress: bool) -> str:
    """Train and test the recogniser of one condition and save it with its test accuracy."""
    started = time.monotonic()
    data = _seed_data(config, seed)
    settings = config.recogniser(condition, seed)
    extra = None
    if condition in GAN_GAINS:
        pool = load_state(folder / POOL, parts=("images", "labels"))
        synthetic = ImageDataset(f"gan:{folder / 'gan'}", "train", pool["images"], pool["labels"],
                                 data.train.classes)
        teachers = [_load(config, folder, t) for t in _teachers(config, condition)]
        extra = supplement(config, condition, synthetic, teachers)
    model = train_classifier(data.train, settings, device=config.device, progress=progress,
                             supplement=extra)
    percent = 100 * accuracy(model, data.test)
    seconds = time.monotonic() - started
    save_recogniser(_recogniser_file(folder, condition), model, data.train.classes,
                    {"accuracy": percent, "seconds": round(seconds, 1),
                     "threads": torch.get_num_threads(),
                     "bf16": resolve(select_device(config.device), amp=settings.amp).amp})
    return f"test accuracy {percent:.2f}% ({seconds:.0f} s)"


def _load(config: AugmentConfig, folder: Path, condition: str) -> torch.nn.Module:
    return load_recogniser(_recogniser_file(folder, condition),
                           device=str(select_device(config.device))).model


def _seed_record(config: AugmentConfig, seed: int, folder: Path) -> dict[str, Any]:
    """The finished seed's result, from the files its tasks wrote."""
    pool = load_state(folder / POOL,
                      parts=("labels", "gan_seconds", "seconds", "threads", "bf16"))
    info = {c: load_recogniser(_recogniser_file(folder, c)).info for c in CONDITIONS}
    index = _seed_data(config, seed).train_index
    return {"seed": seed, "accuracy": {c: info[c]["accuracy"] for c in CONDITIONS},
            "train_images": len(index), "synthetic_images": len(pool["labels"]),
            "train_index_sha": _index_digest(index), "gan_seconds": pool["gan_seconds"],
            # the tasks' own time, which side-by-side workers overlap
            "seconds": round(pool["seconds"] + sum(i["seconds"] for i in info.values()), 1),
            "threads": sorted({pool["threads"], *(i["threads"] for i in info.values())}),
            # whether the GAN and the recognisers trained in bf16 autocast (gankit.train.speed)
            "bf16": {"gan": pool["bf16"], "recognisers": all(i["bf16"] for i in info.values())}}


def resolve_workers(config: AugmentConfig) -> int:
    """`config.workers`, or by default one per CPU thread (torch's) on the CPU, where
    trainings side by side on one thread each beat one after another on all (taskgraph), and
    one on a GPU."""
    if config.workers is not None:
        return config.workers
    if select_device(config.device).type != "cpu":
        return 1
    return max(1, min(torch.get_num_threads(), 3 * config.seeds))  # 3 tasks a seed start ready


def run_experiment(config: AugmentConfig, out: str | Path, *,
                   progress: bool = False) -> dict[str, Any]:
    """Run every seed and write augment.json, augment.md and augment.png into `out`."""
    _check(config)
    config = replace(config, workers=resolve_workers(config))
    out = Path(out)
    started = time.monotonic()
    _splits(config.data, config.data_root)  # bad data fails here, before any task starts
    records: dict[int, dict[str, Any]] = {}
    reused: list[int] = []
    unfinished: dict[int, int] = {}
    tasks: list[Task] = []

    def seed_done(seed: int) -> None:
        record_file = out / f"seed{seed}" / SEED_RECORD
        if seed in reused:  # its record is on disk already
            record = records[seed] = json.loads(record_file.read_text())
        else:
            record = records[seed] = _seed_record(config, seed, out / f"seed{seed}")
            atomic_write(record_file, json.dumps(record, indent=2).encode())
        print(f"seed {seed}{' (reused)' if seed in reused else ''}: "
              + ", ".join(f"{c} {a:.2f}%" for c, a in record["accuracy"].items()), flush=True)

    for seed in range(config.seeds):
        folder = out / f"seed{seed}"
        if _prepare_seed(config, folder):
            reused.append(seed)
            seed_done(seed)
            continue
        todo = _seed_tasks(config, seed, folder, progress and config.workers == 1)
        tasks += todo
        unfinished[seed] = len(todo)
        if not todo:  # every file written, only the record missing
            seed_done(seed)

    def task_done(task: Task, summary: str) -> None:
        seed, name = task.key
        print(f"seed {seed} {name}: {summary}", flush=True)
        unfinished[seed] -= 1
        if unfinished[seed] == 0:
            seed_done(seed)

    run_graph(tasks, config.workers, task_done)
    seeds = [records[s] for s in range(config.seeds)]
    summaries = {c: summarize([s["accuracy"][c] for s in seeds]).to_dict() for c in CONDITIONS}
    # A resumed experiment's cost counts the reused seeds' own time, not only this call's:
    # their tasks' summed seconds, more than the wall clock when workers overlapped them.
    seconds = time.monotonic() - started + sum(records[s]["seconds"] for s in reused)
    result = {"experiment": "gan_augmentation", "config": config.to_dict(),
              "conditions": summaries, "gains": gan_gains(seeds), "seeds": seeds,
              "reused_seeds": reused, "minutes": round(seconds / 60, 2)}
    atomic_write(out / "augment.json", json.dumps(result, indent=2).encode())
    atomic_write(out / "augment.md", markdown_table(result).encode())
    interval_bars_png(list(CONDITIONS), [summaries[c]["mean"] for c in CONDITIONS],
                      [tuple(summaries[c]["ci95"]) for c in CONDITIONS], out / "augment.png",
                      title=f"{config.data}, {config.per_class} per class, "
                            f"{config.seeds} seeds: mean and 95% interval",
                      ylabel="test accuracy (%)")
    return result


def _check(config: AugmentConfig) -> None:
    """A clear error for each setting out of range, before anything trains."""
    if config.seeds < 1:
        raise GankitError(f"--seeds must be at least 1, got {config.seeds}")
    if config.workers is not None and config.workers < 1:
        raise GankitError(f"--workers must be at least 1, got {config.workers}")
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
    if config.teacher_views not in TEACHER_VIEWS:
        raise GankitError(f"unknown --teacher-views {config.teacher_views!r}; choose from: "
                          f"{', '.join(TEACHER_VIEWS)}")
    if config.teacher not in TEACHERS:
        raise GankitError(f"unknown --teacher {config.teacher!r}; choose from: "
                          f"{', '.join(TEACHERS)}")


def gan_gains(seeds: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Mean, std and Student-t 95% interval of each "+ GAN" condition's accuracy minus its
    baseline's, paired by seed: tighter than comparing the two conditions' own intervals, as
    the subset draw's luck cancels."""
    return {gan: summarize([s["accuracy"][gan] - s["accuracy"][base] for s in seeds]).to_dict()
            for gan, base in GAN_GAINS.items()}


def _prepare_seed(config: AugmentConfig, folder: Path) -> bool:
    """Whether an earlier call with the same settings finished the seed in `folder`. If not,
    the files its finished tasks left stay (a resumed experiment reruns only the rest), unless
    other settings wrote them: then the folder starts empty."""
    settings = json.dumps(_seed_settings(config), indent=2)
    if (folder / SETTINGS).is_file() and (folder / SETTINGS).read_text() == settings:
        return (folder / SEED_RECORD).is_file()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    atomic_write(folder / SETTINGS, settings.encode())
    return False


def _seed_settings(config: AugmentConfig) -> dict[str, Any]:
    """Everything that decides a seed's result: the settings less the number of seeds and of
    workers (a seed records the threads it ran on)."""
    settings = config.to_dict()
    del settings["seeds"], settings["workers"]
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
