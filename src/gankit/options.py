"""Config dataclasses as command-line flags: a field's help (and choices) live beside its
default, and every command's flags are generated from its config, so the two never drift."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Iterable
from typing import Any, TypeVar

C = TypeVar("C")


def option(help_text: str, default: Any = None, *, choices: Iterable[str] | None = None) -> Any:
    """A config field with its help text (and the names it may take, for the help)."""
    metadata = {"help": help_text}
    if choices is not None:
        metadata["choices"] = tuple(choices)
    return dataclasses.field(default=default, metadata=metadata)


def scalar_type(cls: type, name: str) -> type:
    """The scalar type of a config field (`int | None` -> int)."""
    hint = typing.get_type_hints(cls)[name]
    if isinstance(hint, types.UnionType):
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def add_flags(parser: argparse.ArgumentParser, cls: type, *, skip: Iterable[str] = (),
              suppress: bool = False, title: str | None = None) -> None:
    """One --flag per field of the dataclass `cls` except `skip`. With `suppress`, unset flags
    stay out of the namespace (for configs that merge recipes and files under the flags)."""
    group = parser.add_argument_group(title) if title else parser
    skipped = set(skip)
    for f in dataclasses.fields(cls):
        if f.name in skipped:
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = scalar_type(cls, f.name)
        help_text = f.metadata.get("help", "")
        if "choices" in f.metadata:
            help_text += f"; one of: {', '.join(f.metadata['choices'])}"
        if f.default is not None:
            help_text += f" (default: {f.default})"
        default = argparse.SUPPRESS if suppress else f.default
        if kind is bool:
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                               default=default, help=help_text)
        else:
            # The names a field may take are listed, not enforced here: the config's
            # registry refuses an unknown one with its own line.
            group.add_argument(flag, dest=f.name, type=kind, default=default,
                               metavar=f.name.upper(), help=help_text)


def from_args(cls: type[C], args: argparse.Namespace, **fixed: Any) -> C:
    """An instance of `cls` from the flags `add_flags` made, with `fixed` fields set in code."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
              if hasattr(args, f.name)}
    return cls(**{**values, **fixed})
