"""Config dataclasses as command-line flags: a field's help, choices and range live beside its
default, every command's flags are generated from its configs, and one check enforces every
range, so flags, defaults and validation never drift apart."""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from collections.abc import Iterable
from typing import Any, TypeVar

from gankit.errors import GankitError

C = TypeVar("C")
SEED_MAX = 2**31 - 1  # torch generators take 64 bits; keep seeds in every int32 API's range
SWITCHES = ("auto", "on", "off")  # speed switches (gankit.train.speed)


def option(help_text: str, default: Any = None, *, choices: Iterable[str] | None = None,
           low: float | None = None, above: float | None = None, high: float | None = None,
           below: float | None = None, flag: str | None = None, positional: bool = False,
           required: bool = False, strict: bool = False) -> Any:
    """A config field with its help text and, where it is a number, its range: `low`/`high`
    are inclusive bounds, `above`/`below` exclusive ones. `choices` are listed in the help (the
    config's registry refuses an unknown name with its own line, or, `strict`, check_ranges
    does); `flag` renames the --flag;
    `positional` and `required` fields have no default."""
    metadata: dict[str, Any] = {"help": help_text, "low": low, "above": above, "high": high,
                                "below": below, "flag": flag, "positional": positional,
                                "strict": strict}
    if choices is not None:
        metadata["choices"] = tuple(choices)
    if positional or required:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def flag_name(f: dataclasses.Field) -> str:
    """The --flag of a config field (`data_root` -> --data-root, `class_` -> --class)."""
    return "--" + (f.metadata.get("flag") or f.name.rstrip("_").replace("_", "-"))


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _range_error(f: dataclasses.Field, value: float) -> str | None:
    m = f.metadata
    if math.isnan(value):
        return "must be a number"
    if m.get("low") is not None and value < m["low"]:
        return "must be non-negative" if m["low"] == 0 else f"must be at least {_number(m['low'])}"
    if m.get("above") is not None and value <= m["above"]:
        return "must be positive" if m["above"] == 0 else f"must be above {_number(m['above'])}"
    if m.get("high") is not None and value > m["high"]:
        return f"must be at most {_number(m['high'])}"
    if m.get("below") is not None and value >= m["below"]:
        return f"must be below {_number(m['below'])}"
    return None


def check_ranges(config: Any) -> None:
    """One clear line for the first field of the dataclass `config` outside its range."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.metadata.get("strict") and value not in f.metadata["choices"]:
            raise GankitError(f"{flag_name(f)} must be one of {', '.join(f.metadata['choices'])}"
                              f", got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        problem = _range_error(f, value)
        if problem:
            raise GankitError(f"{flag_name(f)} {problem}, got {value}")


class CheckedConfig:
    """Base of an application's config dataclass: its numbers are checked on creation
    (check_ranges), and it is saved as a plain dict (the run's config.yaml)."""

    def __post_init__(self) -> None:
        check_ranges(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


def has_range(f: dataclasses.Field) -> tuple[bool, bool]:
    """Whether the field is bounded (below, above): tests require both of every number."""
    m = f.metadata
    return (m.get("low") is not None or m.get("above") is not None,
            m.get("high") is not None or m.get("below") is not None)


def _interval(f: dataclasses.Field) -> str:
    m = f.metadata
    low = "[" + _number(m["low"]) if m.get("low") is not None else (
        "(" + _number(m["above"]) if m.get("above") is not None else "(-inf")
    high = _number(m["high"]) + "]" if m.get("high") is not None else (
        _number(m["below"]) + ")" if m.get("below") is not None else "inf)")
    return f"range {low}, {high}"


def scalar_type(cls: type, name: str) -> type:
    """The scalar type of a config field (`int | None` -> int, `list[str] | None` -> str)."""
    hint = typing.get_type_hints(cls)[name]
    if isinstance(hint, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is list:
        return typing.get_args(hint)[0]
    return hint


def _is_list(cls: type, name: str) -> bool:
    hint = typing.get_type_hints(cls)[name]
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    return any(typing.get_origin(a) is list for a in args)


def add_flags(parser: argparse.ArgumentParser, cls: type, *, skip: Iterable[str] = (),
              suppress: bool = False, title: str | None = None,
              shown: dict[str, Any] | None = None) -> None:
    """One --flag (or positional argument) per field of the dataclass `cls` except `skip`. With
    `suppress`, unset flags stay out of the namespace (for configs that merge recipes and files
    under the flags); `shown` replaces the help's defaults (a recipe's values over the
    dataclass's)."""
    group = parser.add_argument_group(title) if title else parser
    skipped = set(skip)
    own = cls.__dict__.get("__annotations__", {})
    # the command's own fields first, then those of a shared base (AppTrainingConfig)
    for f in sorted(dataclasses.fields(cls), key=lambda f: f.name not in own):
        if f.name in skipped:
            continue
        kind = scalar_type(cls, f.name)
        help_text = f.metadata.get("help", "")
        if "choices" in f.metadata:
            help_text += f"; one of: {', '.join(f.metadata['choices'])}"
        has_default = f.default is not dataclasses.MISSING
        value = (shown or {}).get(f.name, f.default)
        notes = [_interval(f)] if any(has_range(f)) else []
        if kind is bool:
            notes.insert(0, f"default: {flag_name(f) if value else '--no-' + flag_name(f)[2:]}")
        elif has_default and value is not None and value != "":
            notes.insert(0, f"default: {value}")
        if notes:
            help_text += f" ({'; '.join(notes)})"
        nargs = "+" if _is_list(cls, f.name) else None
        if f.metadata.get("positional"):
            group.add_argument(f.name, metavar=f.name.upper(), type=kind, help=help_text)
            continue
        default = argparse.SUPPRESS if suppress or not has_default else f.default
        flag = flag_name(f)
        if kind is bool:
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                               default=default, help=help_text)
        else:
            group.add_argument(flag, dest=f.name, type=kind, default=default, nargs=nargs,
                               required=not has_default, metavar=flag[2:].upper(),
                               help=help_text)


def from_args(cls: type[C], args: argparse.Namespace, **fixed: Any) -> C:
    """An instance of `cls` from the flags `add_flags` made, with `fixed` fields set in code."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
              if hasattr(args, f.name)}
    return cls(**{**values, **fixed})


# Fields that many configs share, spelt once.
def minutes_option() -> Any:
    return option("stop after this much wall-clock training time", above=0, high=10_080)


def log_every_option(default: int = 100) -> Any:
    return option("updates per row of metrics.jsonl (interval means)", default, low=1,
                  high=10**9)


def checkpoint_every_option(default: int) -> Any:
    return option("updates between checkpoints (a rollback returns to the last one)", default,
                  low=1, high=10**9)


def rollbacks_option(trouble: str = "a non-finite or exploding loss") -> Any:
    return option(f"on {trouble}: roll back to the last checkpoint and halve the learning "
                  "rates, at most this many times, then stop (0 = stop at once)", 2, low=0,
                  high=100)


def seed_option(help_text: str) -> Any:
    return option(help_text, 0, low=0, high=SEED_MAX)


def device_option() -> Any:
    return option("auto, cpu, cuda or cuda:N", "auto")


def switch_option(help_text: str) -> Any:
    return option(help_text, "auto", choices=SWITCHES, strict=True)


def amp_option() -> Any:
    return switch_option("bf16 autocast for the networks' forward passes (auto: where bf16 "
                         "multiplies in hardware: CPUs with AMX or AVX512-BF16, CUDA)")


def compile_option() -> Any:
    return option("torch.compile the training networks (the first steps pay for it)", False)


@dataclasses.dataclass(frozen=True)
class AppTrainingConfig(CheckedConfig):
    """The training settings the completion GAN, the translator and AdvGAN share: budget,
    logging, checkpoints, rollbacks, device and speed switches. Each adds its own fields."""

    minutes: float | None = minutes_option()
    log_every: int = log_every_option()
    checkpoint_every: int = checkpoint_every_option(500)
    rollbacks: int = rollbacks_option()
    device: str = device_option()
    amp: str = amp_option()
    compile: bool = compile_option()


def progress_option() -> Any:
    return option("show a progress bar (--no-progress: none)", True)
