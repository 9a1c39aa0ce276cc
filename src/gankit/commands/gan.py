"""The GAN commands: train, demo, sample, eval, and the listings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gankit.data import DATASETS, SPLITS, ImageDataset, load_dataset
from gankit.errors import GankitError
from gankit.imaging import save_grid
from gankit.losses import LOSSES
from gankit.metrics import DEFAULT_METRICS, METRICS, compare_scores, evaluate_run, read_scores
from gankit.metrics.evaluate import generalization_sentence
from gankit.models import MODELS
from gankit.options import device_option, option, progress_option, seed_option
from gankit.registry import Registry
from gankit.runs import new_run_dir
from gankit.sampling import interpolate, resolve_class, sample
from gankit.train import RECIPES, GANTrainer, TrainConfig, TrainSummary, load_generator, make_config
from gankit.train.rundir import RunDir


@dataclass(frozen=True)
class TrainCommand:
    config: str | None = option("YAML file of options (a run's config.yaml works)")
    out: str | None = option("run directory to create (default: runs/RECIPE-DATA-TIME)")
    resume: str | None = option("continue this run directory exactly")
    progress: bool = progress_option()


def recipe_defaults() -> dict[str, Any]:
    """What `gankit train` does with no flags: TrainConfig's defaults under the default
    recipe's values, as its --help shows them."""
    return dataclasses.asdict(make_config({}))


def print_summary(summary: TrainSummary) -> None:
    resumed = f" (to step {summary.steps})" if summary.done != summary.steps else ""
    print(f"trained {summary.done} steps{resumed} in {summary.seconds:.0f} s "
          f"({summary.images_per_s:.0f} images/s, stopped by {summary.stopped_by})")
    grids = summary.run_dir / "samples"
    print(f"  samples:     {summary.samples}"
          + (f"  (progress in {grids})" if grids.is_dir() else ""))
    print(f"  metrics:     {summary.run_dir / 'metrics.jsonl'}")
    print(f"  tensorboard: tensorboard --logdir {summary.run_dir / 'tensorboard'}")
    print(f"  more images: gankit sample {summary.run_dir}")
    if summary.stopped_by == "interrupt":
        print(f"  continue:    gankit train --resume {summary.run_dir}")


def new_trainer(config: TrainConfig, out: Path, *, data: ImageDataset | None = None,
                progress: bool) -> GANTrainer:
    """A trainer for a new run in OUT, refused when OUT already holds one."""
    if RunDir(out).checkpoint.exists():
        raise GankitError(f"{out} already holds a run; continue it with --resume {out} "
                          "(gankit train) or choose another --out")
    return GANTrainer(config, out, data=data, progress=progress)


def train(command: TrainCommand, overrides: dict[str, Any]) -> None:
    if command.resume:
        if command.config:
            raise GankitError("--resume takes its config from the run; drop --config")
        trainer = GANTrainer.resume(command.resume, overrides, progress=command.progress)
        print(f"resuming {command.resume} at step {trainer.step} of {trainer.total_steps}")
    else:
        config = make_config(overrides, source="the command line", file=command.config)
        trainer = new_trainer(config, new_run_dir(command.out, config.recipe, config.data),
                              progress=command.progress)
        out = trainer.run.path
        print(f"training {config.model} ({config.loss} loss) on {trainer.data.name}: "
              f"{len(trainer.data)} images of {trainer.data.image_shape}, "
              f"{trainer.total_steps} steps, device {trainer.device}; run directory {out}")
    print_summary(trainer.fit())


@dataclass(frozen=True)
class DemoCommand:
    out: str = option("run directory", "runs/demo")
    minutes: float = option("training budget in minutes", 5.0, above=0, high=10_080)
    data: str = option("dataset (falls back to the bundled digits)", "fashion-mnist")
    device: str = device_option()
    progress: bool = progress_option()


def demo(command: DemoCommand) -> None:
    try:
        data = load_dataset(command.data, "train", download=False)
    except GankitError as err:
        print(f"note: {err}\nnote: running the demo on the bundled 'digits' dataset instead")
        data = load_dataset("digits", "train")
    config = make_config({"recipe": "default", "data": data.name, "minutes": command.minutes,
                          "steps": 1_000_000, "device": command.device})
    trainer = new_trainer(config, Path(command.out), data=data, progress=command.progress)
    print(f"gankit demo: training the default recipe ({config.model}, {config.loss} loss, "
          f"EMA {config.ema}) on {data.name} for {command.minutes:g} minutes on "
          f"{trainer.device}")
    print_summary(trainer.fit())


@dataclass(frozen=True)
class SampleCommand:
    run_dir: str = option("a gankit GAN run directory", positional=True)
    n: int = option("images (or rows with --interpolate)", 64, low=1, high=2048)
    class_: str | None = option("class index or name (conditional runs)")
    interpolate: int | None = option("images per row along a latent path (slerp); --n rows", low=2,
                                     high=64)
    seed: int = seed_option("seed of the latent draws")
    scale: int = option("enlarge the PNG this many times", 2, low=1, high=8)
    out: str | None = option("PNG path (default: RUN_DIR/samples/sample_seedS.png)")
    ema: bool = option("use the EMA generator (--no-ema: the raw weights)", True)
    device: str = device_option()


def sample_grid(command: SampleCommand) -> None:
    default_out = Path(command.run_dir) / "samples" / f"sample_seed{command.seed}.png"
    out = Path(command.out) if command.out else default_out
    if out.is_dir():
        raise GankitError(f"--out {out} is a folder; pass the path of a PNG file to write")
    trained = load_generator(command.run_dir, ema=command.ema, device=command.device)
    labels = None
    if command.class_ is not None:
        labels = torch.tensor(resolve_class(trained, command.class_))
    if command.interpolate:
        images = interpolate(trained.generator, command.n, command.interpolate, labels=labels,
                             seed=command.seed)
        nrow = command.interpolate
    else:
        images = sample(trained.generator, command.n, labels=labels, seed=command.seed)
        # Conditional runs cycle through the classes: one class a column.
        nrow = trained.generator.num_classes if labels is None else None
    save_grid(images, out, nrow=nrow, scale=command.scale)
    print(f"wrote {len(images)} images from step {trained.step} to {out}")


@dataclass(frozen=True)
class ExportCommand:
    run_dir: str = option("a gankit GAN run directory", positional=True)
    out: str | None = option("ONNX file (default: RUN_DIR/generator.onnx)")
    ema: bool = option("export the EMA generator (--no-ema: the raw weights)", True)
    opset: int = option("ONNX opset version", 18, low=18, high=23)


def export(command: ExportCommand) -> None:
    from gankit.export import export_generator

    out = command.out or str(Path(command.run_dir) / "generator.onnx")
    result = export_generator(command.run_dir, out, ema=command.ema, opset=command.opset)
    print(f"wrote {result.model} and {result.sidecar} (ONNX Runtime matches torch to "
          f"{result.max_difference:.1g})")


@dataclass(frozen=True)
class ExploreCommand:
    run_dir: str = option("a gankit GAN run directory", positional=True)
    k: int = option("directions per method", 10, low=1, high=256)
    seeds: int = option("latents each direction is walked from", 8, low=1, high=256)
    steps: int = option("images along each walk", 7, low=3, high=64)
    span: float = option("how far each walk goes, in latent standard deviations", 3.0,
                         above=0, high=100)
    seed: int = seed_option("seed of the latents")
    out: str | None = option("folder for explore.json and the PNGs (default: RUN_DIR/explore)")
    device: str = device_option()
    progress: bool = progress_option()


def explore(command: ExploreCommand) -> None:
    from gankit.explore import ExploreConfig, explore_run

    config = ExploreConfig(k=command.k, seeds=command.seeds, steps=command.steps,
                           span=command.span, seed=command.seed)
    result = explore_run(command.run_dir, command.out, config, device=command.device,
                         progress=command.progress)
    print(f"directions walked from {config.seeds} latents, ±{config.span:g} std; random "
          f"directions change images by {result['random_change_median']:.3f} (RMS, median)")
    for method, found in result["methods"].items():
        print(f"{method}: {found['share_keep_class_and_change']:.0%} of {len(found['directions'])}"
              " keep the class while changing the image more than a random direction")
        for row in found["directions"][:5]:
            biggest = max(row["stat_change"], key=lambda k: abs(row["stat_change"][k]))
            print(f"  {row['index']}: change {row['change']:.3f}, class kept "
                  f"{row['class_kept']:.0%}, most: {biggest} {row['stat_change'][biggest]:+.3f}")
    out = Path(command.out) if command.out else Path(command.run_dir) / "explore"
    print(f"wrote {out}/explore.json, sefa.png, ganspace.png")


@dataclass(frozen=True)
class SaliencyCommand:
    run_dir: str = option("a gankit GAN run directory", positional=True)
    n: int = option("real and generated images each", 8, low=1, high=64)
    seed: int = seed_option("seed of the generated images")
    out: str | None = option("folder for saliency.json and saliency.png (default: "
                             "RUN_DIR/saliency)")
    device: str = device_option()
    progress: bool = progress_option()


def saliency(command: SaliencyCommand) -> None:
    from gankit.saliency import saliency_run

    result = saliency_run(command.run_dir, command.out, n=command.n, seed=command.seed,
                          device=command.device, progress=command.progress)
    print("share of each network's attribution on the ink (the rest: background):")
    for key, share in result["ink_share"].items():
        print(f"  {key:<45} {share:.0%}")
    print(f"wrote {Path(result['png']).parent}/saliency.json, saliency.png")


@dataclass(frozen=True)
class EvalCommand:
    run_dir: str = option("a gankit GAN run directory", positional=True)
    metrics: str = option("comma-separated metrics", ",".join(DEFAULT_METRICS),
                          choices=METRICS)
    n: int = option("generated images (and at most this many real ones)", 10_000, low=2,
                    high=100_000)
    reference_split: str = option("real images to compare with (val: those the run held out "
                                  "of training with --holdout)", "test", choices=SPLITS)
    seed: int = seed_option("seed of the latent draws")
    device: str = device_option()
    compare: str | None = option("print both runs' stored scores side by side (protocols "
                                 "must match)")
    progress: bool = progress_option()


def evaluate(command: EvalCommand) -> None:
    if command.compare:
        rows = compare_scores(read_scores(command.run_dir), read_scores(command.compare))
        print(f"{'metric':<14} {Path(command.run_dir).name:>16} "
              f"{Path(command.compare).name:>16}")
        for name, a, b in rows:
            print(f"{name:<14} {a:>16.4f} {b:>16.4f}")
        return
    results = evaluate_run(command.run_dir, command.metrics, n=command.n, seed=command.seed,
                           reference_split=command.reference_split, device=command.device,
                           progress=command.progress)
    print(f"{'metric':<14} {'value':>10}  protocol")
    for name, score in results.items():
        p = score["protocol"]
        # a spread of 0 means every subset held every image (KID at small n): not exactness
        spread = f" ± {score['std']:.4f}" if score.get("std") else ""
        measured_with = p.get("extractor") or p.get("classifier") or p.get("space")
        print(f"{name:<14} {score['value']:>10.4f}{spread}  {measured_with}, "
              f"{p['n_real']} real ({p['reference']}) vs {p['n_generated']} generated")
    if "generalization" in results:
        print(generalization_sentence(results["generalization"]))
    for line in small_sample_notes(results):
        print(f"note: {line}")
    print(f"wrote {Path(command.run_dir) / 'eval.json'}")


SMALL_SAMPLE = 2_000  # FID's upward bias is several points below this many images (Chong &
# Forsyth 2020, "Effectively Unbiased FID and Inception Score and where to find them")


def small_sample_notes(results: dict[str, dict[str, Any]]) -> list[str]:
    """What a reader of scores from few images must know, one line each."""
    notes = []
    fid = [n for n in ("fid", "domain-fid") if n in results
           and results[n]["protocol"]["n_generated"] < SMALL_SAMPLE]
    if fid:
        n = results[fid[0]]["protocol"]["n_generated"]
        notes.append(f"{' and '.join(fid)} from {n} generated images is biased upwards (it "
                     f"falls as n grows); compare runs only at the same n, {SMALL_SAMPLE:,}+ "
                     "for a figure to quote")
    kid = results.get("kid")
    if kid is not None and not kid.get("std"):
        notes.append("kid has no spread here: each of its subsets held every image "
                     f"(n = {kid['protocol']['n_generated']}); a larger --n gives one")
    return notes


def _print_registry(title: str, registry: Registry[Any]) -> None:
    print(f"{title}:")
    for name, summary in registry.summaries().items():
        print(f"  {name:<14} {summary}")


def list_datasets() -> None:
    _print_registry("datasets", DATASETS)


def list_models() -> None:
    _print_registry("models (--model)", MODELS)
    _print_registry("losses (--loss)", LOSSES)
    _print_registry("recipes (--recipe)", RECIPES)
