"""Screen: which GAN-side change raises the GAN condition's *validation* accuracy?

Each variant changes GAN-side settings only (gankit.experiments.augmentation.GAN_SIDE), so it
reuses the non-GAN recognisers of the default experiment that bench/augment.py left in --work
and trains only each seed's GAN and its student. A variant is judged on validation alone: its
`gan` validation accuracy minus the default's, paired by seed, and its `gan` against the
default's validation-best non-GAN condition. Nothing here reads a test accuracy (the
experiment still scores each finished student once on test, as it always does); a variant that
wins the screen becomes a default only after bench/augment.py re-measures it. Variants are
named on the command line; the rounds screened so far are in docs/benchmarks.md with their
settings.

    nohup python bench/augment_screen.py --variant 'gan-steps-6000 gan_steps=6000' \
        > bench/augment-screen.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from augment import DATASETS
from common import (
    RESULTS,
    ROOT,
    add_variants,
    command_line,
    commit,
    machine,
    parse_only,
    parse_variants,
    publish,
)

from gankit.experiments.augmentation import (
    GAN_SIDE,
    AugmentConfig,
    reuse_baselines,
    run_experiment,
)
from gankit.experiments.verdict import NON_GAN_CONDITIONS, best_by_validation
from gankit.stats import summarize


def screen(name: str, variant: str, settings: dict[str, Any], seeds: int,
           work: Path) -> dict[str, Any]:
    data, per_class = DATASETS[name]
    base = replace(AugmentConfig(), data=data, per_class=per_class, seeds=seeds)
    config = replace(base, **settings)
    base_out = work / "augment" / f"{name}-pc{per_class}"
    out = work / "augment-screen" / f"{name}-pc{per_class}-{variant}"
    reused = reuse_baselines(config, out, base, base_out)
    print(f"[{name} {variant}] reusing {', '.join(reused)}", flush=True)
    result = run_experiment(config, out)
    mine = [s["validation"] for s in result["seeds"]]
    theirs = [json.loads((base_out / f"seed{s}" / "seed.json").read_text())["validation"]
              for s in range(seeds)]
    best = best_by_validation([{"validation": v} for v in theirs], NON_GAN_CONDITIONS)
    over_default = summarize([m["gan"] - t["gan"] for m, t in zip(mine, theirs, strict=True)])
    over_best = summarize([m["gan"] - t[best] for m, t in zip(mine, theirs, strict=True)])
    default_over_best = summarize([t["gan"] - t[best] for t in theirs])
    return {"dataset": name, "variant": variant, "settings": settings,
            "seeds": seeds, "validation_images": result["seeds"][0]["validation_images"],
            "gan_validation": [m["gan"] for m in mine],
            "default_gan_validation": [t["gan"] for t in theirs],
            "over_default": over_default.to_dict(), "best_baseline": best,
            "over_best_baseline": over_best.to_dict(),
            "default_over_best_baseline": default_over_best.to_dict(),
            "minutes": result["minutes"]}


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    rows = ["## GAN-side screen for augmentation (validation only)", "",
            f"{m['cpu']} ({m['cores']} cores, {m['cpu_capability']}), torch {m['torch']}, "
            f"commit {result['commit']}. `{result['command']}`. Each variant retrains only the "
            "GAN and its student on the default experiment's seeds and subsets; points are "
            "validation accuracy (a fifth of each class's labelled images), mean [Student-t "
            "95% interval] over seeds, paired by seed. The test split plays no part.", "",
            "| dataset | variant | settings | seeds | val. images | gan − default gan | "
            "gan − best non-GAN | default gan − best non-GAN | minutes |",
            "|---|---|---|---|---|---|---|---|---|"]

    def cell(s: dict[str, Any]) -> str:
        return f"{s['mean']:+.2f} [{s['ci95'][0]:+.2f}, {s['ci95'][1]:+.2f}]"

    for r in result["screens"]:
        settings = ", ".join(f"{k}={v}" for k, v in r["settings"].items())
        rows.append(f"| {r['dataset']} | {r['variant']} | {settings} | {r['seeds']} | "
                    f"{r['validation_images']} | {cell(r['over_default'])} | "
                    f"{cell(r['over_best_baseline'])} ({r['best_baseline']}) | "
                    f"{cell(r['default_over_best_baseline'])} | {r['minutes']:.1f} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="digits,mnist-10k,fashion-mnist",
                        help="comma-separated, of: " + ", ".join(DATASETS))
    add_variants(parser, "filter filter_by_confidence=true")
    parser.add_argument("--seeds", type=int, default=AugmentConfig.seeds)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--out", type=Path, default=RESULTS / "augment_screen.json")
    args = parser.parse_args(argv)
    names = parse_only(parser, args.datasets, DATASETS, "dataset")
    variants = parse_variants(parser, args.variant, AugmentConfig, GAN_SIDE)
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    screens = {(r["dataset"], r["variant"]): r for r in previous.get("screens", [])}
    for variant, settings in variants.items():
        for name in names:
            screens[name, variant] = screen(name, variant, settings, args.seeds, args.work)
            result = {"benchmark": "augment_screen", "machine": machine(),
                      "command": command_line("augment_screen.py", argv), "commit": commit(),
                      "screens": list(screens.values())}
            publish("augment-screen", result, args.out, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
