"""Benchmark: screen changes to gankit's default GAN recipe by domain FID, cheaply.

Every variant is the `default` recipe plus a few overrides, trained on Fashion-MNIST for the same
wall-clock budget with the same thread count and seeds, then scored by domain FID (10k generated
vs 10k held-out training images, features of gankit's own recogniser; ~30 s instead of ~18 min
for Inception). Several --seeds give each variant's mean ± std: the stability test. It answers
"which changes are worth a full 30-minute gan_quality run?" — a short budget favours fast
networks, so a winner here is a candidate, not a result.

Variants are named on the command line (`--variant 'NAME KEY=VALUE ...'`: the TrainConfig
fields it changes) and run after `default`; the rounds screened so far are in
docs/benchmarks.md, each row with the settings it changed. To use both cores, start two
processes with disjoint variants and --threads 1. A finished variant is kept in --work and
reused (a name whose settings changed is refused); each process rewrites
bench/results/gan_screen.json and its tables (one per budget) from every finished variant and
seed (`--rebuild` trains nothing and rebuilds just those).

    nohup python bench/gan_screen.py --threads 1 --variant 'adam8e-4 lr_g=8e-4 lr_d=8e-4' \
        > bench/screen_a.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch
from common import (
    add_timed_run_flags,
    add_variants,
    parse_variants,
    publish,
    share_cache,
    train_gan_once,
)

from gankit.stats import summarize
from gankit.train import TrainConfig, make_config

HOLDOUT = 10_000  # training images held out as the validation reference (--reference val)
METRIC = "domain-fid"


def run_variant(name: str, overrides: dict[str, Any], work: Path, minutes: float, seed: int,
                n: int, reference: str) -> dict[str, Any]:
    from gankit.metrics import evaluate_run  # after share_cache(): the recogniser is cached

    run_dir = work / name
    options = {"recipe": "default", "data": "fashion-mnist", "seed": seed, "minutes": minutes,
               "steps": 10**9, "device": "cpu", "sample_every": 10**9,
               "checkpoint_every": 10**9, "log_every": 200,
               "holdout": HOLDOUT if reference == "val" else 0, **overrides}
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
    table stays true when the default moves on). A field newer than the run counts at its
    TrainConfig default, the behaviour every option is added with."""
    plain = TrainConfig().to_dict()
    ran = {k: config.get(k, plain[k]) for k in default}
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in ran.items()
                     if k not in BOOKKEEPING and v != default[k]) or "—"


def seed_summary(by_seed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread of one variant's score over its seeds: the issue's stability rule is
    that seeds more than 20% apart (max - min over mean) disqualify a recipe as the default."""
    scores = [e[METRIC] for e in by_seed.values()]
    s = summarize(scores)
    return {"seeds": s.n, "mean": s.mean, "std": s.std, "std_over_mean": s.std / s.mean,
            "spread_over_mean": (max(scores) - min(scores)) / s.mean}


def paired_delta(mine: dict[str, Any], default: dict[str, Any]) -> str:
    """A variant's score minus the default's (seed_summary entries): on the seeds both ran,
    with a 95% t interval over the per-seed differences when there are several, else the
    difference of the means."""
    shared = sorted(set(mine["by_seed"]) & set(default["by_seed"]))
    if len(shared) < 2:
        return f"{mine['mean'] - default['mean']:+.2f}"
    gain = summarize([mine["by_seed"][s][METRIC] - default["by_seed"][s][METRIC]
                      for s in shared])
    return f"{gain.mean:+.2f} [{gain.ci95[0]:+.2f}, {gain.ci95[1]:+.2f}] (seeds paired)"


def markdown(result: dict[str, Any]) -> str:
    default = make_config({"recipe": "default"}).to_dict()
    lines = [
        "## GAN recipe screen: changes to the default, by domain FID",
        "",
        f"Fashion-MNIST, one torch thread per variant, {result['n']} generated (EMA generator) "
        f"vs {result['n']} real images by domain FID: the {HOLDOUT:,} training images every run "
        "held out (validation), or, in the rounds before 2026-12-06, the test images, on which "
        "those rounds chose settings (docs/benchmarks.md, *History*). Command: `python "
        "bench/gan_screen.py --minutes M --threads 1 --reference val --seeds S --variant "
        "'NAME KEY=VALUE …'` (each row's differences give its settings). "
        "With several seeds a row gives mean ± std and the spread (max - min over the mean; "
        "over 20% disqualifies a default). The row `default` is the default recipe of the day "
        "its round started; Δ is against that row on the seeds both ran (mean and 95% t "
        "interval of the per-seed differences), or against its mean.",
    ]
    for budget in result["budgets"]:
        variants = budget["variants"]
        against = ("validation (held-out training images)" if budget["reference"] == "val"
                   else "test images")
        lines += ["", f"**{budget['minutes']:g} min of training per variant, against "
                  f"{against}**", "",
                  "| variant | differences from today's `default` | seeds | domain FID ↓ "
                  "| spread | Δ vs row `default` | images/s | steps | trained on |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name, v in sorted(variants.items(), key=lambda kv: kv[1]["mean"]):
            runs = list(v["by_seed"].values())
            delta = ("" if "default" not in variants or name == "default"
                     else paired_delta(v, variants["default"]))
            score = f"{v['mean']:.2f}" + (f" ± {v['std']:.2f}" if v["seeds"] > 1 else "")
            spread = f"{100 * v['spread_over_mean']:.0f}%" if v["seeds"] > 1 else ""
            trained = runs[0]["train"]
            lines.append(
                f"| {name} | {differences(trained['config'], default)} | "
                f"{', '.join(v['by_seed'])} | {score} | {spread} | {delta} | "
                f"{sum(r['train']['images_per_s'] for r in runs) / len(runs):.0f} | "
                f"{sum(r['train']['steps'] for r in runs) // len(runs)} | "
                f"{trained['machine']['cpu']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_timed_run_flags(parser, "gan_screen", minutes=10.0, n=10_000)
    parser.add_argument("--reference", choices=("val", "test"), default="val",
                        help="score against held-out training images (val) or the test split "
                             "(test: only to reproduce the rounds before 2026-12-06)")
    add_variants(parser, "batch32 batch_size=32")
    parser.add_argument("--no-default", action="store_true",
                        help="do not run `default` first (a variant stands for it, e.g. on a "
                             "CPU where an earlier round's default ran in other precision)")
    parser.add_argument("--rebuild", action="store_true",
                        help="train nothing: rebuild the results file and tables from --work")
    args = parser.parse_args(argv)
    variants = parse_variants(parser, args.variant, TrainConfig)
    if "default" in variants:
        parser.error("the name 'default' is the default recipe itself; name the variant")
    torch.set_num_threads(args.threads)
    share_cache()
    suffix = "-val" if args.reference == "val" else ""
    for seed in [] if args.rebuild else args.seeds:
        work = args.work / f"min{args.minutes:g}-thr{args.threads}-seed{seed}{suffix}"
        todo = variants if args.no_default else {"default": {}, **variants}
        for name, overrides in todo.items():
            run_variant(name, overrides, work, args.minutes, seed, args.n, args.reference)

    # Every finished screen at this thread count, one table per budget and reference.
    found: dict[tuple[str, float], dict[str, dict[str, Any]]] = {}
    for path in sorted(args.work.glob(f"*-thr{args.threads}-seed*/*/bench_screen.json")):
        entry = json.loads(path.read_text())
        key = (entry.get("reference", "test"), entry["train"]["config"]["minutes"])
        found.setdefault(key, {}).setdefault(path.parent.name, {})[
            str(entry["train"]["config"]["seed"])] = entry
    if args.out.is_file():  # rounds whose --work is gone stay in the results file
        for kept in json.loads(args.out.read_text())["budgets"]:
            key = (kept.get("reference", "test"), kept["minutes"])
            for name, v in kept["variants"].items():
                # files before --seeds held one seed-0 entry per variant
                for seed, entry in v.get("by_seed", {"0": v}).items():
                    found.setdefault(key, {}).setdefault(name, {}).setdefault(seed, entry)
    budgets = [{"reference": ref, "minutes": m, "variants": {
        name: {**seed_summary(by_seed), "by_seed": dict(sorted(by_seed.items()))}
        for name, by_seed in found[ref, m].items()}}
        for ref, m in sorted(found, key=lambda k: (k[0] != "val", k[1]))]
    result = {"benchmark": "gan_screen", "threads": args.threads, "n": args.n,
              "budgets": budgets, "headline": stability(budgets)}
    publish("gan_screen", result, args.out, markdown(result), args.table)
    return 0


def stability(budgets: list[dict[str, Any]]) -> dict[str, Any]:
    """The spread over seeds of every variant that ran 3 or more seeds in a validation round:
    the issue's stability test for the default, and for the other recipes beside it."""
    return {f"{name}_{b['minutes']:g}min_val": {
        k: v[k] for k in ("seeds", "mean", "std", "std_over_mean", "spread_over_mean")}
        for b in budgets if b["reference"] == "val"
        for name, v in b["variants"].items() if v["seeds"] >= 3}


if __name__ == "__main__":
    sys.exit(main())
