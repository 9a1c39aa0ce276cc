"""Benchmark: recognising degraded images with and without a GAN, per dataset and domain.

For each dataset (--datasets) and degradation (--domains, gankit.translate.TRANSFORMS) a
recogniser must classify degraded test images. Every path a practitioner could take is run
side by side, on the same images, at the same number of recogniser updates:

- test time, with the recogniser trained on clean images: `none` (the degraded images as they
  are), each classical correction chain of --corrections (denoise then brighten or sharpen,
  gankit.translate.correct), and the CycleGAN translating degraded -> clean;
- training time, testing the degraded images as they are: `degrade` augmentation (random blur,
  exposure and noise on the clean training images: knows the kinds of degradation, not the
  parameters), the training images plus copies through a camera model fitted to the unlabelled
  degraded images the CycleGAN saw (gankit.translate.fitted: the same information, no GAN),
  and the training images plus CycleGAN-degraded copies. The oracle (the true transform as
  augmentation) is reported, never chosen: no practitioner has it.

The best non-GAN and the best GAN path are chosen on a validation split held out from the
training images (the CycleGAN trains on all training images, unlabelled); the test split is read
once per path. Verdict: best GAN minus best non-GAN test accuracy, with a 95% bootstrap interval
over the test images (one training seed). Results are kept per case in --work, so a cut-off run
resumes, and the JSON and table are rewritten after every case.

The datasets run side by side (--workers 2: one process and one torch thread each, logs in
--work); --workers 1 runs them in turn.

    nohup python bench/translate.py > bench/translate.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from common import (
    MNIST10K,
    RESULTS,
    ROOT,
    add_workers,
    bf16_units,
    command_line,
    commit,
    duration_sentence,
    fan_out,
    machine,
    publish,
    share_cache,
    short,
)

from gankit.data import load_dataset
from gankit.recognize import ClassifierConfig, predict_logits, train_classifier
from gankit.recognize.run import concat
from gankit.train.method_run import steps_done
from gankit.translate import (
    TranslateConfig,
    correct,
    fitted_copies,
    load_domain,
    load_pair,
    train_translator,
)
from gankit.translate.translator import load_translator
from gankit.translate.verdict import share, translation_verdict

CORRECTIONS = ("gamma,equalize,clahe,nlmeans+gamma,tv+gamma,bilateral+gamma,nlmeans+clahe,"
               "unsharp,nlmeans+unsharp")
VALIDATION = {"fashion-mnist": 5000}  # held out of the training split; others: 1 in 8


def right(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> list[bool]:
    return (predict_logits(model, images).argmax(1) == labels).tolist()


def cyclegan(args: argparse.Namespace, dataset: str, domain: str) -> Path:
    run = args.work / f"cyclegan-{short(dataset)}-{domain}-{args.steps}steps"
    if steps_done(run, "translator") < args.steps:
        print(f"[cyclegan {short(dataset)} {domain}] training {args.steps} steps", flush=True)
        train_translator(TranslateConfig(a=dataset, b=f"{dataset}@{domain}", steps=args.steps),
                         run, progress=False)
    return run


def run_case(args: argparse.Namespace, dataset: str, domain: str,
             shared: dict[str, Any]) -> dict[str, Any]:
    """Every path for one dataset and degradation: per-image results on validation and test."""
    started = time.monotonic()
    train, val = shared["train"], shared["val"]
    spec = f"{dataset}@{domain}"
    degraded = {"val": replace(val, images=load_domain(spec, "train", seed=2).images[
        shared["val_index"]]), "test": load_domain(spec, "test", seed=0)}
    clean_test = load_dataset(dataset, "test")
    target_mean = ((train.images + 1) / 2).mean().item()
    translator, _ = load_translator(cyclegan(args, dataset, domain))
    config = ClassifierConfig(steps=args.recogniser_steps)

    def trained_with(extra: torch.Tensor | None, augment: str = "none") -> torch.nn.Module:
        data = train if extra is None else concat(train, replace(train, images=extra))
        return train_classifier(data, replace(config, augment=augment))

    paths: dict[str, dict[str, Any]] = {}
    plain = shared["plain"]
    plain_clean = right(plain, clean_test.images, clean_test.labels)  # every correction's

    def record(name: str, kind: str, model: torch.nn.Module, fix=lambda x: x) -> None:
        paths[name] = {"kind": kind, **{
            split: right(model, fix(d.images), d.labels) for split, d in degraded.items()}}
        paths[name]["clean_test"] = (plain_clean if model is plain
                                     else right(model, clean_test.images, clean_test.labels))
        print(f"[{short(dataset)} {domain}] {name}: val {share(paths[name]['val']):.4f} test "
              f"{share(paths[name]['test']):.4f}", flush=True)

    record("none", "non-GAN", plain)
    for chain in args.corrections.split(","):
        record(chain, "non-GAN", plain, lambda x, c=chain: correct(c, x, target_mean))
    record("cyclegan at test time", "GAN", plain, lambda x: translator.translate(x, "b2a"))
    record("degrade augmentation", "non-GAN", shared["degrade"])
    unlabelled = load_pair(dataset, spec, paired=False, seed=TranslateConfig.seed)[1].images
    copies, camera = fitted_copies(train.images, unlabelled)
    record("+ fitted-camera copies", "non-GAN", trained_with(copies))
    darkened = translator.translate(train.images, "a2b")
    record("+ CycleGAN copies", "GAN", trained_with(darkened))
    truth = load_domain(spec, "train", seed=1).images[shared["train_index"]]
    record("+ true-transform copies (oracle)", "oracle", trained_with(truth))
    return {"dataset": short(dataset), "domain": domain, "paths": paths,
            "fitted_camera": {k: round(v, 4) for k, v in camera.to_dict().items()},
            "n_val": len(val), "n_test": len(clean_test),
            "minutes": round((time.monotonic() - started) / 60, 1),
            "machine": machine(), "commit": commit()}  # a rebuild of the file reuses cases


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "## Recognising degraded images: classical corrections, augmentation, CycleGAN", "",
        f"CycleGAN {result['steps']} steps per case; every recogniser {result['recogniser_steps']} "
        "updates of batch 128 (equal compute; copies double the images, not the updates). "
        "Validation (held out of the training split) chooses the best path of each kind; test "
        "accuracy in %, the interval resamples test images (one training seed). low-light = "
        "gamma 1.8, gain 0.35, shot + read noise; blur = Gaussian, sigma 1 pixel. mnist-10k's "
        f"test split has 2,000 images. Command: `{result['command']}`.", ""]
    for case in result["cases"]:
        v = case["verdict"]
        m = case["machine"]
        lines += [f"### {case['dataset']} {case['domain']}", "",
                  f"{case['minutes']} min on {m['cpu']} ({m['torch_threads']} torch "
                  f"thread(s), {bf16_units(m)}), torch {m['torch']}, commit "
                  f"{case['commit']}.", "",
                  "| path | kind | validation | test | clean test |", "|---|---|---|---|---|"]
        for name, p in case["paths"].items():
            mark = " **(chosen)**" if name in (v["best_gan"], v["best_nongan"]) else ""
            lines.append(f"| {name}{mark} | {p['kind']} | {100 * p['val']:.2f} | "
                         f"{100 * p['test']:.2f} | {100 * p['clean_test']:.2f} |")
        fit = ", ".join(f"{k} {v:g}" for k, v in case.get("fitted_camera", {}).items())
        lines += ["", f"Fitted camera: {fit}.", "", f"**Verdict.** {v['sentence']}", ""]
    met = sum(c["verdict"]["goal_met"] for c in result["cases"])
    lines += [f"Goal (best GAN path ≥ best non-GAN path + 1 point): met in {met} of "
              f"{len(result['cases'])} cases. {duration_sentence(result)}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=f"fashion-mnist,{MNIST10K}")
    parser.add_argument("--domains", default="low-light,blur")
    parser.add_argument("--corrections", default=CORRECTIONS)
    parser.add_argument("--steps", type=int, default=2500, help="CycleGAN steps")
    parser.add_argument("--recogniser-steps", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "translate")
    parser.add_argument("--out", type=Path, default=RESULTS / "translate.json")
    add_workers(parser)
    args = parser.parse_args(argv)
    share_cache()
    args.work.mkdir(parents=True, exist_ok=True)
    datasets = [d for d in args.datasets.split(",") if d]
    domains = [d for d in args.domains.split(",") if d]

    def case_file(dataset: str, domain: str) -> Path:
        return args.work / f"{short(dataset)}-{domain}.json"

    wall = fan_out("translate.py", argv, [d for d in datasets if not all(
        case_file(d, domain).is_file() for domain in domains)], args.workers, args.work)
    cases, shared = [], {}  # shared: per dataset, built on first use
    for domain in domains:
        for dataset in datasets:
            done = case_file(dataset, domain)
            if not done.is_file():
                if dataset not in shared:
                    shared[dataset] = shared_models(dataset, args)
                done.write_text(json.dumps(run_case(args, dataset, domain, shared[dataset])))
            if args.cases_only:
                continue
            case = json.loads(done.read_text())
            case["verdict"] = translation_verdict(case["dataset"], case["domain"],
                                                  case["paths"])
            print(case["verdict"]["sentence"], flush=True)
            # the results file keeps accuracies; the per-image lists stay in --work
            case["paths"] = {name: {"kind": p["kind"], **{
                split: share(p[split]) for split in ("val", "test", "clean_test")}}
                for name, p in case["paths"].items()}
            cases.append(case)
            result = {"benchmark": "translate", "command": command_line("translate.py", argv),
                      "steps": args.steps,
                      "recogniser_steps": args.recogniser_steps, "cases": cases,
                      "headline": {f"{c['dataset']}@{c['domain']}": {
                          k: c["verdict"][k] for k in ("acc_best_nongan", "best_nongan",
                                                        "acc_best_gan", "best_gan", "gain",
                                                        "gain_ci95")} for c in cases},
                      "verdict": " ".join(c["verdict"]["sentence"] for c in cases),
                      # each case's minutes as measured when it ran (a rerun reuses them)
                      "minutes": round(sum(c["minutes"] for c in cases), 1)}
            if wall is not None:
                result["wall"] = wall
            publish("translate", result, args.out, markdown(result))
    return 0


def shared_models(dataset: str, args: argparse.Namespace) -> dict[str, Any]:
    """What every degradation of one dataset shares: the split and the two recognisers that
    never see a degraded image from the test domain (plain, and with `degrade`)."""
    full = load_dataset(dataset, "train")
    order = torch.randperm(len(full), generator=torch.Generator().manual_seed(0))
    n_val = VALIDATION.get(dataset, len(full) // 8)
    train, val = full.select(order[n_val:]), full.select(order[:n_val])
    config = ClassifierConfig(steps=args.recogniser_steps)
    print(f"[{short(dataset)}] training the plain and the degrade recognisers", flush=True)
    return {"train": train, "val": val, "val_index": order[:n_val],
            "train_index": order[n_val:], "plain": train_classifier(train, config),
            "degrade": train_classifier(train, replace(config, augment="degrade"))}


if __name__ == "__main__":
    sys.exit(main())
