"""Benchmark: looking inside GANs (issue #34).

Directions: the default recipe trained for --gan-steps on each dataset (or --runs given), then
`gankit explore`: the share of the top-10 SeFa and GANSpace directions that keep the class
while changing the image more than a random direction, and the time explore takes.

Stability: deliberately unstable settings (--unstable: learning rates x10, the saturating
minimax loss, no EMA, and combinations) trained on --sweep-data for --sweep-steps, each with
the self-correction on (--rollbacks 2) and off (0), over --seeds: how many runs the detector
caught and brought to the end of their budget, how many stopped, and how many ended collapsed
(fixed-noise spread below the collapse threshold) or far worse in domain FID.

    nohup python bench/explore.py > bench/explore.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    MNIST10K,
    RESULTS,
    ROOT,
    bf16_units,
    command_line,
    commit,
    machine,
    publish,
    share_cache,
    short,
    train_gan_once,
)

from gankit.errors import DivergenceError
from gankit.explore import explore_run
from gankit.metrics import evaluate_run
from gankit.train import RECIPES, GANTrainer, make_config
from gankit.train.trainer import COLLAPSE_SPREAD

DEFAULT = RECIPES.get("default")
UNSTABLE = {
    "lr x10": {"lr_g": 10 * DEFAULT["lr_g"], "lr_d": 10 * DEFAULT["lr_d"]},
    "minimax": {"loss": "minimax"},
    "minimax, no EMA": {"loss": "minimax", "ema": 0.0},
    "lr x10, minimax, no EMA": {"lr_g": 10 * DEFAULT["lr_g"], "lr_d": 10 * DEFAULT["lr_d"],
                                "loss": "minimax", "ema": 0.0},
}


def directions(args: argparse.Namespace) -> dict[str, Any]:
    out = {}
    given = args.runs.split(",") if args.runs else [""] * len(args.datasets.split(","))
    # an empty entry: train that dataset's run here
    runs = {d: r for d, r in zip(args.datasets.split(","), given, strict=True) if r}
    for dataset in args.datasets.split(","):
        name = short(dataset)
        run = Path(runs[dataset]) if dataset in runs else args.work / f"gan-{name}"
        if dataset not in runs:
            train_gan_once(run, {"data": dataset, "steps": args.gan_steps,
                                 "sample_every": args.gan_steps, "log_every": 500})
        started = time.monotonic()
        result = explore_run(run)
        seconds = time.monotonic() - started
        out[name] = {"run": str(run), "explore_seconds": round(seconds, 1),
                     "random_change_median": result["random_change_median"],
                     **{m: {"share_keep_class_and_change": r["share_keep_class_and_change"],
                            "class_kept": [d["class_kept"] for d in r["directions"]],
                            "change": [d["change"] for d in r["directions"]]}
                        for m, r in result["methods"].items()}}
        print(f"[explore {name}] {out[name]}", flush=True)
    return out


def sweep_run(args: argparse.Namespace, setting: str, rollbacks: int, seed: int) -> dict:
    slug = setting.replace(", ", "-").replace(" ", "")
    run = args.work / "sweep" / f"{slug}-r{rollbacks}-s{seed}"
    done = run / "bench_sweep.json"
    if done.is_file():
        return json.loads(done.read_text())
    config = make_config({"data": args.sweep_data, "steps": args.sweep_steps, "seed": seed,
                          "rollbacks": rollbacks, "checkpoint_every": 250, "log_every": 50,
                          "sample_every": args.sweep_steps, **UNSTABLE[setting]})
    trainer = GANTrainer(config, run, progress=False, tensorboard=False)
    record: dict[str, Any] = {"setting": setting, "rollbacks_allowed": rollbacks, "seed": seed}
    try:
        trainer.fit()
        record["outcome"] = "finished"
    except DivergenceError as err:
        record["outcome"], record["stopped_with"] = "stopped", str(err)
    rows = [json.loads(line) for line in trainer.run.metrics.read_text().splitlines()]
    record["rollbacks"] = [r for r in rows if r.get("event") == "rollback"]
    record["spread_share"] = trainer.spread_share(trainer.sampling_generator())
    record["collapsed"] = not record["spread_share"] >= COLLAPSE_SPREAD  # NaN: collapsed
    if record["outcome"] == "finished":
        record["domain_fid"] = evaluate_run(run, "domain-fid", n=2000,
                                            progress=False)["domain-fid"]["value"]
    run.mkdir(parents=True, exist_ok=True)
    done.write_text(json.dumps(record, indent=2))
    print(f"[sweep] {setting} r{rollbacks} s{seed}: {record['outcome']}, "
          f"{len(record['rollbacks'])} rollbacks, spread {record['spread_share']:.2f}, "
          f"domain FID {record.get('domain_fid')}", flush=True)
    return record


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = ["## Looking inside GANs: latent directions and self-correcting training", "",
             f"{m['cpu']} ({m['cores']} cores, {bf16_units(m)}), torch {m['torch']}. "
             f"Command: `{result['command']}`.", ""]
    if result.get("directions"):
        lines += ["| data | method | top-10 keeping the class while changing the image | "
                  "explore s |", "|---|---|---|---|"]
        for data, r in result["directions"].items():
            for method in ("sefa", "ganspace"):
                lines.append(f"| {data} | {method} | "
                             f"{100 * r[method]['share_keep_class_and_change']:.0f}% | "
                             f"{r['explore_seconds']:.0f} |")
        lines.append("")
    if result.get("sweep"):
        lines += ["| setting | rollbacks allowed | runs | finished | stopped | rolled back "
                  "(finished) | collapsed at the end | median domain FID (finished) |",
                  "|---|---|---|---|---|---|---|---|"]
        for key, group in result["sweep_summary"].items():
            lines.append(f"| {key} | " + " | ".join(str(v) for v in group.values()) + " |")
        lines.append("")
    lines += [f"**Verdict.** {result['verdict']}", ""] if result.get("verdict") else []
    return "\n".join(lines)


def verdict(result: dict[str, Any]) -> str:
    """What the numbers say, computed from them."""
    said = [f"On {data}, {round(10 * r['sefa']['share_keep_class_and_change'])} of the top 10 "
            f"SeFa and {round(10 * r['ganspace']['share_keep_class_and_change'])} of the top 10 "
            "GANSpace directions keep the class while changing the image more than a random "
            "direction does." for data, r in result.get("directions", {}).items()]
    if result.get("sweep"):
        def runs(allowed: int) -> list[dict[str, Any]]:
            return [r for r in result["sweep"] if r["rollbacks_allowed"] == allowed]

        on, off = runs(2), runs(0)
        recovered = sum(r["outcome"] == "finished" and bool(r["rollbacks"]) for r in on)
        said.append(f"Of {len(on)} deliberately unstable runs with rollbacks, {recovered} "
                    f"rolled back and finished, {sum(r['outcome'] == 'stopped' for r in on)} "
                    f"stopped and {sum(r['collapsed'] for r in on)} ended collapsed; without "
                    f"rollbacks {sum(r['collapsed'] for r in off)} of {len(off)} ended "
                    "collapsed.")
    return " ".join(said)


def summarise(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for setting in dict.fromkeys(r["setting"] for r in records):
        for allowed in (2, 0):
            rs = [r for r in records if r["setting"] == setting
                  and r["rollbacks_allowed"] == allowed]
            if not rs:
                continue
            finished = [r for r in rs if r["outcome"] == "finished"]
            fids = sorted(r["domain_fid"] for r in finished)
            groups[f"{setting} | {allowed}"] = {
                "runs": len(rs), "finished": len(finished),
                "stopped": len(rs) - len(finished),
                "recovered": sum(bool(r["rollbacks"]) for r in finished),
                "collapsed": sum(r["collapsed"] for r in rs),
                "median_fid": f"{fids[len(fids) // 2]:.1f}" if fids else "—"}
    return groups


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="directions,sweep")
    parser.add_argument("--datasets", default=f"fashion-mnist,{MNIST10K}")
    parser.add_argument("--runs", default="", help="GAN runs to explore, one per dataset "
                        "(comma-separated; an empty entry trains one)")
    parser.add_argument("--gan-steps", type=int, default=5000)
    parser.add_argument("--unstable", default=";".join(UNSTABLE),
                        help="semicolon-separated settings (their names hold commas)")
    parser.add_argument("--sweep-data", default="fashion-mnist")
    parser.add_argument("--sweep-steps", type=int, default=1500)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "explore")
    parser.add_argument("--out", type=Path, default=RESULTS / "explore.json")
    args = parser.parse_args(argv)
    share_cache()
    started = time.monotonic()
    parts = args.parts.split(",")
    result: dict[str, Any] = {"benchmark": "explore", "machine": machine(), "commit": commit(),
                              "command": command_line("explore.py", argv)}
    if "directions" in parts:
        result["directions"] = directions(args)
    if "sweep" in parts:
        records = [sweep_run(args, setting, rollbacks, seed)
                   for setting in args.unstable.split(";") for seed in range(args.seeds)
                   for rollbacks in (2, 0)]
        result["sweep"], result["sweep_summary"] = records, summarise(records)
    result["headline"] = {
        **{f"{data}_{m}_share": r[m]["share_keep_class_and_change"]
           for data, r in result.get("directions", {}).items() for m in ("sefa", "ganspace")},
        **({"recovered_with": sum(g["recovered"] for k, g in result["sweep_summary"].items()
                                  if k.endswith("| 2")),
            "collapsed_without": sum(g["collapsed"] for k, g in result["sweep_summary"].items()
                                     if k.endswith("| 0"))} if "sweep" in parts else {})}
    result["verdict"] = verdict(result)
    print(result["verdict"], flush=True)
    result["minutes"] = round((time.monotonic() - started) / 60, 1)
    publish("explore", result, args.out, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
