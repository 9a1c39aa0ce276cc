"""Benchmark: does GAN augmentation make a recogniser more accurate on little labelled data?

Runs `gankit augment` (real / real+classical / real+GAN / real+classical+GAN, same budget,
5 seeds) on Fashion-MNIST at each --per-class size, and the classification accuracy score of
a conditional GAN trained on the full training set (a recogniser trained on 60k generated
images only, tested on the real test set). Writes bench/results/augment.json and its section
of docs/benchmarks.md. Resumable: a finished experiment in --work is reused.

    nohup python bench/augment.py > bench/augment.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    RESULTS,
    ROOT,
    commit,
    machine,
    publish,
    share_cache,
    train_gan_once,
)

from gankit.experiments.augmentation import TEACHERS, AugmentConfig, gan_gains, run_experiment
from gankit.recognize import ClassifierConfig

HEADLINE_PER_CLASS = 100


def experiment(per_class: int, seeds: int, args: argparse.Namespace) -> dict[str, Any]:
    """One size's experiment; `gankit augment` itself resumes at the first unfinished seed,
    and a finished size with as many seeds is reused whole."""
    out = args.work / (f"pc{per_class}-g{args.gan_steps}-ms{args.mode_seeking:g}"
                       f"-r{args.ratio:g}-w{args.synthetic_weight:g}-t{args.teacher_share:g}"
                       f"-{args.teacher}-T{args.teacher_temperature:g}"
                       + ("-filter" if args.filter else ""))
    done = out / "augment.json"
    if done.is_file() and (record := json.loads(done.read_text()))["config"]["seeds"] == seeds:
        print(f"[{out.name}] already done with {seeds} seeds, reusing {done}", flush=True)
        return record
    config = AugmentConfig(data="fashion-mnist", per_class=per_class, seeds=seeds,
                           gan_steps=args.gan_steps, gan_mode_seeking=args.mode_seeking,
                           synthetic_ratio=args.ratio,
                           synthetic_weight=args.synthetic_weight,
                           teacher_share=args.teacher_share, teacher=args.teacher,
                           teacher_temperature=args.teacher_temperature,
                           filter_by_confidence=args.filter,
                           classifier=ClassifierConfig(steps=args.classifier_steps))
    print(f"[{per_class}/class] running {seeds} seeds", flush=True)
    result = run_experiment(config, out)
    result["commit"] = commit()
    done.write_text(json.dumps(result, indent=2))
    return result


def cas_full(args: argparse.Namespace) -> dict[str, Any]:
    from gankit.metrics import evaluate_run

    run = args.work / f"cas-gan-{args.cas_minutes:g}min-ms{args.mode_seeking:g}"
    done = run / "bench_cas.json"
    if done.is_file():
        return json.loads(done.read_text())
    train = train_gan_once(run, {"recipe": "default", "data": "fashion-mnist",
                                 "conditional": True, "mode_seeking": args.mode_seeking,
                                 "minutes": args.cas_minutes, "steps": 10**9,
                                 "sample_every": 5000, "checkpoint_every": 5000})
    score = evaluate_run(run, "cas", n=60_000, progress=True)["cas"]
    record = {"cas": score["value"], "protocol": score["protocol"], "train": train}
    done.write_text(json.dumps(record, indent=2))
    return record


def markdown(result: dict[str, Any]) -> str:
    rows = []
    for per_class, exp in result["experiments"].items():
        c = exp["conditions"]
        cells = " | ".join(f"{c[k]['mean']:.2f} [{c[k]['ci95'][0]:.2f}, {c[k]['ci95'][1]:.2f}]"
                           for k in c)
        cells += " | " + " | ".join(f"{g['mean']:+.2f} [{g['ci95'][0]:+.2f}, {g['ci95'][1]:+.2f}]"
                                    for g in exp["gains"].values())
        rows.append(f"| {per_class} | {exp['config']['seeds']} | {cells} | {exp['minutes']:.1f} |")
    h, m = result["headline"], result["machine"]
    gain = h["acc_real_classical_gan"] - h["acc_real_classical"]
    separated = h["ci95_real_classical_gan"][0] > h["ci95_real_classical"][1]
    return "\n".join([
        "## GAN augmentation for a recogniser (Fashion-MNIST)",
        "",
        f"{m['cpu']} ({m['cores']} cores); test accuracy % as mean [Student-t 95% interval] "
        "over seeds; a GAN gain is the accuracy difference on the same seed (same subset), "
        "in points, with its own interval; every condition trains for the same number of "
        f"updates. Command: `{result['command']}`.",
        "",
        "| labelled / class | seeds | real | real + classical | real + GAN "
        "| real + classical + GAN | GAN gain over real | GAN gain over real + classical "
        "| minutes |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"At {h['per_class']} per class, GAN images add {gain:+.2f} points to classical "
        f"augmentation (target ≥ +1.5 with separated intervals: "
        f"{'met' if gain >= 1.5 and separated else 'not met'}). "
        f"CAS of the conditional GAN trained on all 60k images: {100 * h['cas_full']:.2f}% "
        f"(target ≥ 88%: {'met' if h['cas_full'] >= 0.88 else 'not met'}).",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", default="100,10,50,500",
                        help="labelled images per class, comma-separated (100 is the headline)")
    defaults = AugmentConfig()  # gankit augment's defaults, so the benchmark measures them
    parser.add_argument("--seeds", default=str(defaults.seeds),
                        help="seeds per size: one number, or one per --per-class size")
    parser.add_argument("--gan-steps", type=int, default=defaults.gan_steps)
    parser.add_argument("--classifier-steps", type=int, default=defaults.classifier.steps)
    parser.add_argument("--mode-seeking", type=float, default=defaults.gan_mode_seeking,
                        help="the conditional GANs' mode-seeking weight (0 = off)")
    parser.add_argument("--ratio", type=float, default=defaults.synthetic_ratio)
    parser.add_argument("--synthetic-weight", type=float, default=defaults.synthetic_weight)
    parser.add_argument("--teacher-share", type=float, default=defaults.teacher_share)
    parser.add_argument("--teacher", default=defaults.teacher, choices=tuple(TEACHERS))
    parser.add_argument("--teacher-temperature", type=float,
                        default=defaults.teacher_temperature)
    parser.add_argument("--filter", action="store_true")
    parser.add_argument("--cas-minutes", type=float, default=30.0)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "augment")
    parser.add_argument("--out", type=Path, default=RESULTS / "augment.json")
    args = parser.parse_args(argv)
    share_cache()
    sizes = [int(p) for p in args.per_class.split(",") if p]
    seeds = [int(p) for p in args.seeds.split(",") if p]
    if len(seeds) == 1:
        seeds *= len(sizes)
    if len(seeds) != len(sizes):
        parser.error(f"--seeds gives {len(seeds)} counts for {len(sizes)} --per-class sizes")
    started = time.monotonic()
    experiments = {str(n): experiment(n, s, args) for n, s in zip(sizes, seeds, strict=True)}
    for exp in experiments.values():  # also for experiments finished before gains were kept
        exp["gains"] = gan_gains(exp["seeds"])
    result: dict[str, Any] = {
        "benchmark": "augment", "machine": machine(),
        "command": "python bench/augment.py " + " ".join(argv or sys.argv[1:]),
        "experiments": experiments}
    if str(HEADLINE_PER_CLASS) in experiments:
        cas = cas_full(args)
        head = experiments[str(HEADLINE_PER_CLASS)]["conditions"]
        result["cas_full"] = cas
        result["headline"] = {
            "per_class": HEADLINE_PER_CLASS,
            "acc_real_classical": head["real+classical"]["mean"],
            "acc_real_classical_gan": head["real+classical+gan"]["mean"],
            "ci95_real_classical": head["real+classical"]["ci95"],
            "ci95_real_classical_gan": head["real+classical+gan"]["ci95"],
            "cas_full": cas["cas"],
            "minutes": experiments[str(HEADLINE_PER_CLASS)]["minutes"],
        }
    result["bench_minutes"] = round((time.monotonic() - started) / 60, 1)
    publish("augment", result, args.out, markdown(result) if "headline" in result else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
