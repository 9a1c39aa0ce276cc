"""Benchmark: do GAN images make a recogniser more accurate than the best non-GAN recipe?

Runs `gankit augment` with its defaults on each dataset (fashion-mnist and mnist-10k at 100
labelled images per class, digits at 50; 5 seeds) and writes bench/results/augment.json, whose
`headline` holds each dataset's verdict, and its section of docs/benchmarks.md. Resumable:
`gankit augment` reuses every finished seed and task in --work.

    nohup python bench/augment.py > bench/augment.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from common import RESULTS, ROOT, bf16_units, command_line, commit, machine, publish, share_cache

from gankit.experiments.augmentation import AugmentConfig, run_experiment
from gankit.experiments.verdict import markdown_table

MNIST_10K = ROOT.parent / "shared" / "datasets" / "mnist-10k"
# name in the results -> (gankit data name, labelled images per class)
DATASETS = {"fashion-mnist": ("fashion-mnist", 100),
            "mnist-10k": (f"folder:{MNIST_10K}", 100),
            "digits": ("digits", 50)}  # 1,437 train images: ~144 a class


def headline(result: dict[str, Any]) -> dict[str, Any]:
    v = result["verdict"]
    keys = ("best_baseline", "acc_best_baseline", "best_gan", "acc_best_gan", "gain",
            "gain_ci95", "seeds", "sentence")
    return {**{k: v[k] for k in keys}, "per_class": v["per_class"],
            "minutes": result["minutes"]}


def machine_line(m: dict[str, Any], bf16: bool) -> str:
    return (f"{m['cpu']} ({m['cores']} cores, {m['cpu_capability']}, {bf16_units(m)}; "
            f"{'bf16 autocast' if bf16 else 'fp32'}), torch {m['torch']}")


def markdown(result: dict[str, Any]) -> str:
    sections = [
        "## GAN augmentation against the strongest non-GAN recipe",
        "",
        "Each dataset names the machine and commit it ran at. Accuracy % as mean "
        "[Student-t 95% interval] over seeds; each seed draws its own labelled subset and holds "
        "out a fifth of each class for validation, which alone chooses the student's "
        "augmentation and the best conditions; the test split is read once per recogniser. "
        "Minutes are each task's own time (workers overlap them) and, in the last column, that "
        "time plus what the condition needs (teachers, GAN).",
        ""]
    for name, exp in result["experiments"].items():
        bf16 = any(on for s in exp["seeds"] for on in s["bf16"].values())
        command = f"python bench/augment.py --datasets {name} --seeds {exp['config']['seeds']}"
        where = machine_line(exp["machine"], bf16)
        sections += [f"### {name}", "", f"`{command}` (commit {exp['commit']}; {where})", "",
                     markdown_table(exp)]
    return "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help="comma-separated, of: " + ", ".join(DATASETS))
    parser.add_argument("--seeds", type=int, default=AugmentConfig.seeds)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "augment")
    parser.add_argument("--out", type=Path, default=RESULTS / "augment.json")
    args = parser.parse_args(argv)
    names = [n for n in args.datasets.split(",") if n]
    unknown = sorted(set(names) - set(DATASETS))
    if unknown:
        parser.error(f"unknown dataset {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    share_cache()
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    # the datasets this call does not run, as an earlier call left them
    experiments = {k: {"machine": previous["machine"], **v}
                   for k, v in previous.get("experiments", {}).items() if k in DATASETS}
    for name in names:
        data, per_class = DATASETS[name]
        config = replace(AugmentConfig(), data=data, per_class=per_class, seeds=args.seeds)
        print(f"[{name}] {per_class} per class, {args.seeds} seeds", flush=True)
        experiments[name] = {**run_experiment(config, args.work / f"{name}-pc{per_class}"),
                             "commit": commit(), "machine": machine()}
        print(experiments[name]["verdict"]["sentence"], flush=True)
    result = {"benchmark": "augment", "machine": machine(),
              "command": command_line("augment.py", argv), "commit": commit(),
              "experiments": experiments,
              "headline": {n: headline(e) for n, e in experiments.items()}}
    publish("augment", result, args.out, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
