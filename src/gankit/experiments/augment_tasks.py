"""The tasks of one seed of a GAN-augmentation experiment. Each leaves one file in the seed's
folder, which later tasks (and a resumed experiment) read: the GAN with its pool (POOL), one
recogniser file per trained condition with its validation and test accuracy, and the
ensemble's scores (ENSEMBLE)."""

from __future__ import annotations

import functools
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import torch

from gankit.data import ImageDataset, load_dataset, to_float
from gankit.device import select_device
from gankit.errors import GankitError
from gankit.experiments.augment_config import (
    CONDITIONS,
    GAN_STEP_COST,
    STUDENTS,
    TEACHERS,
    AugmentConfig,
    SeedData,
    seed_data,
)
from gankit.experiments.verdict import first_best
from gankit.io import atomic_write, load_state, save_state
from gankit.plots import labelled_rows_png
from gankit.recognize import (
    Supplement,
    accuracy,
    augment_batch,
    flip_allowed,
    load_recogniser,
    predict_logits,
    save_recogniser,
    train_classifier,
)
from gankit.sampling import generate
from gankit.taskgraph import Task
from gankit.train import GANTrainer, RunDir, make_config
from gankit.train.speed import resolve

FILTER_OVERSAMPLE = 3  # candidates drawn per kept image when filtering by confidence
GRID_PER_CLASS = 16
POOL = "synthetic.safetensors"
ENSEMBLE = "ensemble.json"
def train_gan(config: AugmentConfig, data: ImageDataset, seed: int, out: Path,
              progress: bool) -> GANTrainer:
    recipe_batch = make_config({"recipe": config.gan_recipe}).batch_size
    gan_config = make_config({"recipe": config.gan_recipe, "data": config.data,
                              "batch_size": min(recipe_batch, len(data)),
                              "data_root": config.data_root,
                              "per_class": config.fit_per_class(),
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


def augmented_copies(config: AugmentConfig, data: ImageDataset, augment: str,
                     seed: int) -> ImageDataset:
    """`synthetic_ratio` copies of every fit image under `augment`: the distillation
    control's pool, as large as the GAN's."""
    copies = max(1, round(config.synthetic_ratio))
    gen = torch.Generator().manual_seed(20_000 + seed)
    flip = flip_allowed(config.data, config.flip)
    images = torch.cat([augment_batch(data.images, augment, gen, flip=flip)
                        for _ in range(copies)])
    return ImageDataset(f"copies:{data.name}", "train", images, data.labels.repeat(copies),
                        data.classes)


def mean_softmax(models: list[torch.nn.Module], images: torch.Tensor,
                 temperature: float = 1.0) -> torch.Tensor:
    """The models' softmax of their logits divided by `temperature`, averaged over models."""
    return torch.stack([(predict_logits(m, images) / temperature).softmax(dim=1)
                        for m in models]).mean(dim=0)


def supplement(config: AugmentConfig, pool: ImageDataset,
               teachers: list[torch.nn.Module]) -> Supplement:
    """The `pool` with two targets: its labels (`1 - config.teacher_share` of the loss) and
    the `teachers`' mean softmax at `config.teacher_temperature`."""
    predicted = mean_softmax(teachers, pool.images, config.teacher_temperature)
    return Supplement(pool.images, predicted, config.synthetic_weight, labels=pool.labels,
                      label_share=1 - config.teacher_share, batch_size=config.synthetic_batch)


@functools.lru_cache(maxsize=1)
def _splits(data: str, root: str | None) -> tuple[ImageDataset, ImageDataset]:
    """The train and test splits, read once per process however many tasks use them."""
    train = load_dataset(data, "train", root=root)
    if not train.labeled:
        raise GankitError(f"{train.name} has no labels, so a class-conditional GAN cannot "
                          "be trained on it; give it class sub-folders")
    return train, load_dataset(data, "test", root=root)


def load_seed_data(config: AugmentConfig, seed: int) -> SeedData:
    return seed_data(config, seed, *_splits(config.data, config.data_root))


def condition_file(folder: Path, condition: str) -> Path:
    return folder / (ENSEMBLE if condition == "ensemble" else f"{condition}.safetensors")


def seed_tasks(config: AugmentConfig, seed: int, folder: Path, progress: bool) -> list[Task]:
    """The tasks of `seed` whose files are not yet in `folder`."""
    u = config.updates()
    after_teachers = tuple((seed, t) for t in TEACHERS)
    tasks = []
    if not (folder / POOL).is_file():
        judge = ((seed, "real"),) if config.filter_by_confidence else ()
        tasks.append(Task((seed, "generator"), _gan_task, (config, seed, folder, progress),
                          judge, GAN_STEP_COST * config.gan_steps))
    plan = {**{t: ((), u) for t in TEACHERS}, "ensemble": (after_teachers, 1),
            "distilled": (after_teachers, 2 * u),
            "longer": (after_teachers, config.longer_updates()),
            "gan": (after_teachers + ((seed, "generator"),), 2 * u)}
    for condition, (after, cost) in plan.items():
        if not condition_file(folder, condition).is_file():
            fn = _ensemble_task if condition == "ensemble" else _recogniser_task
            tasks.append(Task((seed, condition), fn, (config, seed, folder, condition, progress),
                              after, cost))
    return tasks


def _gan_task(config: AugmentConfig, seed: int, folder: Path, progress: bool) -> str:
    """Train the seed's conditional GAN (a cut-off one continues from its checkpoint) and
    write its pool of synthetic images and a grid of them."""
    started = time.monotonic()
    data = load_seed_data(config, seed)
    run = folder / "generator"
    if RunDir(run).checkpoint.is_file():
        trainer = GANTrainer.resume(run, data=data.fit, progress=progress, tensorboard=False)
        trainer.fit()
    else:
        trainer = train_gan(config, data.fit, seed, run, progress)
    judge = _load(config, folder, "real") if config.filter_by_confidence else None
    n = config.pool_per_class()
    synthetic = synthesize(trainer, data.fit, n, seed, judge)
    shown = min(n, GRID_PER_CLASS)  # a row of each class
    rows = [synthetic.images[synthetic.labels == c][:shown] for c in range(data.fit.num_classes)]
    labelled_rows_png(torch.cat(rows), shown, data.fit.classes, folder / "synthetic.png",
                      f"GAN images, seed {seed}")
    seconds = time.monotonic() - started
    save_state(folder / POOL, {"images": synthetic.images, "labels": synthetic.labels,
                               "seconds": round(seconds, 1), "threads": torch.get_num_threads(),
                               "bf16": trainer.speed.amp})
    return f"{len(synthetic)} synthetic images ({seconds:.0f} s)"


def student_augmentation(folder: Path) -> str:
    """The teachers' augmentation that scored best on validation (the plainer on a tie)."""
    return TEACHERS[first_best({t: load_recogniser(condition_file(folder, t)).info["validation"]
                                for t in TEACHERS})]


def _recogniser_task(config: AugmentConfig, seed: int, folder: Path, condition: str,
                     progress: bool) -> str:
    """Train one condition's recogniser, score it once on validation and once on test, and
    save it with both scores."""
    started = time.monotonic()
    data = load_seed_data(config, seed)
    augment = TEACHERS.get(condition) or student_augmentation(folder)
    steps = config.longer_updates() if condition == "longer" else None
    extra = None
    if condition in STUDENTS:
        if condition == "gan":
            state = load_state(folder / POOL, parts=("images", "labels"))
            pool = ImageDataset("gan", "train", state["images"], state["labels"],
                                data.fit.classes)
        else:
            pool = augmented_copies(config, data.fit, augment, seed)
        extra = supplement(config, pool, [_load(config, folder, t) for t in TEACHERS])
    settings = config.recogniser(augment, seed, steps)
    model = train_classifier(data.fit, settings, device=config.device, progress=progress,
                             supplement=extra)
    scores = {"validation": 100 * accuracy(model, data.validation),
              "test": 100 * accuracy(model, data.test)}
    seconds = time.monotonic() - started
    save_recogniser(condition_file(folder, condition), model, data.fit.classes,
                    {**scores, "augment": augment, "steps": settings.steps,
                     "seconds": round(seconds, 1), "threads": torch.get_num_threads(),
                     "bf16": resolve(select_device(config.device), amp=settings.amp).amp})
    return f"validation {scores['validation']:.2f}%, test {scores['test']:.2f}% ({seconds:.0f} s)"


def _ensemble_task(config: AugmentConfig, seed: int, folder: Path, condition: str,
                   progress: bool) -> str:
    """Score the teachers' mean softmax on validation and test."""
    started = time.monotonic()
    data = load_seed_data(config, seed)
    teachers = [_load(config, folder, t) for t in TEACHERS]
    scores = {}
    for split, images in (("validation", data.validation), ("test", data.test)):
        predicted = mean_softmax(teachers, images.images).argmax(dim=1)
        scores[split] = 100 * (predicted == images.labels).float().mean().item()
    record = {**scores, "seconds": round(time.monotonic() - started, 1)}
    atomic_write(condition_file(folder, condition), json.dumps(record).encode())
    return f"validation {scores['validation']:.2f}%, test {scores['test']:.2f}%"


def _load(config: AugmentConfig, folder: Path, condition: str) -> torch.nn.Module:
    return load_recogniser(condition_file(folder, condition),
                           device=str(select_device(config.device))).model


def seed_record(config: AugmentConfig, seed: int, folder: Path) -> dict[str, Any]:
    """The finished seed's result, from the files its tasks wrote."""
    pool = load_state(folder / POOL, parts=("labels", "seconds", "threads", "bf16"))
    info = {c: load_recogniser(condition_file(folder, c)).info
            for c in CONDITIONS if c != "ensemble"}
    info["ensemble"] = json.loads(condition_file(folder, "ensemble").read_text())
    own = {c: i["seconds"] for c, i in info.items()}
    teachers = sum(own[t] for t in TEACHERS)
    # each condition's own time plus that of what it needs: the teachers (whose validation
    # scores chose every later condition's augmentation) and, for `gan`, the GAN
    needs = {c: own[c] + (teachers if c not in TEACHERS else 0)
             + (pool["seconds"] if c == "gan" else 0) for c in CONDITIONS}
    data = load_seed_data(config, seed)
    trained = [i for c, i in info.items() if c != "ensemble"]
    return {"seed": seed,
            "accuracy": {c: info[c]["test"] for c in CONDITIONS},
            "validation": {c: info[c]["validation"] for c in CONDITIONS},
            "student_augment": info["gan"]["augment"],
            "steps": {c: i["steps"] for c, i in info.items() if c != "ensemble"},
            "seconds": own | {"generator": pool["seconds"]}, "pipeline_seconds": needs,
            "train_images": len(data.fit_index), "validation_images": len(data.validation_index),
            "synthetic_images": len(pool["labels"]),
            "train_index_sha": _index_digest(data.fit_index),
            "validation_index_sha": _index_digest(data.validation_index),
            "threads": sorted({pool["threads"], *(i["threads"] for i in trained)}),
            # whether the GAN and the recognisers trained in bf16 autocast (gankit.train.speed)
            "bf16": {"gan": pool["bf16"], "recognisers": all(i["bf16"] for i in trained)},
            "flip": flip_allowed(config.data, config.flip),
            "pool_read_as": {"classes": list(data.fit.classes),
                             "counts": pool_confusion(config, folder)}}


def pool_confusion(config: AugmentConfig, folder: Path) -> list[list[int]]:
    """How the recogniser trained on the real images alone reads the GAN's pool: counts[c][k]
    of images the GAN made for class c that it calls class k. A pool the recogniser reads
    as other classes teaches the "+ GAN" student wrong labels."""
    from gankit.recognize import predict_logits

    pool = load_state(folder / POOL, parts=("images", "labels"))
    logits = predict_logits(_load(config, folder, "real"), pool["images"]).cpu()
    read, classes = logits.argmax(dim=1), logits.shape[1]
    counts = torch.zeros(classes, classes, dtype=torch.long)
    counts.index_put_((pool["labels"].long(), read), torch.ones_like(read), accumulate=True)
    return counts.tolist()


def _index_digest(index: torch.Tensor) -> str:
    return hashlib.sha256(index.numpy().tobytes()).hexdigest()[:16]
