"""Benchmark: screen how GAN images enter the recogniser's training, one GAN per seed for all.

`bench/augment.py` spends a third of each seed on the conditional GAN. This screen trains each
seed's GAN with today's `gankit augment` defaults once (into --work), or reuses those of a
finished `bench/augment.py` experiment with the same GAN settings (--gans: its `seedS/gan`
runs, resumed exactly); a variant that changes a GAN setting trains its own GAN and real +
GAN recogniser per seed. It trains each seed's real, real + classical and real + GAN
recognisers once with today's defaults, then the real + classical + GAN recogniser once per
variant of those defaults, and reports each variant's gain over real + classical on the same
seeds. A variant that wins here is a candidate for a full 5-seed `bench/augment.py` run, not
a result. Variants whose records are not in --work are carried over from the results file,
marked with the GANs they ran on.

    OMP_NUM_THREADS=1 nohup python bench/augment_screen.py --threads 1 --seeds 0 > a.log 2>&1 &
    OMP_NUM_THREADS=1 nohup python bench/augment_screen.py --threads 1 --seeds 1 > b.log 2>&1 &
    python bench/augment_screen.py --seeds 0,1 --only ''   # the table of what has finished
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from common import RESULTS, ROOT, add_only, commit, machine, parse_only, publish

from gankit.data import ImageDataset, load_dataset
from gankit.experiments.augmentation import (
    TEACHERS,
    AugmentConfig,
    seed_data,
    supplement,
    synthesize,
    train_gan,
)
from gankit.recognize import accuracy, train_classifier
from gankit.train import GANTrainer

# name -> the recognisers whose mean softmax teaches real + classical + GAN ("teachers"), and
# overrides of `gankit augment`'s other defaults
SAME, ENSEMBLE = (TEACHERS[t]["real+classical+gan"] for t in ("same", "ensemble"))
STUDENT = "real+classical+gan"  # as a teacher: the default variant's recogniser
DEFAULT = "ensemble3-T4"  # `gankit augment`'s defaults
VARIANTS: dict[str, dict[str, Any]] = {
    # the first round, from the temperature-1 settings that were then the default
    "same-teacher": {"teachers": SAME, "teacher_temperature": 1.0},
    "weight1": {"teachers": SAME, "teacher_temperature": 1.0, "synthetic_weight": 1.0},
    "teacher0.75": {"teachers": SAME, "teacher_temperature": 1.0, "teacher_share": 0.75},
    "ensemble2-teacher": {"teachers": ("real", "real+classical"), "teacher_temperature": 1.0},
    "ensemble3-teacher": {"teachers": ENSEMBLE, "teacher_temperature": 1.0},
    "ensemble3-T2": {"teachers": ENSEMBLE, "teacher_temperature": 2.0},
    "ensemble3-teacher0.75": {"teachers": ENSEMBLE, "teacher_temperature": 1.0,
                              "teacher_share": 0.75},
    "ensemble3-ratio20": {"teachers": ENSEMBLE, "teacher_temperature": 1.0,
                          "synthetic_ratio": 20.0},
    "ensemble3-T3": {"teachers": ENSEMBLE, "teacher_temperature": 3.0},
    "ensemble3-T4": {"teachers": ENSEMBLE, "teacher_temperature": 4.0},
    "ensemble3-T2-weight0.75": {"teachers": ENSEMBLE, "teacher_temperature": 2.0,
                                "synthetic_weight": 0.75},
    # a GAN setting: this variant trains its own GANs (and real + GAN teachers) per seed
    "ensemble3-T2-ganflip": {"teachers": ENSEMBLE, "teacher_temperature": 2.0,
                             "gan_diffaugment": "flip,color,translation,cutout"},
    # the second round, from today's default (ensemble3-T4)
    "ensemble3-T4-weight0.75": {"teachers": ENSEMBLE, "synthetic_weight": 0.75},
    # a control: so hot a temperature that the teachers' share of each target is uniform,
    # i.e. plain label smoothing of the GAN images' labels
    "uniform-teacher": {"teachers": ENSEMBLE, "teacher_temperature": 1e6},
    "ensemble3-T4-filter": {"teachers": ENSEMBLE, "filter_by_confidence": True},
    "ensemble3-T4-ganlr8e-4": {"teachers": ENSEMBLE, "gan_lr": 8e-4},
    # half the synthetic images per update: the "+ GAN" recognisers' updates cost 1.5 times
    # a plain one's instead of twice
    "ensemble3-T4-synbatch64": {"teachers": ENSEMBLE, "synthetic_batch": 64},
    # twice the synthetic images per update (3 times a plain update's cost)
    "ensemble3-T4-synbatch256": {"teachers": ENSEMBLE, "synthetic_batch": 256},
    # the sixth round (session 19, bf16 on an AMX CPU): half as many GAN updates again, which
    # the halved experiment time can pay for
    "ensemble3-T4-gan4500": {"teachers": ENSEMBLE, "gan_steps": 4500},
    # the eighth round (session 21): stronger teachers. Each teacher's softmax averaged over
    # the image, its four 2-pixel shifts and its mirror (test-time augmentation)...
    "ensemble3-T4-tta": {"teachers": ENSEMBLE, "teacher_views": "classical"},
    # ... and the default's own real + classical + GAN recogniser as a fourth teacher of a
    # second one (born-again networks, Furlanello et al. 2018), with and without it
    "ensemble4-T4": {"teachers": (*ENSEMBLE, STUDENT)},
    "ensemble4-T4-tta": {"teachers": (*ENSEMBLE, STUDENT), "teacher_views": "classical"},
    # ... then better GAN images: wider nets (about twice a GAN step's cost), or more of the
    # mode-seeking term's push towards diverse images
    "ensemble3-T4-ganwidth48": {"teachers": ENSEMBLE, "gan_width": 48},
    "ensemble3-T4-ms2": {"teachers": ENSEMBLE, "gan_mode_seeking": 2.0},
}
GANS = ROOT / "bench" / "work" / "augment" / "pc100-g3000-ms1-r10-w0.5-t0.5-ensemble-T4-gw48"


@functools.cache
def splits(name: str) -> tuple[ImageDataset, ImageDataset]:
    """The train and test splits, read once however many seeds a process screens."""
    return load_dataset(name, "train"), load_dataset(name, "test")


def check_gans(args: argparse.Namespace) -> None:
    """Refuse --gans whose GANs trained with other settings than the screen's base: its
    variants would then differ from `gankit augment`'s default in more than they name."""
    if args.gans is None:
        return
    reused = json.loads((args.gans / "augment.json").read_text())["config"]
    base = AugmentConfig(per_class=args.per_class).to_dict()
    differs = {k: (reused.get(k), v) for k, v in base.items()
               if (k.startswith("gan_") or k in ("data", "per_class")) and reused.get(k) != v}
    if differs:
        raise SystemExit(f"{args.gans} trained its GANs with other settings than today's "
                         f"defaults (theirs, today's): {differs}")


def variant_config(base: AugmentConfig, name: str) -> AugmentConfig:
    """`base` with variant `name`'s overrides (its teachers are named apart)."""
    return replace(base, **{k: v for k, v in VARIANTS[name].items() if k != "teachers"})


def screen_seed(seed: int, names: list[str], args: argparse.Namespace) -> None:
    base = AugmentConfig(per_class=args.per_class, device="cpu")
    out = args.work / f"seed{seed}"
    todo = [n for n in names if not (out / f"{n}.json").is_file()]
    if not todo:
        return
    data = seed_data(base, seed, *splits(base.data))

    @functools.cache
    def gan(settings: tuple[tuple[str, Any], ...]) -> GANTrainer:
        """The base settings' GAN from --gans; otherwise one trained here, or resumed."""
        if not settings and args.gans is not None:
            run = args.gans / f"seed{seed}" / "gan"
        else:
            run = out / "-".join(["gan", *(f"{k}={v}" for k, v in settings)]).replace(",", "+")
            if not (run / "checkpoint.safetensors").is_file():  # written at the last step
                return train_gan(replace(base, **dict(settings)), data.train, seed, run, False)
        return GANTrainer.resume(run, data=data.train, progress=False, tensorboard=False)

    @functools.cache
    def pool(settings: tuple[tuple[str, Any], ...], per_class: int,
             filtered: bool) -> ImageDataset:
        judge = models["real"] if filtered else None
        return synthesize(gan(settings), data.train, per_class, seed, judge)

    plain, classical = (base.recogniser(c, seed) for c in ("real", "real+classical"))
    models = {"real": train_classifier(data.train, plain, device="cpu"),
              "real+classical": train_classifier(data.train, classical, device="cpu")}

    @functools.cache
    def real_gan(settings: tuple[tuple[str, Any], ...]) -> torch.nn.Module:
        """The real + GAN recogniser of `gankit augment`, on the pool of these GAN settings."""
        teachers = [models[c] for c in TEACHERS["ensemble"]["real+gan"]]
        extra = supplement(base, "real+gan", pool(settings, base.synthetic_per_class(), False),
                           teachers)
        return train_classifier(data.train, plain, device="cpu", supplement=extra)

    @functools.cache
    def student(name: str) -> torch.nn.Module:
        """The real + classical + GAN recogniser of variant `name`."""
        config = variant_config(base, name)
        settings = tuple((k, v) for k, v in VARIANTS[name].items() if k.startswith("gan_"))
        teachers = [real_gan(settings) if c == "real+gan" else
                    student(DEFAULT) if c == STUDENT else models[c]
                    for c in VARIANTS[name]["teachers"]]
        extra = supplement(config, STUDENT, pool(settings, config.synthetic_per_class(),
                                                 config.filter_by_confidence), teachers)
        return train_classifier(data.train, classical, device="cpu", supplement=extra)

    models["real+gan"] = real_gan(())
    baseline = {c: 100 * accuracy(m, data.test) for c, m in models.items()}
    for name in todo:
        config = variant_config(base, name)
        acc = 100 * accuracy(student(name), data.test)
        recorded = {k: v for k, v in config.to_dict().items() if k != "teacher"}
        record = {"seed": seed, "variant": name, "teachers": list(VARIANTS[name]["teachers"]),
                  "threads": torch.get_num_threads(), "config": recorded,
                  "gans": str((args.gans or args.work).resolve().relative_to(ROOT)),
                  "commit": commit(),
                  "accuracy": acc, "baseline": baseline,
                  "gain": acc - baseline["real+classical"]}
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{name}.json").write_text(json.dumps(record, indent=2))
        print(f"[seed {seed}] {name}: {acc:.2f}% ({record['gain']:+.2f})", flush=True)


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "## Augmentation screen: how GAN images enter the recogniser",
        "",
        f"Fashion-MNIST, {result['per_class']} labelled images per class, the 3,000-step "
        "conditional GANs of `gankit augment`'s defaults, one per seed, shared by the "
        "variants (a variant with a gan_ setting trains its own, and its own real + GAN "
        "teacher); "
        "test accuracy of real + classical + GAN and its gain over real + classical on the "
        f"same seed, {result['machine']['cpu']}, {'/'.join(map(str, result['threads']))} "
        "torch thread(s) per process. Command: `python bench/augment_screen.py --threads 1 "
        "--seeds S` (one process per seed).",
        "",
        "| variant | teachers of real + classical + GAN | other settings | seeds "
        "| accuracy % (mean) | gain (mean) | per-seed gains |",
        "|---|---|---|---|---|---|---|",
    ]
    # this run's rows first: only rows on the same GANs and baselines compare closely
    for name, v in sorted(result["variants"].items(),
                          key=lambda kv: (kv[1].get("carried", False), -kv[1]["gain"])):
        overrides = dict(VARIANTS[name])
        teachers = " + ".join(overrides.pop("teachers"))
        changed = ", ".join(f"{k}={x:g}" if isinstance(x, float) else f"{k}={x}"
                            for k, x in overrides.items()) or "—"
        per_seed = ", ".join(f"{g:+.2f}" for g in v["gains"])
        mark = " †" if v.get("carried") else ""
        lines.append(f"| {name}{mark} | {teachers} | {changed} | {len(v['gains'])} "
                     f"| {v['accuracy']:.2f} | {v['gain']:+.2f} | {per_seed} |")
    gans = sorted({v["gans"] for v in result["variants"].values()})
    carried = {v["gans"] for v in result["variants"].values() if v.get("carried")}
    lines += ["", "GANs (each folder's `seedS/gan`): " + "; ".join(
        f"`{g}`" + (" (rows marked †, carried over from an earlier run of this screen, whose "
                    "real + GAN teacher trained with the settings then the default)"
                    if g in carried else "") for g in gans) + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds")
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--gans", type=Path,
                        default=GANS if (GANS / "augment.json").is_file() else None,
                        help="a finished bench/augment.py experiment whose GANs to reuse "
                             f"(default: {GANS.relative_to(ROOT)} if it has finished; without "
                             "one, the screen trains them into --work)")
    add_only(parser, VARIANTS)
    parser.add_argument("--work", type=Path,
                        default=ROOT / "bench" / "work" / "augment_screen")
    parser.add_argument("--out", type=Path, default=RESULTS / "augment_screen.json")
    args = parser.parse_args(argv)
    names = parse_only(parser, args.only, VARIANTS, "variant")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    torch.set_num_threads(args.threads)
    if seeds and names:
        check_gans(args)
    for seed in seeds:
        screen_seed(seed, names, args)

    # Every finished variant still defined here, on the seeds it has finished for.
    records: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(args.work.glob("seed*/*.json")):
        record = json.loads(path.read_text())
        if record["variant"] in VARIANTS:
            records.setdefault(record["variant"], []).append(record)
    variants = {name: {"seeds": [r["seed"] for r in rs], "gains": [r["gain"] for r in rs],
                       "accuracy": statistics.mean(r["accuracy"] for r in rs),
                       "gain": statistics.mean(r["gain"] for r in rs), "gans": rs[0]["gans"]}
                for name, rs in records.items()}
    # The thread counts the records ran with, not this process's (redrawing the table with
    # --only '' must not restate them), so the machine's torch_threads is left out.
    threads = {r["threads"] for rs in records.values() for r in rs}
    earlier = json.loads(args.out.read_text()) if args.out.is_file() else {"variants": {}}
    for name, v in earlier["variants"].items():
        if name in VARIANTS and name not in variants:
            variants[name] = {**v, "carried": True}
            threads.update(earlier["threads"])
    host = {k: v for k, v in machine().items() if k != "torch_threads"}
    result = {"benchmark": "augment_screen", "machine": host, "threads": sorted(threads),
              "per_class": args.per_class, "variants": variants}
    publish("augment_screen", result, args.out, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
