"""Benchmark: mode coverage on StackedMNIST built from mnist-10k, the field's stability test.

Each image of `stacked:mnist-10k` stacks three random digits of mnist-10k's 8k training images
as its RGB channels, so the data has 1,000 modes (Metz et al. 2017). Every recipe trains on it
for the same wall-clock budget and seed; then --n generated images (26,000, as in PacGAN, Lin et
al. 2018, and R3GAN, Huang et al. 2024) have each channel read by gankit's own digit recogniser
(trained on the same 8k images), and the benchmark counts the modes hit and the KL divergence
of the mode histogram to uniform. R3GAN reports 1,000 modes and KL 0.078 with RpGAN + R1 + R2.

A finished recipe is kept in --work and reused; every process rewrites
bench/results/modes.json and its table from all finished runs of the same budget (those in
--work and those already in the file).

    nohup python bench/modes.py --minutes 30 --threads 1 --only default > bench/modes.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch
from common import (
    MNIST10K,
    add_only,
    add_timed_run_flags,
    command_line,
    commands_sentence,
    parse_only,
    publish,
    share_cache,
    train_gan_once,
)

RECIPES = ("default", "dcgan", "original", "sngan", "r3gan")
DATA = f"stacked:{MNIST10K}"


def run_recipe(recipe: str, work: Path, minutes: float, seed: int, n: int,
               command: str) -> dict[str, Any]:
    from gankit.metrics import evaluate_run  # after share_cache(): the reader is cached

    run_dir = work / f"{recipe}-seed{seed}"
    record = train_gan_once(run_dir, {
        "recipe": recipe, "data": DATA, "seed": seed, "minutes": minutes, "steps": 10**9,
        "device": "cpu", "sample_every": 10**9, "checkpoint_every": 10**9, "log_every": 200})
    scored = run_dir / "bench_modes.json"
    if not scored.is_file():
        modes = evaluate_run(run_dir, ["modes"], n=n, seed=seed, device="cpu",
                             progress=False)["modes"]
        scored.write_text(json.dumps({"recipe": recipe, "seed": seed, "command": command,
                                      "train": record, "modes": modes}, indent=2))
        print(f"[{run_dir.name}] {modes['modes']} modes, KL {modes['kl_to_uniform']:.3f}",
              flush=True)
    return json.loads(scored.read_text())


def headline(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per recipe: the lowest mode count over its seeds (a recipe is as good as its worst
    seed) and the mean KL."""
    out: dict[str, Any] = {}
    for recipe in RECIPES:
        mine = [r["modes"] for r in runs if r["recipe"] == recipe]
        if mine:
            out[f"stacked_modes_{recipe}"] = min(m["modes"] for m in mine)
            out[f"stacked_kl_{recipe}"] = sum(m["kl_to_uniform"] for m in mine) / len(mine)
            out[f"seeds_{recipe}"] = len(mine)
    if "stacked_modes_default" in out:
        out["goal_met"] = out["stacked_modes_default"] >= 990
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "## Mode coverage: StackedMNIST from mnist-10k (1,000 modes)", "",
        f"{result['minutes']:g} min of training per run; {result['n']:,} generated images per "
        "run, each channel read by gankit's recogniser of mnist-10k (test accuracy in the "
        "table). The training set has 8,000 stacked images, 8 per mode on average. "
        + commands_sentence(result["runs"]), "",
        "| recipe | seed | modes ↑ | KL to uniform ↓ | reader test acc | steps | images/s "
        "| trained on |", "|---|---|---|---|---|---|---|---|"]
    for r in result["runs"]:
        m, t = r["modes"], r["train"]
        lines.append(f"| {r['recipe']} | {r['seed']} | {m['modes']} | {m['kl_to_uniform']:.3f} "
                     f"| {m['protocol']['reader_test_accuracy']:.4f} | {t['steps']} | "
                     f"{t['images_per_s']:.0f} | {t['machine']['cpu']}, "
                     f"{t['machine']['torch_threads']} thread(s) |")
    h = result["headline"]
    if "goal_met" in h:
        lines += ["", f"Target: default ≥ 990 modes on every seed — "
                      f"{h['stacked_modes_default']} ({'met' if h['goal_met'] else 'not met'})."]
    return "\n".join(lines) + "\n"


def stored_runs(out: Path, minutes: float) -> list[dict[str, Any]]:
    """The runs of the same budget already in the results file: they stay when their --work
    is gone."""
    if not out.is_file():
        return []
    stored = json.loads(out.read_text())
    return stored["runs"] if stored["minutes"] == minutes else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_timed_run_flags(parser, "modes", minutes=30.0, n=26_000)
    add_only(parser, RECIPES)
    args = parser.parse_args(argv)
    recipes = parse_only(parser, args.only, RECIPES, "recipe")
    torch.set_num_threads(args.threads)
    share_cache()
    work = args.work / f"min{args.minutes:g}-thr{args.threads}"
    command = command_line("modes.py", argv)
    for seed in args.seeds:
        for recipe in recipes:
            run_recipe(recipe, work, args.minutes, seed, args.n, command)
    by_run = {(r["recipe"], r["seed"]): r for r in stored_runs(args.out, args.minutes)}
    by_run.update({(r["recipe"], r["seed"]): r for r in
                   (json.loads(p.read_text()) for p in work.glob("*/bench_modes.json"))})
    runs = [by_run[k] for k in sorted(by_run, key=lambda k: (RECIPES.index(k[0]), k[1]))]
    result = {"benchmark": "modes", "minutes": args.minutes, "threads": args.threads,
              "n": args.n, "runs": runs,
              "headline": headline(runs)}
    publish("modes", result, args.out, markdown(result), args.table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
