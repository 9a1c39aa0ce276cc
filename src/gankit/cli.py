"""`gankit <command>`: a thin shell over the Python API."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

from gankit.adversarial.advgan import AdvGANConfig
from gankit.data import DATASETS, load_dataset
from gankit.errors import GankitError
from gankit.experiments.augmentation import AugmentConfig, run_experiment
from gankit.experiments.verdict import markdown_table
from gankit.extras import require
from gankit.imaging import save_grid
from gankit.inpaint.cgan import CompletionConfig
from gankit.losses import LOSSES
from gankit.metrics import DEFAULT_METRICS, METRICS, compare_scores, evaluate_run, read_scores
from gankit.models import MODELS
from gankit.options import add_flags, from_args
from gankit.recognize import (
    AUGMENTATIONS,
    FLIPS,
    ClassifierConfig,
    RecognitionReport,
    evaluate_recogniser_run,
    train_recogniser_run,
)
from gankit.registry import Registry
from gankit.runs import new_run_dir
from gankit.sampling import interpolate, resolve_class, sample
from gankit.train import RECIPES, GANTrainer, TrainSummary, load_generator, make_config
from gankit.train.config import FIELDS, TrainConfig
from gankit.train.rundir import RunDir
from gankit.translate.translator import TranslateConfig

DEMO_MINUTES = 5.0


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in FIELDS if hasattr(args, name)}


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
        out = new_run_dir(args.out, config.recipe, config.data)
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


def cmd_classify_train(args: argparse.Namespace) -> None:
    config = ClassifierConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                              width=args.width, augment=args.augment, flip=args.flip,
                              seed=args.seed)
    out = new_run_dir(args.out, "classify", args.data)
    report = train_recogniser_run(out, args.data, config, root=args.data_root,
                                  per_class=args.per_class, extra=args.extra,
                                  extra_per_class=args.extra_per_class, device=args.device,
                                  progress=not args.no_progress)
    _print_recognition(report)
    print(f"wrote {out}/ (recogniser.safetensors, config.yaml, report.json, confusion PNG)")


def cmd_classify_eval(args: argparse.Namespace) -> None:
    report = evaluate_recogniser_run(args.run_dir, args.data, root=args.data_root,
                                     split=args.split, device=args.device)
    _print_recognition(report)
    print(f"wrote {Path(args.run_dir) / 'report.json'}")


def _print_recognition(report: RecognitionReport) -> None:
    print(f"{report.data}: accuracy {100 * report.accuracy:.2f}% on {report.n} images")
    for name, acc in report.per_class.items():
        print(f"  {name:<16} {100 * acc:6.2f}%")


def cmd_augment(args: argparse.Namespace) -> None:
    config = AugmentConfig(
        data=args.data, data_root=args.data_root, per_class=args.per_class,
        validation_share=args.validation_share, seeds=args.seeds, flip=args.flip,
        gan_recipe=args.gan_recipe, gan_lr=args.gan_lr, gan_steps=args.gan_steps,
        gan_width=args.gan_width,
        gan_diffaugment=args.diffaugment, gan_mode_seeking=args.mode_seeking,
        synthetic_ratio=args.ratio, synthetic_weight=args.synthetic_weight,
        synthetic_batch=args.synthetic_batch, teacher_share=args.teacher_share,
        teacher_temperature=args.teacher_temperature, filter_by_confidence=args.filter,
        classifier=ClassifierConfig(steps=args.classifier_steps), device=args.device,
        workers=args.workers)
    out = new_run_dir(args.out, "augment", args.data, f"{args.per_class}pc")
    result = run_experiment(config, out, progress=not args.no_progress)
    print(markdown_table(result))
    print(f"wrote {out}/ (augment.json, augment.md, augment.png, seed*/synthetic.png)")


def cmd_inpaint(args: argparse.Namespace) -> None:
    from gankit.inpaint.api import inpaint

    default_out = Path(args.run_dir) / "inpaint" / f"{args.method}-{Path(args.mask).stem}"
    out = Path(args.out) if args.out else default_out
    result = inpaint(args.run_dir, args.images, args.mask, out, method=args.method, n=args.n,
                     seed=args.seed, device=args.device)
    print(f"completed {len(result.completed)} images with {args.method}; "
          f"grid (masked / completed / original): {result.grid}")


def cmd_inpaint_train(args: argparse.Namespace) -> None:
    from gankit.inpaint.cgan import train_completion

    config = from_args(CompletionConfig, args)
    out = new_run_dir(args.out, "inpaint", args.data)
    train_completion(config, out, progress=not args.no_progress)
    print(f"wrote {out}/ (completion.safetensors, config.yaml, metrics.jsonl, samples.png); "
          f"use it with gankit inpaint {out} --method cgan")


def _budget(args: argparse.Namespace):
    from gankit.adversarial import Budget

    return Budget(args.eps, args.norm)


def _target(args: argparse.Namespace, classes: tuple[str, ...]) -> int | None:
    from gankit.data import class_index

    return None if args.targeted is None else class_index(args.targeted, classes)


def cmd_attack(args: argparse.Namespace) -> None:
    from gankit.adversarial import PGDConfig, run_attack
    from gankit.recognize import load_recogniser_run

    classes = load_recogniser_run(args.classifier_run, "cpu").classes
    target = _target(args, classes)
    goal = "" if target is None else f"-target{target}"
    out = Path(args.out) if args.out else Path(args.classifier_run) / "attacks" / (
        f"{args.method}-{args.norm}-eps{args.eps:g}{goal}")
    report = run_attack(args.classifier_run, args.method, out, budget=_budget(args),
                        target=target, pgd_config=PGDConfig(steps=args.steps,
                                                            restarts=args.restarts),
                        advgan_run=args.advgan, data=args.data, data_root=args.data_root,
                        split=args.split, n=args.n, device=args.device)
    print(f"{args.method} ({report.norm}, eps {report.eps:g} on the [0, 1] scale"
          f"{'' if target is None else f', target {classes[target]}'}) on {report.n} images:")
    print(f"  clean accuracy        {100 * report.clean_accuracy:6.2f}%")
    print(f"  accuracy under attack {100 * report.adversarial_accuracy:6.2f}%")
    print(f"  attack success rate   {100 * report.success_rate:6.2f}%")
    print(f"  perturbation L-inf    mean {report.linf_mean:.4f}, max {report.linf_max:.4f}")
    print(f"  perturbation L2       mean {report.l2_mean:.4f}, max {report.l2_max:.4f}")
    print(f"  time per image        {1000 * report.seconds_per_image:.2f} ms "
          f"({report.evaluations_per_image} network passes, "
          f"{report.flops_per_image / 1e6:.1f} MFLOP)")
    print(f"wrote {out}/ (attack.json, grid.png)")


def cmd_attack_train_advgan(args: argparse.Namespace) -> None:
    from gankit.adversarial import train_advgan
    from gankit.data import load_dataset
    from gankit.recognize import load_recogniser_run

    stored = load_recogniser_run(args.classifier_run, args.device)
    data = load_dataset(stored.info["data"], "train", root=stored.info.get("data_root"))
    config = from_args(AdvGANConfig, args, target=_target(args, stored.classes))
    out = Path(args.out) if args.out else Path(args.classifier_run) / "advgan" / (
        "untargeted" if config.target is None else f"target{config.target}")
    train_advgan(stored.model, data, config, out, progress=not args.no_progress,
                 source={"classifier_run": str(args.classifier_run)})
    print(f"wrote {out}/ (advgan.safetensors, config.yaml, metrics.jsonl, samples.png); "
          f"use it with gankit attack {args.classifier_run} --method advgan --advgan {out}")


def cmd_harden(args: argparse.Namespace) -> None:
    from gankit.adversarial import harden

    out = new_run_dir(args.out, "harden", args.method)
    report = harden(args.classifier_config, args.method, out, budget=_budget(args),
                    advgan_run=args.advgan, epochs=args.epochs, device=args.device,
                    progress=not args.no_progress)
    _print_recognition(report)
    print(f"wrote {out}/ (a classify run: attack it with gankit attack {out} --method pgd)")


def cmd_defend(args: argparse.Namespace) -> None:
    from gankit.adversarial import AttackSpec, PGDConfig, Projection
    from gankit.adversarial.defend import run_defense

    result = run_defense(
        args.classifier_run, args.gan, args.out, method=args.method, attack=args.attack,
        spec=AttackSpec(_budget(args), None, PGDConfig(steps=args.steps)),
        projection=Projection(restarts=args.restarts, steps=args.projection_steps), n=args.n,
        adaptive=not args.no_adaptive, device=args.device)
    for case, accs in result.scores.items():
        print(f"  {case:<14} " + ", ".join(f"{k} {100 * v:.2f}%" for k, v in accs.items()))
    print(f"wrote {result.out}/ (defense.json; grid.png rows: {', '.join(result.shown)})")


def cmd_translate_train(args: argparse.Namespace) -> None:
    from gankit.translate import train_translator

    config = from_args(TranslateConfig, args)
    out = new_run_dir(args.out, "translate", args.method)
    train_translator(config, out, progress=not args.no_progress)
    print(f"wrote {out}/ (translator.safetensors, config.yaml, metrics.jsonl, samples.png); "
          f"use it with gankit translate apply {out} --images {args.b} --direction b2a")


def cmd_translate_apply(args: argparse.Namespace) -> None:
    from gankit.translate import translate_images

    out = Path(args.out) if args.out else Path(args.run_dir) / "translated" / args.direction
    grid = translate_images(args.run_dir, args.images, out, direction=args.direction, n=args.n,
                            seed=args.seed, device=args.device)
    print(f"wrote {out}/ (translated_*.png; grid.png rows alternate input / output): {grid}")


def cmd_report(args: argparse.Namespace) -> None:
    from gankit.report import write_report

    path = write_report([args.run_dir, *(args.compare or [])], args.out)
    print(f"wrote {path}")


def cmd_serve(args: argparse.Namespace) -> None:
    uvicorn = require("uvicorn", "serve")
    require("fastapi", "serve")
    require("multipart", "serve")  # python-multipart: FastAPI's form uploads
    from gankit.serve import create_app

    if not Path(args.runs).is_dir():
        raise GankitError(f"runs folder {args.runs} does not exist; train something first or "
                          "pass --runs DIR")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"note: serving on {args.host}: anyone who can reach it can run models here")
    print(f"gankit: serving {args.runs} on http://{args.host}:{args.port}/ (Ctrl-C stops)")
    uvicorn.run(create_app(args.runs, device=args.device), host=args.host, port=args.port,
                log_level="warning")


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
    add_flags(train, TrainConfig, suppress=True,
              title="training options (override the recipe and --config)")
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

    clf = sub.add_parser("classify", help="train or evaluate a CNN recogniser")
    clf_sub = clf.add_subparsers(dest="classify_command", required=True, metavar="ACTION")
    ctr = clf_sub.add_parser("train", help="train a recogniser into a run directory")
    ctr.add_argument("--data", default="fashion-mnist", help="dataset name or folder:PATH")
    ctr.add_argument("--data-root", help="folder holding the dataset files (searched first)")
    ctr.add_argument("--per-class", type=int, help="train on N images of each class only")
    ctr.add_argument("--augment", default="none", choices=AUGMENTATIONS,
                     help="classical = random 2-pixel shifts (and mirrors, see --flip); strong "
                          "= those, RandAugment and random erasing")
    ctr.add_argument("--flip", default="auto", choices=FLIPS,
                     help="mirror half the images in augmentation: auto = only where gankit "
                          "knows a mirror keeps the class (fashion-mnist; never folder: data)")
    ctr.add_argument("--extra", metavar="RUN_OR_DIR",
                     help="more labelled training images: a conditional GAN run or a folder "
                          "of class sub-folders")
    ctr.add_argument("--extra-per-class", type=int,
                     help="images per class drawn from a GAN --extra (default: as many as "
                          "the real ones)")
    defaults = ClassifierConfig()
    ctr.add_argument("--epochs", type=float, default=defaults.epochs)
    ctr.add_argument("--batch-size", type=int, default=defaults.batch_size)
    ctr.add_argument("--lr", type=float, default=defaults.lr, help="peak one-cycle AdamW rate")
    ctr.add_argument("--width", type=int, default=defaults.width, help="channels of stage 1")
    ctr.add_argument("--seed", type=int, default=0)
    ctr.add_argument("--out", help="run directory (default: runs/classify-DATA-TIME)")
    ctr.add_argument("--device", default="auto")
    ctr.add_argument("--no-progress", action="store_true")
    ctr.set_defaults(func=cmd_classify_train)
    cev = clf_sub.add_parser("eval", help="accuracy, per-class accuracy, confusion matrix")
    cev.add_argument("run_dir", metavar="RUN_DIR")
    cev.add_argument("--data", help="dataset to test on (default: the training data)")
    cev.add_argument("--data-root")
    cev.add_argument("--split", default="test", choices=("train", "test"))
    cev.add_argument("--device", default="auto")
    cev.set_defaults(func=cmd_classify_eval)

    aug = sub.add_parser("augment", help="do GAN images help a recogniser more than the best "
                                         "non-GAN recipe? (over seeds, chosen on validation)")
    defaults = AugmentConfig()  # the experiment's defaults live in one place
    aug.add_argument("--data", default=defaults.data, help="labelled dataset or folder:PATH")
    aug.add_argument("--data-root")
    aug.add_argument("--per-class", type=int, default=defaults.per_class,
                     help="labelled images per class, validation included (default: "
                          "%(default)s)")
    aug.add_argument("--validation-share", type=float, default=defaults.validation_share,
                     help="share of each class's labelled images held out to choose by "
                          "(default: %(default)s)")
    aug.add_argument("--seeds", type=int, default=defaults.seeds,
                     help="repetitions (subset, GAN, nets; default: %(default)s)")
    aug.add_argument("--flip", default=defaults.flip, choices=FLIPS,
                     help="mirror images in augmentation: auto = only where gankit knows a "
                          "mirror keeps the class (fashion-mnist; never folder: data)")
    aug.add_argument("--gan-recipe", default=defaults.gan_recipe,
                     help="recipe of the conditional GAN")
    aug.add_argument("--gan-lr", type=float, default=defaults.gan_lr,
                     help="Adam learning rate of both GAN nets (default: %(default)s)")
    aug.add_argument("--gan-steps", type=int, default=defaults.gan_steps,
                     help="GAN updates (default: %(default)s)")
    aug.add_argument("--gan-width", type=int, default=defaults.gan_width,
                     help="the GAN nets' width (default: the recipe's)")
    aug.add_argument("--diffaugment", default=defaults.gan_diffaugment,
                     help="DiffAugment transforms for the GAN ('' = off)")
    aug.add_argument("--mode-seeking", type=float, default=defaults.gan_mode_seeking,
                     help="mode-seeking weight against within-class collapse (0 = off)")
    aug.add_argument("--ratio", type=float, default=defaults.synthetic_ratio,
                     help="pool images (GAN or augmented copies) per real one (default: "
                          "%(default)s)")
    aug.add_argument("--synthetic-weight", type=float, default=defaults.synthetic_weight,
                     help="weight of each update's pool batch in the loss (real: 1; default: "
                          "%(default)s)")
    aug.add_argument("--synthetic-batch", type=int, default=defaults.synthetic_batch,
                     help="pool images per update (default: as many as real ones)")
    aug.add_argument("--teacher-share", type=float, default=defaults.teacher_share,
                     help="share of a pool image's target taken from the teachers' "
                          "prediction (0 = its label only; default: %(default)s)")
    aug.add_argument("--teacher-temperature", type=float, default=defaults.teacher_temperature,
                     help="softens the teachers' prediction: their logits are divided by it "
                          "(default: %(default)s)")
    aug.add_argument("--filter", action="store_true",
                     help="keep the GAN images the real-data recogniser is surest of")
    aug.add_argument("--classifier-steps", type=int, default=defaults.classifier.steps,
                     help="recogniser updates, the same in every condition but 'longer' "
                          "(default: %(default)s)")
    aug.add_argument("--out", help="output folder (default: runs/augment-DATA-Npc-TIME)")
    aug.add_argument("--device", default="auto")
    aug.add_argument("--workers", type=int,
                     help="processes training side by side, each on its share of the torch "
                          "threads (default: one per thread on the CPU, one on a GPU)")
    aug.add_argument("--no-progress", action="store_true")
    aug.set_defaults(func=cmd_augment)

    inp = sub.add_parser("inpaint", help="fill missing regions of images with a trained GAN")
    inp.add_argument("run_dir", metavar="RUN_DIR", help="a gankit GAN run directory")
    inp.add_argument("--images", default="fashion-mnist",
                     help="dataset name (its test split), folder or image file")
    inp.add_argument("--mask", default="center",
                     help="center, box, strokes, half, or a PNG (white = missing)")
    inp.add_argument("--method", default="latent",
                     help="latent or cgan; baselines: mean, biharmonic, telea")
    inp.add_argument("--n", type=int, default=16, help="images to complete")
    inp.add_argument("--seed", type=int, default=0, help="seed of the random masks")
    inp.add_argument("--out", help="output folder (default: RUN_DIR/inpaint/METHOD-MASK)")
    inp.add_argument("--device", default="auto")
    inp.set_defaults(func=cmd_inpaint)

    # `gankit inpaint train ...` is routed here by main(), since `inpaint` takes a RUN_DIR.
    itr = sub.add_parser("inpaint-train", help="train the completion GAN "
                                               "(also spelt: gankit inpaint train)")
    add_flags(itr, CompletionConfig)
    itr.add_argument("--out", help="run directory (default: runs/inpaint-DATA-TIME); a run "
                     "that stopped early there continues")
    itr.add_argument("--no-progress", action="store_true")
    itr.set_defaults(func=cmd_inpaint_train)

    def budget_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--eps", type=float, default=0.1,
                       help="perturbation budget on the [0, 1] pixel scale (default 0.1)")
        p.add_argument("--norm", default="linf", help="linf or l2")

    att = sub.add_parser("attack", help="attack a recogniser (fgsm, pgd, advgan) "
                                        "[also: gankit attack train-advgan CLASSIFIER_RUN]")
    att.add_argument("classifier_run", metavar="CLASSIFIER_RUN", help="a gankit classify run")
    att.add_argument("--method", default="pgd", help="fgsm, pgd or advgan")
    budget_flags(att)
    att.add_argument("--targeted", metavar="CLASS", help="make it this class (index or name)")
    att.add_argument("--steps", type=int, default=40, help="PGD steps")
    att.add_argument("--restarts", type=int, default=1, help="PGD random restarts")
    att.add_argument("--advgan", metavar="RUN_DIR", help="AdvGAN run for --method advgan")
    att.add_argument("--data", help="dataset (default: the recogniser's)")
    att.add_argument("--data-root")
    att.add_argument("--split", default="test", choices=("train", "test"))
    att.add_argument("--n", type=int, default=1000, help="images to attack")
    att.add_argument("--out", help="folder (default: CLASSIFIER_RUN/attacks/METHOD-NORM-EPS)")
    att.add_argument("--device", default="auto")
    att.set_defaults(func=cmd_attack)

    # `gankit attack train-advgan ...` is routed here by main(), like `inpaint train`.
    adv = sub.add_parser("attack-train-advgan", help="train an AdvGAN against a recogniser "
                                                     "(also spelt: gankit attack train-advgan)")
    adv.add_argument("classifier_run", metavar="CLASSIFIER_RUN")
    add_flags(adv, AdvGANConfig, skip=("target",))
    adv.add_argument("--targeted", metavar="CLASS", help="train for this target class")
    adv.add_argument("--out", help="run directory (default: CLASSIFIER_RUN/advgan/GOAL); a "
                     "run that stopped early there continues")
    adv.add_argument("--no-progress", action="store_true")
    adv.set_defaults(func=cmd_attack_train_advgan)

    hrd = sub.add_parser("harden", help="adversarially train a recogniser (pgd, fast, advgan)")
    hrd.add_argument("classifier_config", metavar="CLASSIFIER_CONFIG",
                     help="a gankit classify run (or its config.yaml) to retrain robustly")
    hrd.add_argument("--method", default="fast", help="pgd, fast or advgan")
    budget_flags(hrd)
    hrd.add_argument("--advgan", metavar="RUN_DIR", help="AdvGAN run for --method advgan")
    hrd.add_argument("--epochs", type=float, help="override the recogniser's epochs")
    hrd.add_argument("--out", help="run directory (default: runs/harden-METHOD-TIME)")
    hrd.add_argument("--device", default="auto")
    hrd.add_argument("--no-progress", action="store_true")
    hrd.set_defaults(func=cmd_harden)

    dfd = sub.add_parser("defend", help="Defense-GAN: purify inputs with a GAN, then classify")
    dfd.add_argument("classifier_run", metavar="CLASSIFIER_RUN")
    dfd.add_argument("--method", default="gan-purify", help="gan-purify")
    dfd.add_argument("--gan", required=True, metavar="GAN_RUN",
                     help="an unconditional GAN run trained on the same data")
    dfd.add_argument("--attack", default="pgd", help="fgsm or pgd")
    budget_flags(dfd)
    dfd.add_argument("--steps", type=int, default=10, help="PGD steps")
    dfd.add_argument("--restarts", type=int, default=10, help="projection restarts (R)")
    dfd.add_argument("--projection-steps", type=int, default=200, help="projection steps (L)")
    dfd.add_argument("--no-adaptive", action="store_true",
                     help="skip the adaptive (BPDA) attack through the purifier")
    dfd.add_argument("--n", type=int, default=100, help="test images (the projection is slow)")
    dfd.add_argument("--out", help="folder (default: CLASSIFIER_RUN/defend/METHOD)")
    dfd.add_argument("--device", default="auto")
    dfd.set_defaults(func=cmd_defend)

    trn = sub.add_parser("translate", help="image-to-image translation between domains")
    trn_sub = trn.add_subparsers(dest="translate_command", required=True, metavar="ACTION")
    ttr = trn_sub.add_parser("train", help="train a CycleGAN (unpaired) or pix2pix (paired)")
    add_flags(ttr, TranslateConfig)
    ttr.add_argument("--out", help="run directory (default: runs/translate-METHOD-TIME); a "
                     "run that stopped early there continues")
    ttr.add_argument("--no-progress", action="store_true")
    ttr.set_defaults(func=cmd_translate_train)
    tap = trn_sub.add_parser("apply", help="translate images with a trained run")
    tap.add_argument("run_dir", metavar="RUN_DIR")
    tap.add_argument("--images", default="fashion-mnist@low-light",
                     help="a domain (its test split), folder or image file")
    tap.add_argument("--direction", default="a2b", choices=("a2b", "b2a"))
    tap.add_argument("--n", type=int, default=16)
    tap.add_argument("--seed", type=int, default=0, help="seed of the domain's transforms")
    tap.add_argument("--out", help="folder (default: RUN_DIR/translated/DIRECTION)")
    tap.add_argument("--device", default="auto")
    tap.set_defaults(func=cmd_translate_apply)

    rep = sub.add_parser("report", help="one self-contained HTML page for a run (or several)")
    rep.add_argument("run_dir", metavar="RUN_DIR")
    rep.add_argument("--compare", nargs="+", metavar="RUN", help="more runs, side by side")
    rep.add_argument("--out", help="HTML file (default: RUN_DIR/report.html)")
    rep.set_defaults(func=cmd_report)

    srv = sub.add_parser("serve", help="a local web app: browse runs, sample, complete, "
                                       "attack, translate")
    srv.add_argument("--runs", default="runs", help="folder of run directories")
    srv.add_argument("--host", default="127.0.0.1", help="address to bind (default: local only)")
    srv.add_argument("--port", type=int, default=8000)
    srv.add_argument("--device", default="auto")
    srv.set_defaults(func=cmd_serve)

    sub.add_parser("datasets", help="list the datasets").set_defaults(func=cmd_datasets)
    sub.add_parser("models", help="list models, losses and recipes").set_defaults(func=cmd_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["inpaint", "train"]:
        argv = ["inpaint-train", *argv[2:]]
    if argv[:2] == ["attack", "train-advgan"]:
        argv = ["attack-train-advgan", *argv[2:]]
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
