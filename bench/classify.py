"""Benchmark: gankit's default recogniser on the full Fashion-MNIST training set, against a
one-hidden-layer MLP baseline trained in the same run for the same number of epochs.

Target (issue #4): >= 92.5% test accuracy in <= 10 minutes on 2 CPU cores. Writes
bench/results/classify.json and its section of docs/benchmarks.md.

    python bench/classify.py
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from common import RESULTS, command_line, commit, machine, publish
from torch import nn

from gankit.data import load_dataset
from gankit.recognize import ClassifierConfig, recognition_report, train_recogniser_run
from gankit.train.batches import BatchStream


def mlp_baseline(epochs: float, batch_size: int, seed: int) -> dict[str, Any]:
    """784-256-10 MLP, Adam 1e-3: the kind of model the dataset's own benchmark lists; the
    same batch order as gankit's recogniser."""
    train, test = load_dataset("fashion-mnist", "train"), load_dataset("fashion-mnist", "test")
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = BatchStream(len(train), batch_size, seed)
    steps = round(epochs * batches.batches_per_epoch)
    started = time.monotonic()
    for _ in range(steps):
        index = batches.next()
        loss = F.cross_entropy(model(train.images[index]), train.labels[index])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    seconds = time.monotonic() - started
    report = recognition_report(model.eval(), test)
    return {"accuracy": report.accuracy, "train_seconds": round(seconds, 1), "steps": steps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "classify.json")
    args = parser.parse_args(argv)
    config = ClassifierConfig()
    with tempfile.TemporaryDirectory() as run:
        started = time.monotonic()
        report = train_recogniser_run(run, "fashion-mnist", config, progress=False)
        minutes = (time.monotonic() - started) / 60
    default = {"accuracy": report.accuracy, "minutes_total": round(minutes, 2),
               "config": asdict(config)}
    baseline = mlp_baseline(config.epochs, config.batch_size, config.seed)
    m = machine()
    result = {"benchmark": "classify", "machine": m, "commit": commit(),
              "command": command_line("classify.py", argv),
              "default": default, "mlp_baseline": baseline,
              "headline": {"accuracy": report.accuracy, "minutes": round(minutes, 2),
                           "mlp_accuracy": baseline["accuracy"]}}
    table = "\n".join([
        "## Recogniser on full Fashion-MNIST", "",
        f"{m['cpu']} ({m['cores']} cores), torch {m['torch']}, seed {config.seed}, "
        f"{config.epochs:g} epochs of batch {config.batch_size}; 60,000 training and 10,000 "
        f"test images. Command: `{result['command']}`.", "",
        "| model | test accuracy | time |", "|---|---|---|",
        f"| gankit SmallCNN (default `gankit classify train`) | {100 * report.accuracy:.2f}% | "
        f"{minutes:.1f} min including data loading and the test pass |",
        f"| MLP 784-256-10 baseline | {100 * baseline['accuracy']:.2f}% | "
        f"{baseline['train_seconds'] / 60:.1f} min training |", "",
        f"Target: ≥ 92.5% in ≤ 10 minutes — {100 * report.accuracy:.2f}% in {minutes:.1f} "
        "minutes.", ""])
    publish("classify", result, args.out, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
