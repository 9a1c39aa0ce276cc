"""A method trained into a run directory on the one loop.

The run's weights file is its checkpoint too: {kind, step, config, meta, weights, training}
(training: optimisers, random streams, batches drawn). Loaders read only what they need of it.
Training again into a directory whose run stopped early (Ctrl-C, --minutes, a crash after a
checkpoint) continues it exactly; a finished run, another kind or other settings are refused.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Protocol

import torch
import yaml
from torch import nn

from gankit.distributed import Dist
from gankit.errors import GankitError, NonFiniteStateError
from gankit.io import atomic_write, load_state, save_state, writable_folder
from gankit.runs import RUN_KINDS, check_free_for, refuse_edited_config, write_manifest
from gankit.train.batches import BatchStream
from gankit.train.logging import MetricsLog
from gankit.train.loop import Budget, LoopResult, Recovery, run_loop

HISTORY = "history"  # earlier checkpoints: history/step-NNNNNNNN.safetensors
# Settings a continued run may change: how long it trains, how it keeps and recovers its
# state, where and how fast.
RESUMABLE = ("steps", "minutes", "log_every", "checkpoint_every", "rollbacks", "device", "amp",
             "compile")


class RunMethod(Protocol):
    """A method's modules, optimisers and random streams, and its update."""

    step: int

    def train_step(self) -> dict[str, torch.Tensor]: ...

    def weights(self) -> dict[str, Any]: ...

    def training_state(self) -> dict[str, Any]: ...

    def optimizers(self) -> tuple[torch.optim.Optimizer, ...]: ...

    def load(self, weights: dict[str, Any], training: dict[str, Any]) -> None: ...


class GeneratorVsDiscriminator:
    """The checkpoint parts of a method that trains one generator `G` against one
    discriminator `D` on one batch stream: G's weights are what the run keeps; D, both
    optimisers and the stream's position are what resuming needs. A method that trains G alone
    on some settings (the completion model on L2 alone) leaves `D` and `opt_d` None, and its
    checkpoints hold neither. A method that draws more than batches (the completion model's
    masks) adds it through `extra_state`."""

    G: nn.Module
    D: nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None
    batches: BatchStream

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, training: dict[str, Any]) -> None:
        pass

    def weights(self) -> dict[str, Any]:
        return {"generator": self.G.state_dict()}

    def optimizers(self) -> tuple[torch.optim.Optimizer, ...]:
        return (self.opt_g,) if self.opt_d is None else (self.opt_g, self.opt_d)

    def training_state(self) -> dict[str, Any]:
        state = {"opt_g": self.opt_g.state_dict(), "batches_drawn": self.batches.drawn,
                 **self.extra_state()}
        if self.D is not None and self.opt_d is not None:
            state |= {"discriminator": self.D.state_dict(), "opt_d": self.opt_d.state_dict()}
        return state

    def load(self, weights: dict[str, Any], training: dict[str, Any]) -> None:
        self.G.load_state_dict(weights["generator"])
        if self.D is not None and self.opt_d is not None:
            self.D.load_state_dict(training["discriminator"])
            self.opt_d.load_state_dict(training["opt_d"])
        self.opt_g.load_state_dict(training["opt_g"])
        self.batches.drawn = int(training["batches_drawn"])
        self.load_extra_state(training)


class Checkpointed:
    """The loop's view of a method: its updates, checkpoints into the run's weights file (rank 0
    writes, atomically; with `keep`, the newest `keep` earlier ones stay in history/ to roll
    back to), and rollbacks to it (gankit.train.loop.Recovery)."""

    def __init__(self, method: RunMethod, path: Path, kind: str, config: dict[str, Any],
                 meta: dict[str, Any], where: Dist, lr_scale: float = 1.0, keep: int = 0) -> None:
        self.method, self.path, self.kind = method, path, kind
        self.config, self.meta, self.where, self.keep = config, meta, where, keep
        self.lr_scale = lr_scale  # what rollbacks multiplied the learning rates by
        self._saved: int | None = None

    @property
    def step(self) -> int:
        return self.method.step

    @step.setter
    def step(self, value: int) -> None:
        self.method.step = value

    def train_step(self) -> dict[str, torch.Tensor]:
        return self.method.train_step()

    def state(self) -> dict[str, Any]:
        """What a checkpoint written now holds."""
        return checkpoint_state(self.method, self.kind, self.config, self.meta, self.lr_scale)

    def save_checkpoint(self) -> Path:
        if self.where.is_main and self._saved != self.step:
            state = self.state()
            self._keep_previous()
            save_checkpoint_state(self.path, state)
            write_manifest(self.path.parent, self.kind)
            self._saved = self.step
        return self.path

    def _keep_previous(self) -> None:
        """Hard-link the checkpoint about to be replaced into history/ (free: the atomic
        replace leaves its data where it was) and drop all but the newest `keep`."""
        if self.keep == 0 or not self.path.is_file():
            return
        step = int(load_state(self.path, parts=["step"])["step"])
        if step == self.step:
            return
        history = self.path.parent / HISTORY
        history.mkdir(exist_ok=True)
        kept = history / f"step-{step:08d}.safetensors"
        kept.unlink(missing_ok=True)
        try:
            os.link(self.path, kept)
        except OSError:  # a file system without hard links
            shutil.copy2(self.path, kept)
        for old in sorted(history.glob("step-*.safetensors"))[:-self.keep]:
            old.unlink()

    def restore_checkpoint(self) -> int:
        """Back to the checkpoint's exact state, every rank from the one file; the learning
        rates keep the scale earlier rollbacks set (they compound)."""
        running = self.lr_scale
        self.lr_scale = restore_checkpoint(self.method, read_checkpoint(self.path),
                                           self.path)
        self.scale_learning_rate(running / self.lr_scale)
        self._saved = self.step
        return self.step

    def scale_learning_rate(self, factor: float) -> float:
        self.lr_scale *= factor
        for opt in self.method.optimizers():
            for group in opt.param_groups:
                group["lr"] *= factor
        return self.lr_scale


class RunConfig(Protocol):
    """What train_run reads of an application's config."""

    steps: int
    minutes: float | None
    log_every: int
    checkpoint_every: int
    rollbacks: int
    batch_size: int

    def to_dict(self) -> dict[str, Any]: ...


def train_run(method: RunMethod, kind: str, out: str | Path, config: RunConfig,
              meta: dict[str, Any], where: Dist, device: torch.device, *,
              progress: bool = True, tensorboard: bool = True,
              hint: str = "try a lower --lr") -> LoopResult:
    """Train `method` (freshly built from `config`) for its steps (or minutes) into OUT, or
    continue the unfinished run OUT holds. OUT/metrics.jsonl gets the interval means of its
    scalars, and, once trained, OUT/config.yaml the settings, `meta` and what was done. A
    non-finite or exploding loss rolls back to the last checkpoint (config.rollbacks times)."""
    out, settings = Path(out), config.to_dict()
    path = out / RUN_KINDS.get(kind).weights
    check_free_for(out, kind)
    lr_scale = _resume(method, path, kind, settings, config.steps) if path.is_file() else 1.0
    run = Checkpointed(method, path, kind, settings, meta, where, lr_scale)
    log = None
    if where.is_main:
        writable_folder(out)
        log = MetricsLog(out / "metrics.jsonl", out / "tensorboard" if tensorboard else None,
                         resume_step=method.step)
    budget = Budget(config.steps, config.minutes, config.log_every, config.checkpoint_every)
    result = run_loop(run, budget, where, device, log=log, images_per_step=config.batch_size,
                      progress=progress, desc=kind, checkpoint=path, hint=hint,
                      recovery=Recovery(config.rollbacks) if config.rollbacks else None)
    if result.stopped_by == "interrupt":
        raise GankitError(f"stopped at step {result.steps} of {config.steps}; {path} holds it: "
                          f"train again with the same settings and --out {out} to continue")
    if where.is_main:
        atomic_write(out / "config.yaml", yaml.safe_dump(
            {**settings, **meta, "steps_done": result.steps,
             "train_seconds": round(result.seconds, 1)}, sort_keys=False).encode())
    return result


def _resume(method: RunMethod, path: Path, kind: str, config: dict[str, Any],
            steps: int) -> float:
    """Load the unfinished run's state into `method`; the learning-rate scale it had."""
    state = read_checkpoint(path)
    out = path.parent
    if state.get("kind") != kind:
        raise GankitError(f"{path} is not a {kind} run's checkpoint; choose another --out")
    refuse_edited_config(out, RESUMABLE)
    changed = sorted(k for k in config if k not in RESUMABLE
                     and state["config"].get(k) != config[k])
    if changed:
        raise GankitError(f"{out} holds a {kind} run with other settings "
                          f"({', '.join(changed)}); continue it with the same ones or choose "
                          "another --out")
    if state["step"] >= steps:
        raise GankitError(f"{out} already holds a finished {kind} run ({state['step']} steps); "
                          "choose another --out, or pass more --steps to continue it")
    return restore_checkpoint(method, state, path)


def checkpoint_state(method: RunMethod, kind: str, config: dict[str, Any],
                     meta: dict[str, Any], lr_scale: float = 1.0) -> dict[str, Any]:
    """The one checkpoint layout: {kind, step, config, meta, weights, training} (training: the
    method's optimisers and streams, torch's generator, the rollbacks' scale)."""
    return {"kind": kind, "step": method.step, "config": config, "meta": meta,
            "weights": method.weights(),
            "training": {**method.training_state(), "torch_rng": torch.get_rng_state(),
                         "lr_scale": lr_scale}}


def write_checkpoint(path: Path, method: RunMethod, kind: str, config: dict[str, Any],
                     meta: dict[str, Any], lr_scale: float = 1.0) -> None:
    """`checkpoint_state`, written atomically."""
    save_checkpoint_state(path, checkpoint_state(method, kind, config, meta, lr_scale))


def save_checkpoint_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically; non-finite tensors are refused (named below weights/ or training/), so the
    file on disk stays usable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        save_state(path, state, finite=True)
    except NonFiniteStateError as err:
        raise NonFiniteStateError([name.split("/", 1)[-1] for name in err.names]) from None


# The GAN trainer's checkpoints before the one layout kept everything at the top level.
_FLAT_GAN_WEIGHTS = ("generator", "discriminator", "generator_ema")
_FLAT_GAN_TRAINING = ("opt_g", "opt_d", "batches_drawn", "lr_scale", "health")


def read_checkpoint(path: Path, parts: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A checkpoint in the one layout (`parts`: only those top-level entries); a GAN
    checkpoint written before it is read into it."""
    state = load_state(path, parts=None if parts is None else (*parts, *_FLAT_GAN_WEIGHTS))
    if "weights" in state or not any(k in state for k in _FLAT_GAN_WEIGHTS):
        return state
    if parts is None or "training" in parts:
        state = load_state(path)
    weights = {k: state.pop(k) for k in _FLAT_GAN_WEIGHTS if k in state}
    training = {k: state.pop(k) for k in _FLAT_GAN_TRAINING if k in state}
    rng = state.pop("rng", None)
    if rng is not None:
        training.update(noise_rng=rng["noise"], torch_rng=rng["torch"])
    return {"kind": "gan", **state, "weights": weights, "training": training}


def restore_checkpoint(method: RunMethod, state: dict[str, Any], path: Path) -> float:
    """Load the checkpoint `path`'s state into `method` exactly; the learning-rate scale it
    had. Weights that do not fit the method's modules (another architecture, or an older
    gankit's parameter names) are refused in one line."""
    try:
        method.load(state["weights"], state["training"])
    except (RuntimeError, ValueError, KeyError) as err:
        model = state.get("config", {}).get("model")
        built = f"the {model} architecture of its config" if model else "its config's model"
        message = str(err).strip()
        problem = message.splitlines()[0] if message else repr(err)
        raise GankitError(f"the weights in {path} do not fit {built} ({problem}); it was "
                          "written by a different model or an older gankit, so it cannot be "
                          "resumed: train again into a new folder") from None
    torch.set_rng_state(state["training"]["torch_rng"])
    method.step = int(state["step"])
    return float(state["training"].get("lr_scale", 1.0))  # runs from before rollbacks: 1


def load_run_weights(run_dir: str | Path, kind: str) -> dict[str, Any]:
    """{step, config, meta, weights} of a run of `kind`; its training state is not read."""
    path = Path(run_dir) / RUN_KINDS.get(kind).weights
    if not path.is_file():
        raise GankitError(f"{run_dir} has no {path.name}; train one with "
                          f"{RUN_KINDS.get(kind).made_by}")
    state = read_checkpoint(path, parts=("kind", "step", "config", "meta", "weights"))
    if state.get("kind") != kind:
        raise GankitError(f"{path} is not a {kind} run's weights; retrain it with "
                          f"{RUN_KINDS.get(kind).made_by}")
    return state


def steps_done(run_dir: str | Path, kind: str) -> int:
    """How many updates the run of `kind` in `run_dir` has made (0: none yet)."""
    path = Path(run_dir) / RUN_KINDS.get(kind).weights
    return int(load_state(path, parts=("step",))["step"]) if path.is_file() else 0
