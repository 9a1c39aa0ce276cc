"""Benchmark: image completion, every method and mask side by side, per dataset and seed.

Methods: mean fill, biharmonic (scikit-image), Telea (OpenCV, when importable), and the
completion model (gankit.inpaint.cgan) in variants: the L2-only ablation, the default
adversarial weight, and a larger weight with the literature's remedies (reconstruction-only
warm-up, Iizuka et al. 2017; a noise input for diverse fills). Every trained variant runs at
--seeds seeds on the same masks. Masks: center 14x14, random boxes, strokes, bottom half.

Measured per mask: PSNR/SSIM/L1 over the hole (distortion); realism as the domain FID of
completed vs clean images, improved precision/recall (Kynkäänniemi et al. 2019) and a
perceptual distance (distance between the domain recogniser's features of the completed and the
original image: LPIPS needs weights this machine cannot download); the recogniser's accuracy on
completed images; diversity on `half` as the mean L1 between fills of different noise draws;
images/s. The recogniser (also the feature network) is trained on the training images only.

Which method to pick for each goal is chosen on a validation split held out from the training
images; the test split is read once per finished model, and its numbers carry 95% t intervals
over seeds. The adversarial term's worth is its paired-by-seed difference from the L2 ablation.

The datasets run side by side (--workers 2: one process and one torch thread each, logs in
--work); --workers 1 runs them in turn.

    nohup python bench/inpaint.py > bench/inpaint.log 2>&1 &
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import sys
import time
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

from gankit.data import ImageDataset, load_dataset, to_uint8
from gankit.inpaint import make_masks, telea_available
from gankit.inpaint.api import METHODS
from gankit.inpaint.cgan import CompletionConfig, complete_cgan, load_completion, train_completion
from gankit.inpaint.masks import MASK_KINDS
from gankit.inpaint.quality import l1, psnr, ssim
from gankit.inpaint.verdict import completion_sentence, completion_verdict
from gankit.metrics import scores
from gankit.metrics.domain import DomainFeatures
from gankit.recognize import predict_logits
from gankit.train.method_run import steps_done

VARIANTS = {"cgan-l2": {"adv_weight": 0.0},
            "cgan": {"adv_weight": CompletionConfig().adv_weight},
            "cgan-0.1-warm-noise": {"adv_weight": 0.1, "adv_warmup": 0.25, "noise": True}}
VALIDATION = {"fashion-mnist": 5000}  # held out of the training split; others: 1 in 8
DRAWS = 4  # noise draws per image for the diversity of `half` fills


def completion(args: argparse.Namespace, dataset: str, fit: ImageDataset, variant: str,
               seed: int) -> Path:
    run = args.work / f"{short(dataset)}-{variant}-seed{seed}-{args.steps}steps"
    if steps_done(run, "completion") < args.steps:
        print(f"[{short(dataset)}] training {variant} seed {seed}", flush=True)
        train_completion(CompletionConfig(data=dataset, steps=args.steps, seed=seed,
                                          **VARIANTS[variant]), run, data=fit, progress=False)
    return run


def measure(completed: torch.Tensor, split: dict[str, Any], mask: torch.Tensor,
            domain: DomainFeatures, seconds: float) -> dict[str, float]:
    images = split["images"]
    features = domain(to_uint8(completed))
    precision, recall = scores.precision_recall(split["features"], features)
    right = predict_logits(domain.model, completed).argmax(1) == split["labels"]
    return {"psnr_hole": psnr(completed, images, mask), "ssim_hole": ssim(completed, images, mask),
            "l1_hole": l1(completed, images, mask),
            "domain_fid": scores.fid(split["features"], features),
            "precision": precision, "recall": recall,
            "perceptual": float((features - split["features"]).norm(dim=1).mean()),
            "accuracy": float(right.float().mean()),
            "images_per_s": len(images) / max(seconds, 1e-9)}


def complete(method: str, run: Path | None, images: torch.Tensor,
             mask: torch.Tensor, seed: int = 0) -> torch.Tensor:
    masked = images * (1 - mask)
    if run is None:
        return METHODS.get(method)(Path("."), masked, mask, "cpu").cpu()
    return complete_cgan(_model(run), masked, mask, seed=seed)


@functools.cache
def _model(run: Path) -> torch.nn.Module:
    """Each trained model read from disk once, not once per mask, split and noise draw."""
    return load_completion(run, "cpu")


def run_dataset(args: argparse.Namespace, dataset: str) -> dict[str, Any]:
    """Every method (and seed) on every mask, on validation and test images of one dataset."""
    started = time.monotonic()
    full, test = load_dataset(dataset, "train"), load_dataset(dataset, "test")
    order = torch.randperm(len(full), generator=torch.Generator().manual_seed(0))
    n_val = VALIDATION.get(dataset, len(full) // 8)
    fit, val = full.select(order[n_val:]), full.select(order[:n_val])
    domain = DomainFeatures(fit, test)
    splits = {}
    for name, data, n, mask_seed in (("val", val, args.n_val, 1), ("test", test, args.n, 0)):
        images, labels = data.images[:n], data.labels[:n]
        splits[name] = {"images": images, "labels": labels, "features": domain(to_uint8(images)),
                        "mask_seed": mask_seed}
    runs = {(v, s): completion(args, dataset, fit, v, s)
            for v, s in itertools.product(VARIANTS, range(args.seeds))}
    baselines = ["mean", "biharmonic"] + (["telea"] if telea_available() else [])
    _, h, w = full.image_shape
    masks: dict[str, Any] = {}
    for kind in MASK_KINDS:
        entry: dict[str, Any] = {}
        for split_name, split in splits.items():
            mask = make_masks(kind, len(split["images"]), h, w, seed=split["mask_seed"])
            masked = split["images"] * (1 - mask)
            # trained variants: one entry per seed, in seed order (paired with cgan-l2's)
            cases = [(m, None) for m in baselines] + [(v, r) for (v, _), r in runs.items()]
            for method, run in cases:
                t0 = time.monotonic()
                completed = complete(method, run, split["images"], mask)
                result = measure(completed, split, mask, domain, time.monotonic() - t0)
                if kind == "half" and run is not None and VARIANTS[method].get("noise"):
                    fills = [completed] + [complete(method, run, split["images"], mask, seed=d)
                                           for d in range(1, DRAWS)]
                    result["diversity"] = sum(
                        l1(a, b, mask) for a, b in itertools.combinations(fills, 2)
                    ) / (DRAWS * (DRAWS - 1) / 2)
                elif kind == "half":
                    result["diversity"] = 0.0  # one fill per image
                entry.setdefault(method, {}).setdefault(split_name, []).append(result)
            masked_right = predict_logits(domain.model, masked).argmax(1) == split["labels"]
            entry.setdefault("_masked accuracy", {})[split_name] = float(
                masked_right.float().mean())
        masks[kind] = entry
        print(f"[{short(dataset)}] {kind} done", flush=True)
    clean_right = predict_logits(domain.model, splits["test"]["images"]).argmax(1)
    return {"dataset": short(dataset), "n_val": args.n_val, "n_test": args.n,
            "accuracy_clean": float((clean_right == splits["test"]["labels"]).float().mean()),
            "masks": masks, "minutes": round((time.monotonic() - started) / 60, 1),
            "machine": machine(), "commit": commit()}


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = ["## Image completion: classical fills vs the completion model, with and without "
             "its adversarial term", "",
             f"{m['cpu']} ({m['cores']} cores, {bf16_units(m)}), torch {m['torch']}; "
             f"completion models {result['steps']} steps, seeds {result['seeds']}; "
             f"validation {result['n_val']} and test {result['n']} images per mask (fixed "
             "masks per split). PSNR in dB over the hole ([0, 1] scale); FID, precision, recall "
             "and perceptual distance on the domain recogniser's features (trained on the "
             "training images only); diversity = mean L1 between 4 noise draws' fills (`half`). "
             "Trained methods: mean over seeds [95% t interval]. Picks are made on validation; "
             f"the numbers are test. {duration_sentence(result)} Command: "
             f"`{result['command']}`.", ""]
    cols = ("psnr_hole", "ssim_hole", "domain_fid", "precision", "recall", "perceptual",
            "accuracy", "images_per_s")
    for case in result["cases"]:
        lines += [f"### {case['dataset']} ({case['minutes']} min; clean test accuracy "
                  f"{100 * case['accuracy_clean']:.2f}%)", ""]
        for kind, v in case["verdicts"].items():
            masked = case["masks"][kind]["_masked accuracy"]["test"]
            lines += [f"**{kind}** (masked accuracy {100 * masked:.2f}%)", "",
                      "| method | " + " | ".join(cols) + (" | diversity |" if kind == "half"
                                                         else " |"),
                      "|---" * (len(cols) + 1 + (kind == "half")) + "|"]
            for method, s in v["test"].items():
                cells = [_cell(s[c], 100 if c == "accuracy" else 1) for c in cols[:-1]]
                cells.append(f"{s['images_per_s']['mean']:.0f}")  # timing: no interval
                if kind == "half":
                    cells.append(_cell(s["diversity"], 1))
                lines.append(f"| {method} | " + " | ".join(cells) + " |")
            lines += ["", f"**Verdict.** {case['sentences'][kind]}", ""]
    return "\n".join(lines)


def _cell(s: dict[str, Any], scale: float) -> str:
    mean, (lo, hi) = scale * s["mean"], s["ci95"]
    digits = 1 if abs(mean) >= 100 else (3 if abs(mean) < 1 else 2)
    if s["n"] == 1 or hi == lo:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{scale * lo:.{digits}f}, {scale * hi:.{digits}f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=f"fashion-mnist,{MNIST10K}")
    parser.add_argument("--n", type=int, default=2000, help="test images per mask")
    parser.add_argument("--n-val", type=int, default=1000, help="validation images per mask")
    parser.add_argument("--steps", type=int, default=1200, help="completion model steps")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "inpaint")
    parser.add_argument("--out", type=Path, default=RESULTS / "inpaint.json")
    add_workers(parser)
    args = parser.parse_args(argv)
    share_cache()
    args.work.mkdir(parents=True, exist_ok=True)
    datasets = [d for d in args.datasets.split(",") if d]

    def dataset_file(dataset: str) -> Path:
        return args.work / f"{short(dataset)}-{args.steps}steps-{args.seeds}seeds.json"

    wall = fan_out("inpaint.py", argv, [d for d in datasets if not dataset_file(d).is_file()],
                   args.workers, args.work)
    cases = []
    for dataset in datasets:
        done = dataset_file(dataset)
        if not done.is_file():
            done.write_text(json.dumps(run_dataset(args, dataset)))
        if args.cases_only:
            continue
        case = json.loads(done.read_text())
        adversarial = [v for v in VARIANTS if VARIANTS[v]["adv_weight"] > 0]
        case["verdicts"] = {kind: completion_verdict(
            {m: v for m, v in entry.items() if not m.startswith("_")}, adversarial)
            for kind, entry in case["masks"].items()}
        case["sentences"] = {kind: completion_sentence(case["dataset"], kind, v)
                             for kind, v in case["verdicts"].items()}
        for s in case["sentences"].values():
            print(s, flush=True)
        cases.append(case)
        result = {"benchmark": "inpaint", "machine": machine(), "commit": commit(),
                  "command": command_line("inpaint.py", argv), "steps": args.steps,
                  "seeds": args.seeds, "n": args.n, "n_val": args.n_val,
                  "variants": VARIANTS, "cases": cases,
                  "headline": {c["dataset"]: {kind: {k: v[k] for k in v if k.startswith("best")}
                                              for kind, v in c["verdicts"].items()}
                               for c in cases},
                  "verdict": " ".join(s for c in cases for s in c["sentences"].values()),
                  # each dataset's minutes as measured when it ran (a rerun reuses them)
                  "minutes": round(sum(c["minutes"] for c in cases), 1)}
        if wall is not None:
            result["wall"] = wall
        publish("inpaint", result, args.out, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
