"""Recogniser run directories: `gankit classify train` writes one, `gankit classify eval`
reads it.

    RUN/recogniser.safetensors   weights + classes + training facts (metadata)
    RUN/config.yaml              what it was trained on and how
    RUN/report.json              accuracy, per-class accuracy, confusion, per data/split
    RUN/confusion_DATA_SPLIT.png the confusion matrix as a picture
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import yaml

from gankit.data import ImageDataset, load_dataset
from gankit.device import select_device
from gankit.distributed import init_distributed
from gankit.errors import GankitError
from gankit.io import atomic_write, writable_folder
from gankit.plots import confusion_png
from gankit.recognize.extra import load_extra
from gankit.recognize.report import RecognitionReport, recognition_report
from gankit.recognize.store import StoredRecogniser, load_recogniser, save_recogniser
from gankit.recognize.train import Adversary, ClassifierConfig, train_classifier
from gankit.runs import RUN_KINDS, check_free_for, write_manifest

RECOGNISER_FILE = RUN_KINDS.get("classifier").weights
TRAINING_FILE = "training.safetensors"  # the state of an unfinished training
REPORT_FILE = "report.json"


def concat(a: ImageDataset, b: ImageDataset) -> ImageDataset:
    """`a` followed by `b` (same classes and image shape), named after `a`."""
    if a.classes != b.classes or a.image_shape != b.image_shape:
        raise GankitError(f"cannot join {b.name} to {a.name}: classes or image shape differ")
    return ImageDataset(a.name, a.split, torch.cat([a.images, b.images]),
                        torch.cat([a.labels, b.labels]), a.classes)


def train_recogniser_run(out: str | Path, data: str, config: ClassifierConfig | None = None,
                         *, root: str | None = None, per_class: int | None = None,
                         extra: str | None = None, extra_per_class: int | None = None,
                         device: str = "auto", progress: bool = True,
                         adversary: Adversary | None = None,
                         notes: dict[str, Any] | None = None) -> RecognitionReport:
    """Train on DATA's train split (a `per_class` subset, plus `extra` images; through
    `adversary` for adversarial training), save the run with `notes` among its facts, and
    report on the test split."""
    out, config = Path(out), config or ClassifierConfig()
    if (out / RECOGNISER_FILE).exists():
        raise GankitError(f"{out} already holds a recogniser; choose another --out")
    check_free_for(out, "classifier")
    train = load_dataset(data, "train", root=root, per_class=per_class, seed=config.seed)
    if not train.labeled:
        raise GankitError(f"{train.name} has no labels; a recogniser needs class sub-folders")
    test = load_dataset(data, "test", root=root)
    real = len(train)
    if extra is not None:
        n_extra = extra_per_class or max(1, real // train.num_classes)
        train = concat(train, load_extra(extra, train, per_class=n_extra, seed=config.seed,
                                         device=device))
    writable_folder(out)  # before the training, not after it
    started = time.monotonic()
    model = train_classifier(train, config, device=device, progress=progress,
                             adversary=adversary, checkpoint=out / TRAINING_FILE)
    seconds = time.monotonic() - started
    report = recognition_report(model, test)
    facts = {"data": data, "data_root": root, "per_class": per_class, "extra": extra,
             "real_images": real, "extra_images": len(train) - real,
             "train_seconds": round(seconds, 1), "test_accuracy": report.accuracy,
             "config": asdict(config), **(notes or {})}
    if init_distributed(device)[0].is_main:  # under torchrun, rank 0 writes
        save_recogniser(out / RECOGNISER_FILE, model, train.classes, facts)
        write_manifest(out, "classifier")
        (out / TRAINING_FILE).unlink(missing_ok=True)
        atomic_write(out / "config.yaml", yaml.safe_dump(facts, sort_keys=False).encode())
        _record(out, report)
    return report


def evaluate_recogniser_run(run_dir: str | Path, data: str | None = None, *,
                            root: str | None = None, split: str = "test",
                            device: str = "auto") -> RecognitionReport:
    """Report a saved recogniser on DATA/SPLIT (default: the data it was trained on)."""
    stored = load_recogniser_run(run_dir, device)
    if data is None:  # the data it was trained on, from where it was found then
        data, root = stored.info["data"], root or stored.info["data_root"]
    dataset = load_dataset(data, split, root=root)
    if dataset.classes != stored.classes:
        raise GankitError(f"{dataset.name} has classes {list(dataset.classes)}, but the "
                          f"recogniser in {run_dir} knows {list(stored.classes)}")
    if dataset.image_shape != stored.model.image_shape:
        raise GankitError(f"{dataset.name} has {dataset.image_shape} images, but the "
                          f"recogniser in {run_dir} takes {stored.model.image_shape}")
    report = recognition_report(stored.model, dataset)
    _record(Path(run_dir), report)
    return report


def load_recogniser_run(run_dir: str | Path, device: str = "auto") -> StoredRecogniser:
    path = Path(run_dir) / RECOGNISER_FILE
    if not path.is_file():
        raise GankitError(f"{run_dir} has no {RECOGNISER_FILE}; is it a gankit classify run?")
    return load_recogniser(path, str(select_device(device)))


def _record(run_dir: Path, report: RecognitionReport) -> None:
    """Merge the report into report.json and draw its confusion matrix."""
    path = run_dir / REPORT_FILE
    reports: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    reports[report.data] = report.to_dict()
    atomic_write(path, json.dumps(reports, indent=2).encode())
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", report.data.replace("/", "_"))
    confusion_png(report, run_dir / f"confusion_{stem}.png")
