"""The one training loop every gankit method runs on.

A method supplies its update (`train_step() -> scalars`, which draws its own batch) and a way to
checkpoint itself; the loop owns the rest: the step and minutes budget, the progress report
(gankit.train.progress), interval means of the scalars to metrics.jsonl and TensorBoard, the
divergence guard (with `Recovery`, a rollback to the last checkpoint at lower learning rates
instead of a stop), checkpoints every so many steps and at the end, Ctrl-C at a whole step,
and, under torchrun, stopping every rank at the same step.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from gankit.distributed import Dist, any_rank, mean_over_ranks
from gankit.errors import DivergenceError, NonFiniteStateError
from gankit.train.logging import MetricsLog
from gankit.train.progress import Progress


class Method(Protocol):
    """What a method hands the loop. `step` counts finished updates; the loop advances it."""

    step: int

    def train_step(self) -> dict[str, torch.Tensor]: ...

    def save_checkpoint(self) -> Path | None: ...


GROWTH_WARNING = 1e4  # a loss this many times its first logged size (or 1) warns once


class Recoverable(Protocol):
    """What a method needs for `Recovery`; `health(scalars)` (optional) names a problem the
    losses alone do not show, such as mode collapse, or returns None."""

    def restore_checkpoint(self) -> int: ...  # load the last checkpoint exactly; its step

    def scale_learning_rate(self, factor: float) -> float: ...  # the scale now in force


@dataclass(frozen=True)
class Recovery:
    """On a non-finite or exploding loss, or a problem `health` names: load the last
    checkpoint and go on with the learning rates times `lr_factor`, at most `rollbacks` times;
    then stop with one line naming what was seen. Every rollback is an event in metrics.jsonl."""

    rollbacks: int = 2
    lr_factor: float = 0.5


@dataclass(frozen=True)
class Budget:
    """How long to train and how often to log and checkpoint (`None`: only at the end)."""

    steps: int
    minutes: float | None = None
    log_every: int = 100
    checkpoint_every: int | None = None

    def time_share(self, elapsed: float) -> float:
        """The share of the minutes budget that `elapsed` seconds used (0 without one)."""
        return 0.0 if self.minutes is None else elapsed / (60 * self.minutes)


@dataclass(frozen=True)
class LoopResult:
    steps: int  # the method's step at the end
    done: int  # updates this call made
    seconds: float
    stopped_by: str  # "steps", "minutes" or "interrupt"


def run_loop(method: Method, budget: Budget, where: Dist, device: torch.device, *,
             log: MetricsLog | None = None, images_per_step: int = 0,
             progress: bool = True, desc: str | None = None, checkpoint: Path | None = None,
             hint: str = "try a lower learning rate",
             before_step: Callable[[float], None] | None = None,
             after_step: Callable[[], None] | None = None,
             recovery: Recovery | None = None) -> LoopResult:
    """Run `method` until `budget`. `before_step(elapsed seconds)` and `after_step()` are the
    method's hooks (learning-rate schedules, sample grids); `checkpoint` and `hint` complete
    the divergence message; `recovery` (the method must be Recoverable) rolls back instead of
    stopping."""
    bar = Progress(budget.steps, budget.minutes, method.step, desc=desc,
                   enabled=progress and where.is_main)
    start, start_step = time.monotonic(), method.step
    sums: dict[str, torch.Tensor] = {}
    interval_start, interval_step = start, method.step
    stopped_by = "steps"

    def means() -> dict[str, float]:
        """Per-step means of the summed scalars, over ranks: the global batch's."""
        n = max(method.step - interval_step, 1)
        return {k: float(v) / n for k, v in mean_over_ranks(sums, where).items()}

    def kept() -> str:
        return (f"the last good checkpoint is {checkpoint}"
                if checkpoint is not None and checkpoint.is_file()
                else "no checkpoint was written yet")

    rolled_back = 0

    def trouble(reason: str) -> None:
        """Roll back to the last checkpoint if `recovery` allows, else stop with `reason`."""
        nonlocal sums, interval_start, interval_step, rolled_back
        can = (recovery is not None and rolled_back < recovery.rollbacks
               and checkpoint is not None and checkpoint.is_file())
        if not can:
            used = (f" after {rolled_back} rollback{'s' * (rolled_back != 1)}"
                    if recovery is not None else "")
            raise DivergenceError(f"training diverged by step {method.step} ({reason}){used}; "
                                  f"{kept()}; {hint}")
        detected = method.step
        restored = method.restore_checkpoint()
        scale = method.scale_learning_rate(recovery.lr_factor)
        rolled_back += 1
        if log is not None:
            log.rewind(restored)
            log.event(restored, "rollback", {"detected_at": detected, "reason": reason,
                                             "lr_scale": scale, "rollback": rolled_back})
        if where.is_main:
            bar.warn(f"step {detected}: {reason}; rolled back to step {restored}, learning "
                     f"rates x{scale:g} (rollback {rolled_back} of {recovery.rollbacks})")
        sums, interval_start, interval_step = {}, time.monotonic(), method.step

    def problem(scalars: dict[str, float]) -> str | None:
        bad = {k: v for k, v in scalars.items() if not math.isfinite(v)}
        if bad:
            return ", ".join(f"{k}={v}" for k, v in bad.items())
        return watch(scalars) or (method.health(scalars) if hasattr(method, "health") else None)

    first: dict[str, float] = {}
    warned = False

    def watch(scalars: dict[str, float]) -> str | None:
        """A loss that grew by orders of magnitude: finite, but a run that will not learn (e.g.
        a learning rate of 1e3). With `recovery`, a problem to roll back from; without, a
        warning, once."""
        nonlocal warned
        for k, v in scalars.items():
            start_size = first.setdefault(k, abs(v))
            if k.startswith("loss") and abs(v) > GROWTH_WARNING * max(start_size, 1.0):
                grew = f"{k} grew from {start_size:.3g} to {abs(v):.3g}"
                if recovery is not None:
                    return grew
                if not warned and where.is_main:
                    bar.warn(f"{grew} by step {method.step}: training is unstable; {hint}")
                warned = True
        return None

    warned_health: set[str] = set()

    def checked(scalars: dict[str, float]) -> bool:
        """True when the interval's means are healthy; False after a rollback; raises when
        stopping. Without `recovery`, only non-finite values stop a run; a health problem
        warns once."""
        reason = problem(scalars)
        if reason is None:
            return True
        if recovery is None and all(math.isfinite(v) for v in scalars.values()):
            if where.is_main and reason not in warned_health:
                warned_health.add(reason)
                bar.warn(f"{reason} by step {method.step}; {hint}")
            return True
        trouble(reason)
        return False

    def save() -> bool:
        # Finite losses can come from the update before the one that broke the weights: the
        # checkpoint itself refuses non-finite tensors, so the one on disk stays usable.
        try:
            with interrupts.finishing():  # a second Ctrl-C waits for the write
                method.save_checkpoint()
        except NonFiniteStateError as err:
            trouble(str(err))
            return False
        return True

    try:
        with deferred_interrupt() as interrupts:
            while True:
                while method.step < budget.steps:
                    if before_step is not None:
                        before_step(time.monotonic() - start)
                    for name, value in method.train_step().items():
                        sums[name] = sums.get(name, 0) + value
                    method.step += 1
                    if method.step % budget.log_every == 0 or method.step == budget.steps:
                        scalars = means()  # over ranks: one collective per logged step
                        if not checked(scalars):
                            continue
                        now = time.monotonic()
                        if images_per_step:
                            scalars["images_per_s"] = ((method.step - interval_step)
                                                       * images_per_step
                                                       / max(now - interval_start, 1e-9))
                        if log is not None:
                            log.write(method.step, scalars)
                        bar.update(method.step, scalars)
                        sums, interval_start, interval_step = {}, now, method.step
                    else:
                        bar.update(method.step)
                    if after_step is not None:
                        after_step()
                    if budget.checkpoint_every and method.step % budget.checkpoint_every == 0:
                        if not (checked(means()) and save()):
                            continue
                    # Every rank must stop at the same step, whichever noticed the reason.
                    out_of_time = budget.time_share(time.monotonic() - start) > 1
                    if any_rank(interrupts.requested.is_set() or out_of_time, where, device):
                        stopped_by = "minutes" if out_of_time else "interrupt"
                        break
                # The end's check and checkpoint; after a rollback found there, the budget's
                # last steps are trained again (unless the run was stopped early).
                if (checked(means()) and save()) or stopped_by != "steps":
                    break
    finally:
        bar.close()
        if log is not None:
            log.close()
    return LoopResult(method.step, method.step - start_step, time.monotonic() - start,
                      stopped_by)


class Interrupts:
    """Ctrl-C as the loop sees it: the first one `requested`, a second one a KeyboardInterrupt
    at once, except while a checkpoint is written (`finishing`): then after the write."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.saving = False
        self.again = False

    def handle(self, signum: int, frame: Any) -> None:
        if not self.requested.is_set():
            self.requested.set()
        elif self.saving:
            self.again = True
            print("gankit: finishing the checkpoint write, then stopping", file=sys.stderr,
                  flush=True)
        else:
            raise KeyboardInterrupt

    @contextmanager
    def finishing(self) -> Iterator[None]:
        self.saving = True
        try:
            yield
        finally:
            self.saving = False
        if self.again:
            raise KeyboardInterrupt


@contextmanager
def deferred_interrupt() -> Iterator[Interrupts]:
    """Turn the first Ctrl-C into a flag the loop checks between steps, so the checkpoint it
    then writes is a whole step; a second Ctrl-C interrupts at once, or, during a checkpoint
    write, right after it (the checkpoint on disk stays intact either way, since it is
    replaced atomically)."""
    interrupts = Interrupts()
    if threading.current_thread() is not threading.main_thread():
        yield interrupts
        return
    previous = signal.signal(signal.SIGINT, interrupts.handle)
    try:
        yield interrupts
    finally:
        signal.signal(signal.SIGINT, previous)
