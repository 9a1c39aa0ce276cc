"""`gankit <command>`: a thin shell over the Python API."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

from gankit.data import DATASETS, load_dataset
from gankit.errors import GankitError
from gankit.imaging import save_grid
from gankit.losses import LOSSES
from gankit.metrics import DEFAULT_METRICS, METRICS, compare_scores, evaluate_run, read_scores
from gankit.models import MODELS
from gankit.registry import Registry
from gankit.sampling import interpolate, resolve_class, sample
from gankit.train import RECIPES, GANTrainer, TrainSummary, load_generator, make_config
from gankit.train.config import FIELDS, field_type
from gankit.train.rundir import RunDir

DEMO_MINUTES = 5.0


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field; unset flags stay out of the overrides."""
    group = parser.add_argument_group("training options (override the recipe and --config)")
    for name, f in FIELDS.items():
        flag = "--" + name.replace("_", "-")
        kind = field_type(name)
        help_text = f.metadata["help"] + ("" if f.default is None else f" (default: {f.default})")
        if kind is bool:
            group.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=help_text)
        else:
            group.add_argument(flag, dest=name, type=kind, default=argparse.SUPPRESS,
                               metavar=name.upper(), help=help_text)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in FIELDS if hasattr(args, name)}


def _default_out(config_data: str, recipe: str) -> Path:
    data = config_data.split(":")[0]
    return Path("runs") / f"{recipe}-{data}-{time.strftime('%Y%m%d-%H%M%S')}"


def _report(summary: TrainSummary) -> None:
    print(f"trained {summary.steps} steps in {summary.seconds:.0f} s "
          f"({summary.images_per_s:.0f} images/s, stopped by {summary.stopped_by})")
    print(f"  samples:     {summary.samples}  (progress in {summary.run_dir / 'samples'})")
    print(f"  metrics:     {summary.run_dir / 'metrics.jsonl'}")
    print(f"  tensorboard: tensorboard --logdir {summary.run_dir / 'tensorboard'}")
    print(f"  more images: gankit sample {summary.run_dir}")


def cmd_train(args: argparse.Namespace) -> None:
    overrides = _overrides(args)
    if args.resume:
        if args.config:
            raise GankitError("--resume takes its config from the run; drop --config")
        trainer = GANTrainer.resume(args.resume, overrides, progress=not args.no_progress)
        print(f"resuming {args.resume} at step {trainer.step} of {trainer.total_steps}")
    else:
        config = make_config(overrides, source="the command line", file=args.config)
        out = Path(args.out) if args.out else _default_out(config.data, config.recipe)
        if RunDir(out).checkpoint.exists():
            raise GankitError(f"{out} already holds a run; continue it with --resume {out} "
                              "or choose another --out")
        trainer = GANTrainer(config, out, progress=not args.no_progress)
        print(f"training {config.model} ({config.loss} loss) on {trainer.data.name}: "
              f"{len(trainer.data)} images of {trainer.data.image_shape}, "
              f"{trainer.total_steps} steps, device {trainer.device}; run directory {out}")
    _report(trainer.fit())


def cmd_demo(args: argparse.Namespace) -> None:
    try:
        data = load_dataset(args.data, "train", download=False)
    except GankitError as err:
        print(f"note: {err}\nnote: running the demo on the bundled 'digits' dataset instead")
        data = load_dataset("digits", "train")
    config = make_config({"recipe": "default", "data": data.name, "minutes": args.minutes,
                          "steps": 1_000_000, "device": args.device})
    out = Path(args.out)
    if RunDir(out).checkpoint.exists():
        raise GankitError(f"{out} already holds a run; remove it or pass --out elsewhere")
    trainer = GANTrainer(config, out, data=data, progress=not args.no_progress)
    print(f"gankit demo: training the default recipe ({config.model}, {config.loss} loss, "
          f"EMA {config.ema}) on {data.name} for {args.minutes:g} minutes on {trainer.device}")
    _report(trainer.fit())


def cmd_sample(args: argparse.Namespace) -> None:
    trained = load_generator(args.run_dir, ema=not args.no_ema, device=args.device)
    labels = None
    if args.class_ is not None:
        labels = torch.tensor(resolve_class(trained, args.class_))
    if args.interpolate:
        images = interpolate(trained.generator, args.n, args.interpolate, labels=labels,
                             seed=args.seed)
        nrow = args.interpolate
    else:
        images = sample(trained.generator, args.n, labels=labels, seed=args.seed)
        # Conditional runs cycle through the classes: one class a column.
        nrow = trained.generator.num_classes if labels is None else None
    default_out = Path(args.run_dir) / "samples" / f"sample_seed{args.seed}.png"
    out = Path(args.out) if args.out else default_out
    save_grid(images, out, nrow=nrow, scale=args.scale)
    print(f"wrote {len(images)} images from step {trained.step} to {out}")


def cmd_eval(args: argparse.Namespace) -> None:
    if args.compare:
        rows = compare_scores(read_scores(args.run_dir), read_scores(args.compare))
        print(f"{'metric':<14} {Path(args.run_dir).name:>16} {Path(args.compare).name:>16}")
        for name, a, b in rows:
            print(f"{name:<14} {a:>16.4f} {b:>16.4f}")
        return
    results = evaluate_run(args.run_dir, args.metrics, n=args.n, seed=args.seed,
                           reference_split=args.reference_split, device=args.device,
                           progress=not args.no_progress)
    print(f"{'metric':<14} {'value':>10}  protocol")
    for name, score in results.items():
        p = score["protocol"]
        spread = f" ± {score['std']:.4f}" if "std" in score else ""
        measured_with = p.get("extractor") or p.get("classifier") or p.get("space")
        print(f"{name:<14} {score['value']:>10.4f}{spread}  {measured_with}, "
              f"{p['n_real']} real ({p['reference']}) vs {p['n_generated']} generated")
    print(f"wrote {Path(args.run_dir) / 'eval.json'}")


def _print_registry(title: str, registry: Registry[Any]) -> None:
    print(f"{title}:")
    for name, summary in registry.summaries().items():
        print(f"  {name:<14} {summary}")


def cmd_datasets(args: argparse.Namespace) -> None:
    _print_registry("datasets", DATASETS)


def cmd_models(args: argparse.Namespace) -> None:
    _print_registry("models (--model)", MODELS)
    _print_registry("losses (--loss)", LOSSES)
    _print_registry("recipes (--recipe)", RECIPES)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gankit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train a GAN into a run directory")
    train.add_argument("--config", help="YAML file of options (a run's config.yaml works)")
    train.add_argument("--out", help="run directory to create (default: runs/RECIPE-DATA-TIME)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue this run exactly")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_config_flags(train)
    train.set_defaults(func=cmd_train)

    demo = sub.add_parser("demo", help="train the default recipe on Fashion-MNIST for 5 minutes")
    demo.add_argument("--out", default="runs/demo", help="run directory (default: runs/demo)")
    demo.add_argument("--minutes", type=float, default=DEMO_MINUTES, help="training budget")
    demo.add_argument("--data", default="fashion-mnist", help="dataset (falls back to digits)")
    demo.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.set_defaults(func=cmd_demo)

    smp = sub.add_parser("sample", help="draw a grid of images from a trained run")
    smp.add_argument("run_dir", metavar="RUN_DIR")
    smp.add_argument("--n", type=int, default=64, help="images (or rows with --interpolate)")
    smp.add_argument("--class", dest="class_", metavar="CLASS",
                     help="class index or name (conditional runs)")
    smp.add_argument("--interpolate", type=int, metavar="STEPS",
                     help="rows of STEPS images along a latent path (slerp)")
    smp.add_argument("--seed", type=int, default=0)
    smp.add_argument("--scale", type=int, default=2, help="enlarge the PNG this many times")
    smp.add_argument("--out", help="PNG path (default: RUN_DIR/samples/sample_seedS.png)")
    smp.add_argument("--no-ema", action="store_true", help="use the raw generator weights")
    smp.add_argument("--device", default="auto")
    smp.set_defaults(func=cmd_sample)

    ev = sub.add_parser("eval", help="score a trained run (FID, KID, precision/recall, ...)")
    ev.add_argument("run_dir", metavar="RUN_DIR")
    ev.add_argument("--metrics", default=",".join(DEFAULT_METRICS),
                    help="comma-separated, from: " + ", ".join(METRICS))
    ev.add_argument("--n", type=int, default=10_000,
                    help="generated images (and at most this many real ones)")
    ev.add_argument("--reference-split", default="test", help="real images to compare with")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--device", default="auto")
    ev.add_argument("--compare", metavar="OTHER_RUN",
                    help="print both runs' stored scores side by side (protocols must match)")
    ev.add_argument("--no-progress", action="store_true")
    ev.set_defaults(func=cmd_eval)

    sub.add_parser("datasets", help="list the datasets").set_defaults(func=cmd_datasets)
    sub.add_parser("models", help="list models, losses and recipes").set_defaults(func=cmd_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except GankitError as err:
        print(f"gankit: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130
    return 0
