"""Benchmark: the original GAN, a textbook DCGAN and gankit's default recipe, side by side.

Each recipe trains on Fashion-MNIST for the same wall-clock budget on this machine, then all
three are scored with one protocol: 10k generated images against the 10k test images, Inception
FID / KID / precision-recall and domain FID. Writes bench/results/gan_quality.json and the table
in docs/benchmarks.md.

The whole run takes ~2.7 h on 2 CPU cores (3 x 30 min training, 4 x ~18 min Inception passes),
so it is resumable: a finished training phase is kept in --work (with its summary), and
Inception features are cached by content hash in chunks, so re-running the same command
continues where it stopped. A training phase that was cut off is restarted from scratch (its
budget must be spent in one sitting, on an otherwise idle machine).

    nohup python bench/gan_quality.py --budget-minutes 30 > bench/gan_quality.log 2>&1 &
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    RESULTS,
    ROOT,
    TABLE,
    add_only,
    command_line,
    machine,
    parse_only,
    publish,
    share_cache,
    train_gan_once,
)

RECIPES = {  # benchmark name -> gankit recipe
    "default": "default",
    "textbook_dcgan": "dcgan",
    "original_gan": "original",
}
METRICS = ("fid", "kid", "pr", "domain-fid")


def train_phase(name: str, work: Path, budget: float, seed: int, device: str) -> dict[str, Any]:
    return train_gan_once(work / name, {
        "recipe": RECIPES[name], "data": "fashion-mnist", "seed": seed, "minutes": budget,
        "steps": 10**9, "device": device, "sample_every": 5000, "checkpoint_every": 5000,
        "log_every": 200})


def eval_phase(name: str, work: Path, n: int, seed: int, device: str) -> dict[str, Any]:
    from gankit.metrics import evaluate_run  # imported late: the training phase comes first

    print(f"[{name}] evaluating {', '.join(METRICS)} with n={n}", flush=True)
    started = time.monotonic()
    scores = evaluate_run(work / name, METRICS, n=n, seed=seed, device=device, progress=True)
    print(f"[{name}] " + ", ".join(f"{k}={v['value']:.4g}" for k, v in scores.items()),
          flush=True)
    return {"scores": scores, "eval_seconds": round(time.monotonic() - started, 1)}


def markdown(result: dict[str, Any]) -> str:
    rows = []
    for name, entry in result["recipes"].items():
        s = entry["scores"]
        rows.append(f"| {name} (`{entry['train']['recipe']}`) | {s['fid']['value']:.2f} | "
                    f"{1000 * s['kid']['value']:.2f} ± {1000 * s['kid']['std']:.2f} | "
                    f"{s['precision']['value']:.3f} | {s['recall']['value']:.3f} | "
                    f"{s['domain-fid']['value']:.2f} | {entry['train']['images_per_s']:.0f} | "
                    f"{entry['train']['steps']} |")
    m, h = result["machine"], result["headline"]
    return "\n".join([
        "## GAN quality: original GAN vs textbook DCGAN vs gankit default",
        "",
        f"Fashion-MNIST, {h['budget_minutes']} min of training each on {m['cpu']} "
        f"({m['cores']} cores, {m['torch_threads']} torch threads), seed {result['seed']}; "
        f"{h['n_generated']} generated vs {result['n_real']} test images; torch {m['torch']}.",
        "KID is ×1000 (mean ± std over 100 subsets). Command: "
        f"`python bench/gan_quality.py --budget-minutes {h['budget_minutes']}`.",
        "",
        "| recipe | FID ↓ | KID×1000 ↓ | precision ↑ | recall ↑ | domain FID ↓ "
        "| images/s | steps |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Targets: default FID ≤ 15 — {'met' if h['fid_default'] <= 15 else 'not met'}; "
        f"default ≤ 0.5 × textbook DCGAN ({0.5 * h['fid_textbook_dcgan']:.2f}) — "
        f"{'met' if h['fid_default'] <= 0.5 * h['fid_textbook_dcgan'] else 'not met'}.",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-minutes", type=float, default=30.0)
    parser.add_argument("--n", type=int, default=10_000, help="generated (and real) images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "gan_quality")
    add_only(parser, RECIPES)
    parser.add_argument("--out", type=Path, default=RESULTS / "gan_quality.json")
    parser.add_argument("--table", type=Path, default=TABLE)
    args = parser.parse_args(argv)
    names = parse_only(parser, args.only, RECIPES, "recipe")
    work = args.work / f"budget{args.budget_minutes:g}-seed{args.seed}"
    share_cache()

    # All training first: each budget needs a quiet machine, while the Inception passes that
    # follow are resumable chunk by chunk and their results do not depend on the load.
    trained = {name: train_phase(name, work, args.budget_minutes, args.seed, args.device)
               for name in names}
    recipes = {name: {"train": trained[name],
                      **eval_phase(name, work, args.n, args.seed, args.device)}
               for name in names}

    result: dict[str, Any] = {
        "benchmark": "gan_quality", "machine": machine(), "seed": args.seed,
        "n_real": recipes[names[0]]["scores"]["fid"]["protocol"]["n_real"],
        "command": command_line("gan_quality.py", argv),
        "recipes": recipes,
    }
    if set(names) == set(RECIPES):
        result["headline"] = {
            "fid_default": recipes["default"]["scores"]["fid"]["value"],
            "fid_textbook_dcgan": recipes["textbook_dcgan"]["scores"]["fid"]["value"],
            "fid_original_gan": recipes["original_gan"]["scores"]["fid"]["value"],
            "kid_default": recipes["default"]["scores"]["kid"]["value"],
            "budget_minutes": args.budget_minutes, "n_generated": args.n,
            "images_per_s_default": recipes["default"]["train"]["images_per_s"],
        }
    publish("gan_quality", result, args.out,
            markdown(result) if "headline" in result else None, args.table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
