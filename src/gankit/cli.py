"""`gankit <command>`: a thin shell over the Python API."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gankit.errors import GankitError
from gankit.options import add_flags, check_ranges, from_args


def _load(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Command:
    """One row of the command table: `run` is called with an instance of each of `options`
    (their fields are the command's flags, less `skip`), then, with `overrides`, a dict of
    the flags of that config the user set (merged over a recipe and a file). Functions and
    classes are named as "module:name" and imported only for the command being run, so that
    `gankit --help` does not import torch."""

    name: str  # "classify train": an action of a group
    help: str
    run_at: str
    options_at: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    overrides_at: str | None = None
    overrides_title: str = ""
    shown_at: str | None = None  # a function giving the defaults the help shows

    @property
    def run(self) -> Callable[..., None]:
        return _load(self.run_at)

    @property
    def options(self) -> tuple[type, ...]:
        return tuple(_load(ref) for ref in self.options_at)

    @property
    def overrides(self) -> type | None:
        return _load(self.overrides_at) if self.overrides_at else None

    @property
    def overrides_shown(self) -> Callable[[], dict[str, object]] | None:
        return _load(self.shown_at) if self.shown_at else None


GAN, IMAGES, RECOGNISE = "gankit.commands.gan:", "gankit.commands.images:", \
    "gankit.commands.recognise:"
BUDGET = RECOGNISE + "BudgetOptions"
COMMANDS = (
    Command("train", "train a GAN into a run directory", GAN + "train", (GAN + "TrainCommand",),
            overrides_at="gankit.train.config:TrainConfig", shown_at=GAN + "recipe_defaults",
            overrides_title="training options (over the recipe and --config; the defaults "
                            "shown are the default recipe's)"),
    Command("demo", "train the default recipe on Fashion-MNIST for 5 minutes", GAN + "demo",
            (GAN + "DemoCommand",)),
    Command("sample", "draw a grid of images from a trained run", GAN + "sample_grid",
            (GAN + "SampleCommand",)),
    Command("export", "write a GAN run's generator as an ONNX graph (checked against torch)",
            GAN + "export", (GAN + "ExportCommand",)),
    Command("eval", "score a trained run (FID, KID, precision/recall, ...)", GAN + "evaluate",
            (GAN + "EvalCommand",)),
    Command("explore", "latent directions of a GAN run (SeFa, GANSpace), walked and measured",
            GAN + "explore", (GAN + "ExploreCommand",)),
    Command("saliency", "where the discriminator and the recogniser look, on real and "
            "generated images (Captum)", GAN + "saliency", (GAN + "SaliencyCommand",)),
    Command("classify train", "train a recogniser into a run directory",
            RECOGNISE + "classify_train",
            (RECOGNISE + "ClassifyTrainCommand", "gankit.recognize:ClassifierConfig")),
    Command("classify eval", "accuracy, per-class accuracy, confusion matrix",
            RECOGNISE + "classify_eval", (RECOGNISE + "ClassifyEvalCommand",)),
    Command("augment", "do GAN images help a recogniser more than the best non-GAN recipe? "
            "(over seeds, chosen on validation)", RECOGNISE + "augment",
            (RECOGNISE + "AugmentCommand", "gankit.experiments.augmentation:AugmentConfig"),
            skip=("classifier",)),
    Command("inpaint", "fill missing regions of images with a trained GAN", IMAGES + "inpaint",
            (IMAGES + "InpaintCommand",)),
    Command("inpaint train", "train the completion GAN", IMAGES + "inpaint_train",
            (IMAGES + "TrainRunCommand", "gankit.inpaint.cgan:CompletionConfig")),
    Command("attack", "attack a recogniser (fgsm, pgd, advgan) [also: gankit attack "
            "train-advgan CLASSIFIER_RUN]", RECOGNISE + "attack",
            (RECOGNISE + "AttackCommand", BUDGET)),
    Command("attack train-advgan", "train an AdvGAN against a recogniser",
            RECOGNISE + "train_advgan",
            (RECOGNISE + "AdvGANTrainCommand", "gankit.adversarial:AdvGANConfig"),
            skip=("target",)),
    Command("harden", "adversarially train a recogniser (pgd, fast, advgan)",
            RECOGNISE + "harden", (RECOGNISE + "HardenCommand", BUDGET)),
    Command("defend", "Defense-GAN: purify inputs with a GAN, then classify",
            RECOGNISE + "defend", (RECOGNISE + "DefendCommand", BUDGET)),
    Command("translate train", "train a CycleGAN (unpaired) or pix2pix (paired)",
            IMAGES + "translate_train",
            (IMAGES + "TrainRunCommand", "gankit.translate.translator:TranslateConfig")),
    Command("translate apply", "translate images with a trained run",
            IMAGES + "translate_apply", (IMAGES + "TranslateApplyCommand",)),
    Command("report", "one self-contained HTML page for a run (or several)", IMAGES + "report",
            (IMAGES + "ReportCommand",)),
    Command("serve", "a local web app: browse runs, sample, complete, attack, translate",
            IMAGES + "serve", (IMAGES + "ServeCommand",)),
    Command("datasets", "list the datasets", GAN + "list_datasets"),
    Command("models", "list models, losses and recipes", GAN + "list_models"),
)
GROUPS = {"classify": "train or evaluate a CNN recogniser",
          "translate": "image-to-image translation between domains"}
NAMES = {c.name for c in COMMANDS}
# `gankit inpaint train ...` reaches the parser as `inpaint-train`: `inpaint` itself takes a
# RUN_DIR, so its actions cannot be sub-commands.
JOINED = {c.name for c in COMMANDS if " " in c.name and c.name.split(" ")[0] in NAMES}


def _chosen(command: Command, argv: list[str] | None) -> bool:
    """Whether `argv` (joined spellings already dashed) runs `command`; None: every command."""
    return argv is None or command.name.replace(" ", "-") == (argv[:1] or [""])[0] or \
        command.name == " ".join(argv[:2])


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The CLI's parser; with `argv`, only the command it runs gets its flags (the others'
    modules stay unimported)."""
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
        p.set_defaults(entry=command)
        if not _chosen(command, argv):
            continue
        for cls in command.options:
            add_flags(p, cls, skip=command.skip)
        if command.overrides is not None:
            add_flags(p, command.overrides, suppress=True, title=command.overrides_title,
                      shown=command.overrides_shown() if command.overrides_shown else None)
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
    args = build_parser(argv).parse_args(argv)
    try:
        if os.environ.get("RANK", "0") != "0":  # under torchrun rank 0 alone reports;
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
                _call(args.entry, args)  # every rank's errors still reach stderr
        else:
            _call(args.entry, args)
    except GankitError as err:
        print(f"gankit: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a disk fault in a write not made through gankit.io
        from gankit.io import write_failure
        print(f"gankit: error: {write_failure(err.filename or 'a file', err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130
    if "gankit.distributed" in sys.modules:  # only then can this process be in a group
        sys.modules["gankit.distributed"].leave_distributed()
    return 0
