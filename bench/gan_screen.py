"""Benchmark: screen changes to gankit's default GAN recipe by domain FID, cheaply.

Every variant is the `default` recipe plus a few overrides, trained on Fashion-MNIST for the same
wall-clock budget with the same thread count and seed, then scored by domain FID (10k generated
vs the 10k test images, features of gankit's own recogniser; ~30 s instead of ~18 min for
Inception). It answers "which changes are worth a full 30-minute gan_quality run?" — a short
budget favours fast networks, so a winner here is a candidate, not a result.

Runs one variant after another; to use both cores, start two processes with disjoint --only
lists and --threads 1. A finished variant is kept in --work and reused; each process rewrites
bench/results/gan_screen.json and its tables (one per budget) from every finished variant
(`--only ''` rebuilds just those).

    nohup python bench/gan_screen.py --threads 1 --only default,adam8e-4 > bench/screen_a.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch
from common import (
    RESULTS,
    ROOT,
    TABLE,
    add_only,
    machine,
    parse_only,
    publish,
    share_cache,
    train_gan_once,
)

from gankit.train import make_config

# name -> overrides of the default recipe. Earlier rounds' variants (the Adam steps and betas,
# TTUR, width, batch, loss, R1, D steps, DiffAugment, EMA, SN-GAN, learning-rate decay) are
# retired here; their rows stay in the results file, which keeps every finished round.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "adam8e-4": {"lr_g": 8e-4, "lr_d": 8e-4},
    "adam1.6e-3": {"lr_g": 1.6e-3, "lr_d": 1.6e-3},
    "r3gan": {"recipe": "r3gan"},
    "r3gan-lazy8": {"recipe": "r3gan", "reg_every": 8},
    "r3gan-w16-lazy8": {"recipe": "r3gan", "width": 16, "reg_every": 8},
}
HOLDOUT = 10_000  # training images held out as the validation reference (--reference val)
METRIC = "domain-fid"


def run_variant(name: str, work: Path, minutes: float, seed: int, n: int,
                reference: str) -> dict[str, Any]:
    from gankit.metrics import evaluate_run  # after share_cache(): the recogniser is cached

    run_dir = work / name
    options = {"recipe": "default", "data": "fashion-mnist", "seed": seed, "minutes": minutes,
               "steps": 10**9, "device": "cpu", "sample_every": 10**9,
               "checkpoint_every": 10**9, "log_every": 200,
               "holdout": HOLDOUT if reference == "val" else 0, **VARIANTS[name]}
    record = train_gan_once(run_dir, options)
    scored = run_dir / "bench_screen.json"
    if not scored.is_file():
        scores = evaluate_run(run_dir, [METRIC], n=n, seed=seed, reference_split=reference,
                              device="cpu", progress=False)
        scored.write_text(json.dumps({"train": record, "reference": reference,
                                      METRIC: scores[METRIC]["value"]}, indent=2))
        print(f"[{name}] {METRIC} {scores[METRIC]['value']:.2f}", flush=True)
    return json.loads(scored.read_text())


BOOKKEEPING = {"recipe", "minutes", "steps", "seed", "device", "log_every", "sample_every",
               "checkpoint_every", "holdout"}


def differences(config: dict[str, Any], default: dict[str, Any]) -> str:
    """The settings in which a stored run's config differs from today's default recipe (the
    table stays true when the default moves on)."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in config.items()
                     if k not in BOOKKEEPING and v != default[k]) or "—"


def markdown(result: dict[str, Any]) -> str:
    m, default = result["machine"], make_config({"recipe": "default"}).to_dict()
    lines = [
        "## GAN recipe screen: changes to the default, by domain FID",
        "",
        f"Fashion-MNIST on {m['cpu']}, two variants at a time with one torch thread each, "
        f"seed {result['seed']}; domain FID of {result['n']} generated (EMA generator) vs "
        f"{result['n']} real images: the {HOLDOUT:,} training images every run held out "
        "(validation), or, in the rounds before 2026-12-06, the test images, on which those "
        "rounds chose settings (docs/benchmarks.md, *History*). Command: `python "
        "bench/gan_screen.py --minutes M --threads 1 --reference val --only …` (two processes). "
        "The row `default` is the default recipe of the day its round started; Δ is against "
        "that row.",
    ]
    for budget in result["budgets"]:
        variants = budget["variants"]
        base = variants.get("default", {}).get(METRIC)
        against = ("validation (held-out training images)" if budget["reference"] == "val"
                   else "test images")
        lines += ["", f"**{budget['minutes']:g} min of training per variant, against "
                  f"{against}**", "",
                  "| variant | differences from today's `default` | domain FID ↓ "
                  "| Δ vs row `default` | images/s | steps |", "|---|---|---|---|---|---|"]
        for name, v in sorted(variants.items(), key=lambda kv: kv[1][METRIC]):
            delta = "" if base is None or name == "default" else f"{v[METRIC] - base:+.2f}"
            changed = differences(v["train"]["config"], default)
            lines.append(f"| {name} | {changed} | {v[METRIC]:.2f} | {delta} |"
                         f" {v['train']['images_per_s']:.0f} | {v['train']['steps']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per variant")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--n", type=int, default=10_000, help="generated (and real) images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference", choices=("val", "test"), default="val",
                        help="score against held-out training images (val) or the test split "
                             "(test: only to reproduce the rounds before 2026-12-06)")
    add_only(parser, VARIANTS)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "gan_screen")
    parser.add_argument("--out", type=Path, default=RESULTS / "gan_screen.json")
    parser.add_argument("--table", type=Path, default=TABLE)
    args = parser.parse_args(argv)
    names = parse_only(parser, args.only, VARIANTS, "variant")
    torch.set_num_threads(args.threads)
    share_cache()
    suffix = "-val" if args.reference == "val" else ""
    work = args.work / f"min{args.minutes:g}-thr{args.threads}-seed{args.seed}{suffix}"
    for name in names:
        run_variant(name, work, args.minutes, args.seed, args.n, args.reference)

    # Every finished screen at this thread count and seed, one table per budget and reference.
    by_budget: dict[tuple[str, float], dict[str, Any]] = {}
    rounds = [f"*-thr{args.threads}-seed{args.seed}{end}/*/bench_screen.json"
              for end in ("", "-val")]  # not "seed1*", which would take seed 10 too
    for path in sorted(p for pattern in rounds for p in args.work.glob(pattern)):
        entry = json.loads(path.read_text())
        key = (entry.get("reference", "test"), entry["train"]["config"]["minutes"])
        by_budget.setdefault(key, {})[path.parent.name] = entry
    if args.out.is_file():  # rounds whose --work is gone stay in the results file
        for kept in json.loads(args.out.read_text())["budgets"]:
            by_budget.setdefault((kept.get("reference", "test"), kept["minutes"]),
                                 kept["variants"])
    budgets = [{"reference": ref, "minutes": m, "variants": by_budget[ref, m]}
               for ref, m in sorted(by_budget, key=lambda k: (k[0] != "val", k[1]))]
    result = {"benchmark": "gan_screen", "machine": machine(), "threads": args.threads,
              "seed": args.seed, "n": args.n, "budgets": budgets}
    publish("gan_screen", result, args.out, markdown(result), args.table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
