"""Benchmark: screen changes to gankit's default GAN recipe by domain FID, cheaply.

Every variant is the `default` recipe plus a few overrides, trained on Fashion-MNIST for the same
wall-clock budget with the same thread count and seed, then scored by domain FID (10k generated
vs the 10k test images, features of gankit's own recogniser; ~30 s instead of ~18 min for
Inception). It answers "which changes are worth a full 30-minute gan_quality run?" — a short
budget favours fast networks, so a winner here is a candidate, not a result.

Runs one variant after another; to use both cores, start two processes with disjoint --only
lists and --threads 1. A finished variant is kept in --work and reused; each process rewrites
bench/results/gan_screen.json and its table from every finished variant in --work.

    nohup python bench/gan_screen.py --threads 1 --only default,ttur > bench/screen_a.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch
from common import RESULTS, ROOT, TABLE, machine, publish, share_cache, train_gan_once

VARIANTS: dict[str, dict[str, Any]] = {  # name -> overrides of the default recipe
    "default": {},
    "ttur": {"lr_g": 1e-4, "lr_d": 4e-4},
    "lr4e-4": {"lr_g": 4e-4, "lr_d": 4e-4},
    "beta0.0-0.99": {"beta1": 0.0, "beta2": 0.99},
    "batch32": {"batch_size": 32},
    "batch128": {"batch_size": 128},
    "width48": {"width": 48},
    "width64": {"width": 64},
    "nonsaturating": {"loss": "nonsaturating"},
    "r1-0.1": {"r1": 0.1},
    "d_steps2": {"d_steps": 2},
    "diffaugment-translation": {"diffaugment": "translation"},
    "ema0.9999": {"ema": 0.9999},
    "sngan": {"recipe": "sngan"},
}
METRIC = "domain-fid"


def run_variant(name: str, work: Path, minutes: float, seed: int, n: int) -> dict[str, Any]:
    from gankit.metrics import evaluate_run  # after share_cache(): the recogniser is cached

    run_dir = work / name
    options = {"recipe": "default", "data": "fashion-mnist", "seed": seed, "minutes": minutes,
               "steps": 10**9, "device": "cpu", "sample_every": 10**9,
               "checkpoint_every": 10**9, "log_every": 200, **VARIANTS[name]}
    record = train_gan_once(run_dir, options)
    scored = run_dir / "bench_screen.json"
    if not scored.is_file():
        scores = evaluate_run(run_dir, [METRIC], n=n, seed=seed, device="cpu", progress=False)
        scored.write_text(json.dumps({"overrides": VARIANTS[name], "train": record,
                                      METRIC: scores[METRIC]["value"]}, indent=2))
        print(f"[{name}] {METRIC} {scores[METRIC]['value']:.2f}", flush=True)
    return json.loads(scored.read_text())


def markdown(result: dict[str, Any]) -> str:
    base = result["variants"].get("default", {}).get(METRIC)
    rows = []
    for name, v in sorted(result["variants"].items(), key=lambda kv: kv[1][METRIC]):
        delta = "" if base is None or name == "default" else f"{v[METRIC] - base:+.2f}"
        overrides = ", ".join(f"{k}={w}" for k, w in v["overrides"].items()) or "—"
        rows.append(f"| {name} | {overrides} | {v[METRIC]:.2f} | {delta} | "
                    f"{v['train']['images_per_s']:.0f} | {v['train']['steps']} |")
    m = result["machine"]
    return "\n".join([
        "## GAN recipe screen: changes to the default, by domain FID",
        "",
        f"Fashion-MNIST, {result['minutes']:g} min of training per variant on {m['cpu']} with "
        f"{result['threads']} torch thread(s) (two variants at a time), seed {result['seed']}; "
        f"domain FID of {result['n']} generated vs {result['n']} test images (EMA generator). "
        "Command: `python bench/gan_screen.py --threads 1 --only …` (two processes).",
        "",
        "| variant | overrides of `default` | domain FID ↓ | Δ vs default | images/s | steps |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per variant")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--n", type=int, default=10_000, help="generated (and real) images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=",".join(VARIANTS),
                        help="comma-separated subset of: " + ", ".join(VARIANTS))
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "gan_screen")
    parser.add_argument("--out", type=Path, default=RESULTS / "gan_screen.json")
    parser.add_argument("--table", type=Path, default=TABLE)
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown}; choose from {', '.join(VARIANTS)}")
    torch.set_num_threads(args.threads)
    share_cache()
    work = args.work / f"min{args.minutes:g}-thr{args.threads}-seed{args.seed}"
    for name in names:
        run_variant(name, work, args.minutes, args.seed, args.n)

    finished = {p.parent.name: json.loads(p.read_text())
                for p in sorted(work.glob("*/bench_screen.json"))}
    result = {"benchmark": "gan_screen", "machine": machine(), "minutes": args.minutes,
              "threads": args.threads, "seed": args.seed, "n": args.n, "variants": finished}
    publish("gan_screen", result, args.out, markdown(result), args.table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
