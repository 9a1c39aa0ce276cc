"""Atomic file writes and the safetensors checkpoint format.

A checkpoint is one safetensors file: every tensor of a nested state (model and optimiser
state dicts, RNG states) stored by its path, and the tree's non-tensor skeleton (ints,
floats, strings, dict keys of any JSON type) as JSON in the file's metadata. Loading never
unpickles anything.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from gankit.errors import GankitError, NonFiniteStateError

FORMAT = "gankit-checkpoint-1"


def write_failure(path: str | Path, err: OSError) -> str:
    """One line naming the path a file operation failed on, why, and what to do."""
    cause = err.strerror or type(err).__name__
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (f"cannot write {path}: {cause}; the folder is not writable here; pick another "
                "--out or fix its permissions")
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"cannot write {path}: {cause}; free some space (nothing half-written was "
                "left) and rerun")
    return f"{path}: {cause}; check the path and rerun"


def read_yaml(path: str | Path, what: str = "file") -> Any:
    """The YAML document at `path`, or one line naming the file, the place and the problem
    (PyYAML's own message spans several lines)."""
    try:
        return yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise GankitError(f"cannot read {what} {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise GankitError(f"{what} {path} is not valid YAML{where}: {problem}; fix or "
                          "remove it") from None


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write bytes so that `path` holds either the old or the new content, never a mix. A
    failed write (read-only folder, full disk) leaves no temporary file behind, since a
    half-written one would keep a full disk full."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise GankitError(write_failure(path, err)) from None


def writable_folder(folder: str | Path) -> Path:
    """Create `folder` if need be and check that a file can be written there: long work
    (training, scoring) fails at its start, not when it writes its result."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".gankit-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise GankitError(write_failure(folder, err)) from None
    return folder


def _pack(obj: Any, key: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors[key] = obj.detach().to("cpu").contiguous()
        return {"$t": key}
    if isinstance(obj, dict):
        return {"$d": [[k, _pack(v, f"{key}/{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_pack(v, f"{key}/{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {key!r} in a checkpoint")


def _unpack(node: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(node, dict):
        if "$t" in node:
            return tensors[node["$t"]]
        return {k: _unpack(v, tensors) for k, v in node["$d"]}
    if isinstance(node, list):
        return [_unpack(v, tensors) for v in node]
    return node


def save_state(path: str | Path, state: dict[str, Any], *, finite: bool = False) -> None:
    """Atomically write a nested state (dicts, lists, tensors, JSON scalars) as safetensors.
    With `finite`, a state whose floating-point tensors hold NaN or infinities is refused
    (NonFiniteStateError) and the file on disk stays as it was: a training checkpoint is only
    ever replaced by a usable one."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _pack(state, "", tensors)
    if finite:
        bad = [k.lstrip("/") for k, t in tensors.items()
               if t.is_floating_point() and not bool(torch.isfinite(t).all())]
        if bad:
            raise NonFiniteStateError(bad)
    metadata = {"format": FORMAT, "tree": json.dumps(skeleton)}
    atomic_write(path, safetensors_bytes(tensors, metadata=metadata))


def load_state(path: str | Path, parts: Iterable[str] | None = None) -> dict[str, Any]:
    """Read a state written by `save_state`; `parts` limits it to those top-level entries."""
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"checkpoint {path} does not exist; train a run first (gankit train)")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            if metadata.get("format") != FORMAT:
                raise ValueError("not a gankit checkpoint")
            tree = json.loads(metadata["tree"])["$d"]
            if parts is not None:
                wanted = set(parts)
                tree = [[k, v] for k, v in tree if k in wanted]
            names = {k for k, _ in tree}
            tensors = {k: f.get_tensor(k) for k in f.keys() if k.split("/")[1] in names}
            return _unpack({"$d": tree}, tensors)
    except GankitError:
        raise
    except Exception as err:  # safetensors, JSON and key errors all mean a damaged file
        raise GankitError(
            f"checkpoint {path} is corrupt or truncated ({type(err).__name__}: {err}); "
            "restore it or start a new run"
        ) from None

