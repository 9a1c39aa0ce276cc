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
    command_line,
    commit,
    machine,
    publish,
    share_cache,
    train_gan_once,
)

from gankit.experiments.augmentation import (
    DISTILLATIONS,
    TEACHER_VIEWS,
    TEACHERS,
    AugmentConfig,
    gan_gains,
    run_experiment,
)
from gankit.recognize import ClassifierConfig
from gankit.train import make_config

HEADLINE_PER_CLASS = 100
# Settings that results recorded before they existed lack: how that code behaved.
# (The recognisers trained in fp32 before they had the amp switch.)
BEFORE_THE_OPTION = {"distillation": "soft-targets", "synthetic_batch": None,
                     "classifier.amp": "off", "teacher_views": "single",
                     "gan_width": 32}  # the default recipe's
NOT_A_SETTING = ("workers",)  # how many processes ran the seeds decides no result


def augment_config(per_class: int, seeds: int, args: argparse.Namespace) -> AugmentConfig:
    return AugmentConfig(data="fashion-mnist", per_class=per_class, seeds=seeds,
                         gan_steps=args.gan_steps, gan_width=args.gan_width,
                         gan_mode_seeking=args.mode_seeking,
                         synthetic_ratio=args.ratio, synthetic_weight=args.synthetic_weight,
                         synthetic_batch=args.synthetic_batch,
                         teacher_share=args.teacher_share, teacher=args.teacher,
                         teacher_temperature=args.teacher_temperature,
                         teacher_views=args.teacher_views,
                         distillation=args.distillation, filter_by_confidence=args.filter,
                         classifier=ClassifierConfig(steps=args.classifier_steps))


def experiment(per_class: int, seeds: int, args: argparse.Namespace) -> dict[str, Any]:
    """One size's experiment; `gankit augment` itself resumes at the first unfinished seed,
    and a finished size with as many seeds is reused whole."""
    out = args.work / (f"pc{per_class}-g{args.gan_steps}-ms{args.mode_seeking:g}"
                       f"-r{args.ratio:g}-w{args.synthetic_weight:g}-t{args.teacher_share:g}"
                       f"-{args.teacher}-T{args.teacher_temperature:g}"
                       # the default leaves the name that runs before the option had
                       + ("" if args.distillation == AugmentConfig.distillation
                          else f"-{args.distillation}")
                       + ("" if args.synthetic_batch is None else f"-sb{args.synthetic_batch}")
                       # what every run before these options had leaves the name as it was
                       + ("" if args.gan_width == BEFORE_THE_OPTION["gan_width"]
                          else f"-gw{args.gan_width}")
                       + ("" if args.teacher_views == BEFORE_THE_OPTION["teacher_views"]
                          else f"-{args.teacher_views}")
                       # 600: the recognisers' updates in every run before the name had them
                       + ("" if args.classifier_steps == 600 else f"-cs{args.classifier_steps}")
                       + ("-filter" if args.filter else ""))
    done = out / "augment.json"
    config = augment_config(per_class, seeds, args)
    if done.is_file() and not differences(config, (record := json.loads(done.read_text()))):
        print(f"[{out.name}] already done with {seeds} seeds, reusing {done}", flush=True)
        return record
    print(f"[{per_class}/class] running {seeds} seeds", flush=True)
    result = run_experiment(config, out)
    result["commit"] = commit()
    done.write_text(json.dumps(result, indent=2))
    return result


def carried_over(args: argparse.Namespace,
                 sizes: list[int]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The experiments of the sizes this run does not train, and the CAS record, from the
    earlier results file --keep-from, each marked with the command and the settings it ran
    with where they differ from this run's (what a reader must know to compare rows)."""
    if args.keep_from is None:
        return {}, None
    earlier = json.loads(args.keep_from.read_text())
    experiments = {}
    for name, exp in earlier["experiments"].items():
        if int(name) in sizes:
            continue
        differs = differences(augment_config(int(name), exp["config"]["seeds"], args), exp)
        origin = exp.get("carried_from", earlier["command"])  # where it ran, if carried twice
        experiments[name] = {**exp, "carried_from": origin, "differs": differs}
    cas = earlier.get("cas_full")
    return experiments, cas and {**cas, "carried_from": cas.get("carried_from",
                                                                earlier["command"])}


def differences(config: AugmentConfig, experiment: dict[str, Any]) -> dict[str, Any]:
    """The settings of a recorded `experiment` that differ from `config`, by their values
    in the experiment."""
    now = _flat(config.to_dict())
    then = {**BEFORE_THE_OPTION, **_flat(experiment["config"])}
    return {k: then[k] for k, v in now.items() if k not in NOT_A_SETTING and then[k] != v}


def _flat(config: dict[str, Any]) -> dict[str, Any]:
    """The settings with the recogniser's spelled out ("classifier.lr"), so that a difference
    names the one that differs."""
    flat = {k: v for k, v in config.items() if k != "classifier"}
    flat.update({f"classifier.{k}": v for k, v in config["classifier"].items()})
    return flat


def cas_full(args: argparse.Namespace, carried: dict[str, Any] | None) -> dict[str, Any]:
    from gankit.metrics import evaluate_run

    run = args.work / f"cas-gan-{args.cas_minutes:g}min-ms{args.mode_seeking:g}"
    done = run / "bench_cas.json"
    if done.is_file():
        return json.loads(done.read_text())
    options = {"recipe": "default", "data": "fashion-mnist", "conditional": True,
               "mode_seeking": args.mode_seeking, "minutes": args.cas_minutes,
               "steps": 10**9, "sample_every": 5000, "checkpoint_every": 5000}
    # An earlier score counts only if its GAN trained with today's settings (the default
    # recipe changes as it is tuned).
    today = json.loads(json.dumps(make_config(options).to_dict()))
    if carried is not None and carried["train"]["config"] == today:
        return carried
    train = train_gan_once(run, options)
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
        mark = " †" if "carried_from" in exp else ""
        rows.append(f"| {per_class}{mark} | {exp['config']['seeds']} | {cells} "
                    f"| {exp['minutes']:.1f} |")
    carried: dict[str, list[str]] = {}  # origin command -> its rows, with what differs
    for n, e in result["experiments"].items():
        if "carried_from" in e:
            differs = ", ".join(f"{k}={v}" for k, v in e["differs"].items())
            carried.setdefault(e["carried_from"], []).append(
                f"{n} per class at commit {e['commit']}" + (f" ({differs})" if differs else ""))
    carried_note = ["† carried over unchanged from "
                    + "; ".join(f"`{cmd}`: {', '.join(rows)}" for cmd, rows in carried.items())
                    + ". Settings named in brackets differ from this run's; the others match.",
                    ""] if carried else []
    cas = result["cas_full"]
    h, m = result["headline"], result["machine"]
    head = result["experiments"][str(h["per_class"])]
    # experiments from before side-by-side workers ran in one process, on the machine's threads
    workers = head["config"].get("workers") or 1
    threads = sorted({t for s in head["seeds"] for t in s.get("threads", [])}) \
        or [m["torch_threads"]]
    bf16 = {part for s in head["seeds"] for part, on in s.get("bf16", {}).items() if on}
    precision = (f"bf16 autocast for the {' and '.join(sorted(bf16))}" if bf16
                 else "fp32") + " (gankit.train.speed)"
    gain = h["acc_real_classical_gan"] - h["acc_real_classical"]
    separated = h["ci95_real_classical_gan"][0] > h["ci95_real_classical"][1]
    return "\n".join([
        "## GAN augmentation for a recogniser (Fashion-MNIST)",
        "",
        f"{m['cpu']} ({m['cores']} cores); test accuracy % as mean [Student-t 95% interval] "
        "over seeds; a GAN gain is the accuracy difference on the same seed (same subset), "
        "in points, with its own interval; every condition trains for the same number of "
        f"updates. Command: `{result['command']}`. The {h['per_class']}-per-class experiment "
        f"ran its tasks in {workers} worker process{'es' if workers > 1 else ''} of "
        f"{'/'.join(map(str, threads))} "
        f"torch thread(s) each, in {precision}; its minutes are wall-clock time.",
        "",
        "| labelled / class | seeds | real | real + classical | real + GAN "
        "| real + classical + GAN | GAN gain over real | GAN gain over real + classical "
        "| minutes |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        *carried_note,
        f"At {h['per_class']} per class, GAN images add {gain:+.2f} points to classical "
        f"augmentation (target ≥ +1.5 with separated intervals: "
        f"{'met' if gain >= 1.5 and separated else 'not met'}). "
        f"CAS of the conditional GAN trained on all 60k images "
        f"({cas['train']['config']['minutes']:g} minutes, {cas['train']['steps']:,} updates): "
        f"{100 * h['cas_full']:.2f}% "
        f"(target ≥ 88%: {'met' if h['cas_full'] >= 0.88 else 'not met'})"
        # a carried CAS trained with today's settings (cas_full), so its commit says enough
        + (f"; carried over from `{cas['carried_from']}` (GAN trained at commit "
           f"{cas['train']['commit']})" if "carried_from" in cas else "") + ".",
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
    parser.add_argument("--gan-width", type=int, default=defaults.gan_width)
    parser.add_argument("--classifier-steps", type=int, default=defaults.classifier.steps)
    parser.add_argument("--mode-seeking", type=float, default=defaults.gan_mode_seeking,
                        help="the conditional GANs' mode-seeking weight (0 = off)")
    parser.add_argument("--ratio", type=float, default=defaults.synthetic_ratio)
    parser.add_argument("--synthetic-weight", type=float, default=defaults.synthetic_weight)
    parser.add_argument("--synthetic-batch", type=int, default=defaults.synthetic_batch)
    parser.add_argument("--teacher-share", type=float, default=defaults.teacher_share)
    parser.add_argument("--teacher", default=defaults.teacher, choices=tuple(TEACHERS))
    parser.add_argument("--teacher-temperature", type=float,
                        default=defaults.teacher_temperature)
    parser.add_argument("--teacher-views", default=defaults.teacher_views,
                        choices=TEACHER_VIEWS)
    parser.add_argument("--distillation", default=defaults.distillation,
                        choices=tuple(DISTILLATIONS))
    parser.add_argument("--filter", action="store_true")
    parser.add_argument("--cas-minutes", type=float, default=30.0)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "augment")
    parser.add_argument("--out", type=Path, default=RESULTS / "augment.json")
    parser.add_argument("--keep-from", type=Path,
                        help="an earlier results file whose other sizes and CAS to carry over "
                             "(marked in the table) instead of running them")
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
    carried_experiments, carried_cas = carried_over(args, sizes)
    experiments.update(carried_experiments)
    for exp in experiments.values():  # also for experiments finished before gains were kept
        exp["gains"] = gan_gains(exp["seeds"])
    result: dict[str, Any] = {
        "benchmark": "augment", "machine": machine(),
        "command": command_line("augment.py", argv),
        "experiments": experiments}
    if str(HEADLINE_PER_CLASS) in experiments:
        cas = cas_full(args, carried_cas)
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
