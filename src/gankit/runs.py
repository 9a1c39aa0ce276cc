"""What a run directory holds, said in one place.

Every trained run writes `run.json` ({"kind": ..., "format": 1}) beside its weights; the kind
names an entry of RUN_KINDS: the file its weights live in, the command that makes one and the
function that loads it. The web app, the report, completion and the recogniser's extra images
ask `run_kind` instead of guessing from file names.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gankit.errors import GankitError
from gankit.io import atomic_write, load_state
from gankit.record import run_record
from gankit.registry import Registry

MANIFEST = "run.json"
FORMAT = 1


@dataclass(frozen=True)
class RunKind:
    noun: str  # "a GAN run"
    weights: str  # the file in the run directory that holds the weights
    made_by: str  # the command that makes such a run
    loader: str  # "module:function" taking (run_dir, device=...)

    def load(self, run_dir: str | Path, device: str = "auto") -> Any:
        module, name = self.loader.split(":")
        return getattr(importlib.import_module(module), name)(run_dir, device=device)


RUN_KINDS: Registry[RunKind] = Registry("run kind")
for _name, _kind, _summary in [
    ("gan", RunKind("a GAN run", "checkpoint.safetensors", "gankit train",
                    "gankit.train.rundir:load_generator"),
     "a generator and its discriminator"),
    ("classifier", RunKind("a classifier run", "recogniser.safetensors",
                           "gankit classify train", "gankit.recognize.run:load_recogniser_run"),
     "an image recogniser (also made by gankit attack harden)"),
    ("completion", RunKind("a completion run", "completion.safetensors",
                           "gankit inpaint train", "gankit.inpaint.cgan:load_completion"),
     "a completion GAN for missing regions"),
    ("translator", RunKind("a translator run", "translator.safetensors",
                           "gankit translate train",
                           "gankit.translate.translator:load_translator"),
     "an image-to-image translator"),
    ("advgan", RunKind("an AdvGAN run", "advgan.safetensors",
                       "gankit attack train-advgan CLASSIFIER_RUN",
                       "gankit.adversarial.advgan:load_advgan"),
     "an adversarial-example generator")]:
    RUN_KINDS.add(_name, _kind, _summary)


def new_run_dir(out: str | Path | None, *parts: str | int) -> Path:
    """OUT when the user gave one, else runs/PART-...-YYYYmmdd-HHMMSS (a `folder:PATH` part
    counts as "folder"): the one place that names new run and result folders."""
    if out:
        return Path(out)
    names = [str(part).split(":")[0] for part in parts]
    return Path("runs") / "-".join([*names, time.strftime("%Y%m%d-%H%M%S")])


def write_manifest(run_dir: str | Path, kind: str) -> None:
    """run.json: the run's kind and format, and its record (gankit.record.run_record)."""
    RUN_KINDS.get(kind)  # a typo here is a bug, named
    path = Path(run_dir) / MANIFEST
    try:
        started = json.loads(path.read_text())["record"]["started"]
    except (OSError, ValueError, KeyError, TypeError):
        started = None  # a first save, or a run from before records
    atomic_write(path, json.dumps({"kind": kind, "format": FORMAT,
                                   "record": run_record(started)}, indent=1).encode())


def read_record(run_dir: str | Path) -> dict[str, Any]:
    """The record in a run's run.json ({} for a run from before records, or none)."""
    try:
        record = json.loads((Path(run_dir) / MANIFEST).read_text()).get("record")
    except (OSError, ValueError, AttributeError):
        return {}
    return record if isinstance(record, dict) else {}


def check_free_for(run_dir: str | Path, kind: str) -> None:
    """Refuse to train a `kind` run into a directory that holds a run of another kind."""
    if (Path(run_dir) / MANIFEST).is_file() and run_kind(run_dir) != kind:
        raise GankitError(f"{run_dir} already holds {RUN_KINDS.get(run_kind(run_dir)).noun}; "
                          "choose another --out")


def run_kind(run_dir: str | Path) -> str:
    """The kind of the run in `run_dir`, from its run.json."""
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        raise GankitError(f"{run_dir} is not a gankit run directory (it has no {MANIFEST}); "
                          "train one with " + ", ".join(RUN_KINDS.get(k).made_by
                                                         for k in RUN_KINDS))
    try:
        kind = json.loads(path.read_text())["kind"]
    except (ValueError, KeyError, TypeError):
        raise GankitError(f"{path} is damaged (no kind in it); retrain the run") from None
    if kind not in RUN_KINDS:
        raise GankitError(f"{run_dir} holds a run of kind {kind!r}, which this gankit does "
                          f"not know (it knows {', '.join(RUN_KINDS)}); was it written by "
                          "a newer gankit?")
    return kind


def require_kind(run_dir: str | Path, *kinds: str) -> str:
    """`run_kind(run_dir)`, which must be one of `kinds`: else one line naming the commands
    that make the runs this needs."""
    wanted = [f"{RUN_KINDS.get(k).noun} ({RUN_KINDS.get(k).made_by})" for k in kinds]
    if not (Path(run_dir) / MANIFEST).is_file():
        raise GankitError(f"{run_dir} is {'neither ' if len(kinds) > 1 else 'not '}"
                          f"{' nor '.join(wanted)}: it has no {MANIFEST}")
    kind = run_kind(run_dir)
    if kind not in kinds:
        raise GankitError(f"{run_dir} is {RUN_KINDS.get(kind).noun}; this needs "
                          f"{' or '.join(wanted)}")
    return kind


def load_run(run_dir: str | Path, device: str = "auto") -> tuple[str, Any]:
    """(kind, what the kind's loader returns) for any run directory."""
    kind = run_kind(run_dir)
    return kind, RUN_KINDS.get(kind).load(run_dir, device)


def edited_settings(run_dir: str | Path, ignore: Iterable[str] = ()) -> list[str]:
    """The settings whose value in RUN_DIR/config.yaml differs from the one in the run's
    weights file, each as "name: X in config.yaml, Y in the checkpoint": an edit by hand, which
    changes nothing, since the checkpoint's settings are the run's. Empty where either file or
    the run's settings in it are missing. `ignore`: settings a resume may change."""
    run_dir, ignored = Path(run_dir), set(ignore)
    try:
        weights = run_dir / RUN_KINDS.get(run_kind(run_dir)).weights
        stored = load_state(weights, parts=("config",)).get("config")
        written = yaml.safe_load((run_dir / "config.yaml").read_text())
    except (GankitError, OSError, yaml.YAMLError):
        return []
    if not isinstance(stored, dict) or not isinstance(written, dict):
        return []
    return [f"{k}: {written[k]!r} in config.yaml, {v!r} in the checkpoint"
            for k, v in stored.items()
            if k in written and k not in ignored and _plain(written[k]) != _plain(v)]


def _plain(value: Any) -> Any:
    """A value as JSON has it (YAML and the checkpoint differ in tuples)."""
    return json.loads(json.dumps(value))


def refuse_edited_config(run_dir: str | Path, resumable: Iterable[str]) -> None:
    """Refuse to resume a run whose config.yaml was edited by hand (in other settings than
    the `resumable` ones, which a resume may change and rewrites)."""
    edits = edited_settings(run_dir, resumable)
    if edits:
        more = f" and {len(edits) - 1} more" if len(edits) > 1 else ""
        raise GankitError(f"{Path(run_dir) / 'config.yaml'} was edited by hand ({edits[0]}"
                          f"{more}); the checkpoint's settings are the run's: undo the edit, "
                          "and change budgets with flags (--steps, --minutes)")
