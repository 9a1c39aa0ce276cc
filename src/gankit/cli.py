"""`gankit <command>`: a thin shell over the Python API."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass

from gankit.adversarial import AdvGANConfig
from gankit.commands import gan, images, recognise
from gankit.errors import GankitError
from gankit.experiments.augmentation import AugmentConfig
from gankit.inpaint.cgan import CompletionConfig
from gankit.io import write_failure
from gankit.options import add_flags, check_ranges, from_args
from gankit.recognize import ClassifierConfig
from gankit.train.config import TrainConfig
from gankit.translate.translator import TranslateConfig


@dataclass(frozen=True)
class Command:
    """One row of the command table: `run` is called with an instance of each of `options`
    (their fields are the command's flags, less `skip`), then, with `overrides`, a dict of
    the flags of that config the user set (merged over a recipe and a file)."""

    name: str  # "classify train": an action of a group
    help: str
    run: Callable[..., None]
    options: tuple[type, ...] = ()
    skip: tuple[str, ...] = ()
    overrides: type | None = None
    overrides_title: str = ""
    overrides_shown: Callable[[], dict[str, object]] | None = None  # defaults the help shows


COMMANDS = (
    Command("train", "train a GAN into a run directory", gan.train, (gan.TrainCommand,),
            overrides=TrainConfig, overrides_shown=gan.recipe_defaults,
            overrides_title="training options (over the recipe and --config; the defaults "
                            "shown are the default recipe's)"),
    Command("demo", "train the default recipe on Fashion-MNIST for 5 minutes", gan.demo,
            (gan.DemoCommand,)),
    Command("sample", "draw a grid of images from a trained run", gan.sample_grid,
            (gan.SampleCommand,)),
    Command("eval", "score a trained run (FID, KID, precision/recall, ...)", gan.evaluate,
            (gan.EvalCommand,)),
    Command("classify train", "train a recogniser into a run directory",
            recognise.classify_train, (recognise.ClassifyTrainCommand, ClassifierConfig)),
    Command("classify eval", "accuracy, per-class accuracy, confusion matrix",
            recognise.classify_eval, (recognise.ClassifyEvalCommand,)),
    Command("augment", "do GAN images help a recogniser more than the best non-GAN recipe? "
            "(over seeds, chosen on validation)", recognise.augment,
            (recognise.AugmentCommand, AugmentConfig), skip=("classifier",)),
    Command("inpaint", "fill missing regions of images with a trained GAN", images.inpaint,
            (images.InpaintCommand,)),
    Command("inpaint train", "train the completion GAN", images.inpaint_train,
            (images.TrainRunCommand, CompletionConfig)),
    Command("attack", "attack a recogniser (fgsm, pgd, advgan) [also: gankit attack "
            "train-advgan CLASSIFIER_RUN]", recognise.attack,
            (recognise.AttackCommand, recognise.BudgetOptions)),
    Command("attack train-advgan", "train an AdvGAN against a recogniser",
            recognise.train_advgan, (recognise.AdvGANTrainCommand, AdvGANConfig),
            skip=("target",)),
    Command("harden", "adversarially train a recogniser (pgd, fast, advgan)", recognise.harden,
            (recognise.HardenCommand, recognise.BudgetOptions)),
    Command("defend", "Defense-GAN: purify inputs with a GAN, then classify", recognise.defend,
            (recognise.DefendCommand, recognise.BudgetOptions)),
    Command("translate train", "train a CycleGAN (unpaired) or pix2pix (paired)",
            images.translate_train, (images.TrainRunCommand, TranslateConfig)),
    Command("translate apply", "translate images with a trained run", images.translate_apply,
            (images.TranslateApplyCommand,)),
    Command("report", "one self-contained HTML page for a run (or several)", images.report,
            (images.ReportCommand,)),
    Command("serve", "a local web app: browse runs, sample, complete, attack, translate",
            images.serve, (images.ServeCommand,)),
    Command("datasets", "list the datasets", gan.list_datasets),
    Command("models", "list models, losses and recipes", gan.list_models),
)
GROUPS = {"classify": "train or evaluate a CNN recogniser",
          "translate": "image-to-image translation between domains"}
NAMES = {c.name for c in COMMANDS}
# `gankit inpaint train ...` reaches the parser as `inpaint-train`: `inpaint` itself takes a
# RUN_DIR, so its actions cannot be sub-commands.
JOINED = {c.name for c in COMMANDS if " " in c.name and c.name.split(" ")[0] in NAMES}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gankit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    actions: dict[str, argparse._SubParsersAction] = {}
    for command in COMMANDS:
        group, _, action = command.name.partition(" ")
        if not action or command.name in JOINED:
            name = command.name.replace(" ", "-")
            help_text = command.help + (f" (also spelt: gankit {command.name})"
                                        if command.name in JOINED else "")
            p = sub.add_parser(name, help=help_text, description=help_text)
        else:
            if group not in actions:
                actions[group] = sub.add_parser(group, help=GROUPS[group]).add_subparsers(
                    dest=f"{group}_command", required=True, metavar="ACTION")
            p = actions[group].add_parser(action, help=command.help, description=command.help)
        for cls in command.options:
            add_flags(p, cls, skip=command.skip)
        if command.overrides is not None:
            add_flags(p, command.overrides, suppress=True, title=command.overrides_title,
                      shown=command.overrides_shown() if command.overrides_shown else None)
        p.set_defaults(entry=command)
    return parser


def _call(command: Command, args: argparse.Namespace) -> None:
    values: list[object] = []
    for cls in command.options:
        value = from_args(cls, args)
        check_ranges(value)  # option classes, and configs that check only when run (augment)
        values.append(value)
    if command.overrides is not None:
        values.append({f.name: getattr(args, f.name)
                       for f in dataclasses.fields(command.overrides) if hasattr(args, f.name)})
    command.run(*values)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if " ".join(argv[:2]) in JOINED:
        argv = ["-".join(argv[:2]), *argv[2:]]
    args = build_parser().parse_args(argv)
    try:
        _call(args.entry, args)
    except GankitError as err:
        print(f"gankit: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a disk fault in a write not made through gankit.io
        print(f"gankit: error: {write_failure(err.filename or 'a file', err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130
    return 0
