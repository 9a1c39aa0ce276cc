"""Benchmark: recognition under low light, with classical corrections and with CycleGAN.

A recogniser trained on normal Fashion-MNIST (the cached domain recogniser that `gankit eval`
uses) is tested on the low-light test set: raw; after each classical correction (histogram
equalisation, CLAHE, gamma with an estimated gamma); after CycleGAN low-light -> normal
translation. Second use: recognisers trained on the normal train split plus the same images
darkened by the CycleGAN (normal -> low-light), and, as an oracle that knows the exact
corruption, plus the same images through the low-light transform itself. Also domain FID of
translated vs real target images and images/s. Writes bench/results/translate.json and its
section of docs/benchmarks.md.

    nohup python bench/translate.py > bench/translate.log 2>&1 &
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import yaml
from common import RESULTS, ROOT, command_line, commit, machine, publish, share_cache

from gankit.data import ImageDataset, load_dataset, to_uint8
from gankit.metrics import scores
from gankit.metrics.domain import DOMAIN_CLASSIFIER, DomainFeatures
from gankit.recognize import accuracy, train_classifier
from gankit.recognize.run import concat
from gankit.train.method_run import steps_done
from gankit.translate import CORRECTIONS, TranslateConfig, load_domain, train_translator
from gankit.translate.translator import load_translator

LOW = "fashion-mnist@low-light"


def cyclegan_run(args: argparse.Namespace) -> Path:
    run = args.work / f"cyclegan-{args.steps}steps"
    if steps_done(run, "translator") < args.steps:
        print(f"[cyclegan] training {args.steps} steps", flush=True)
        train_translator(TranslateConfig(a="fashion-mnist", b=LOW, steps=args.steps), run,
                         progress=False)
    return run


def timed(fn, images: torch.Tensor) -> tuple[torch.Tensor, float]:
    started = time.monotonic()
    out = fn(images)
    return out, len(images) / max(time.monotonic() - started, 1e-9)


def augmented_accuracy(train: ImageDataset, extra: torch.Tensor, low_test: ImageDataset,
                       clean_test: ImageDataset) -> dict[str, float]:
    """A recogniser trained on `train` plus `extra` (the same images, transformed)."""
    model = train_classifier(concat(train, replace(train, images=extra)), DOMAIN_CLASSIFIER)
    return {"low_light": accuracy(model, low_test), "clean": accuracy(model, clean_test)}


def markdown(result: dict[str, Any]) -> str:
    h, m = result["headline"], result["machine"]
    rows = []
    for name, r in result["test_time"].items():
        speed = "" if r["images_per_s"] is None else f"{r['images_per_s']:.0f}"
        rows.append(f"| {name} | {100 * r['accuracy']:.2f} | {r['domain_fid']:.2f} | {speed} |")
    aug = result["augmentation"]
    recovered = h["acc_lowlight_cyclegan"] / h["acc_clean"]
    return "\n".join([
        "## Image-to-image translation: recognition under low light (Fashion-MNIST)", "",
        f"{m['cpu']} ({m['cores']} cores), torch {m['torch']}; CycleGAN {result['steps']} "
        f"steps ({result['cyclegan_train']['train_seconds']:.0f} s); low-light = gamma 1.8, "
        "gain 0.35, shot + read noise (`gankit.translate.LowLight`); 10,000 test images. "
        f"Command: `{result['command']}`.", "",
        f"Recogniser trained on normal images: clean test accuracy {100 * h['acc_clean']:.2f}%.",
        "",
        "| low-light test images | accuracy % | domain FID to normal | images/s |",
        "|---|---|---|---|", *rows, "",
        "Recognisers trained with darkened copies of the training images added "
        "(low-light / clean test accuracy %): "
        f"CycleGAN-darkened {100 * aug['cyclegan']['low_light']:.2f} / "
        f"{100 * aug['cyclegan']['clean']:.2f}; the true low-light transform (oracle) "
        f"{100 * aug['oracle']['low_light']:.2f} / {100 * aug['oracle']['clean']:.2f}.", "",
        f"Targets: CycleGAN recovers ≥ 90% of clean accuracy — {100 * recovered:.1f}%; beats "
        f"the best classical correction (`{h['classical_best_method']}`, "
        f"{100 * h['acc_lowlight_classical_best']:.2f}%) — "
        f"{'yes' if h['acc_lowlight_cyclegan'] > h['acc_lowlight_classical_best'] else 'no'}.",
        ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2500, help="CycleGAN steps")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "translate")
    parser.add_argument("--out", type=Path, default=RESULTS / "translate.json")
    args = parser.parse_args(argv)
    share_cache()
    started = time.monotonic()
    train, test = load_dataset("fashion-mnist", "train"), load_dataset("fashion-mnist", "test")
    low_test = load_domain(LOW, "test", seed=0)
    domain = DomainFeatures(train, test)
    recogniser = domain.model
    normal_features = domain(to_uint8(test.images))
    target_mean = ((train.images + 1) / 2).mean().item()
    run = cyclegan_run(args)
    translator, _ = load_translator(run)

    def row(images: torch.Tensor, ips: float | None, features: torch.Tensor) -> dict:
        return {"accuracy": accuracy(recogniser, replace(low_test, images=images)),
                "domain_fid": scores.fid(features, domain(to_uint8(images))),
                "images_per_s": ips}

    test_time = {"raw": row(low_test.images, None, normal_features)}
    for name in CORRECTIONS:
        fixed, ips = timed(lambda x, n=name: CORRECTIONS.get(n)(x, target_mean), low_test.images)
        test_time[name] = row(fixed, ips, normal_features)
        print(f"[{name}] {test_time[name]}", flush=True)
    translated, ips = timed(lambda x: translator.translate(x, "b2a"), low_test.images)
    test_time["cyclegan"] = row(translated, ips, normal_features)
    print(f"[cyclegan] {test_time['cyclegan']}", flush=True)

    darkened = translator.translate(train.images, "a2b")
    oracle = load_domain(LOW, "train", seed=1).images
    augmentation = {"cyclegan": augmented_accuracy(train, darkened, low_test, test),
                    "oracle": augmented_accuracy(train, oracle, low_test, test)}
    low_real = domain(to_uint8(oracle[:10_000]))
    augmentation["cyclegan"]["domain_fid_to_low_light"] = scores.fid(
        low_real, domain(to_uint8(darkened[:10_000])))
    print(f"[augmentation] {augmentation}", flush=True)

    classical = {k: v for k, v in test_time.items() if k in CORRECTIONS}
    best = max(classical, key=lambda k: classical[k]["accuracy"])
    result: dict[str, Any] = {
        "benchmark": "translate", "machine": machine(), "commit": commit(),
        "command": command_line("translate.py", argv),
        "steps": args.steps,
        "cyclegan_train": yaml.safe_load((run / "config.yaml").read_text()),
        "test_time": test_time, "augmentation": augmentation,
        "headline": {"acc_clean": accuracy(recogniser, test),
                     "acc_lowlight_raw": test_time["raw"]["accuracy"],
                     "acc_lowlight_classical_best": classical[best]["accuracy"],
                     "classical_best_method": best,
                     "acc_lowlight_cyclegan": test_time["cyclegan"]["accuracy"]},
        "minutes": round((time.monotonic() - started) / 60, 1)}
    publish("translate", result, args.out, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
