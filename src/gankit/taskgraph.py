"""Run a graph of dependent tasks in this process or on a pool of worker processes.

On a few CPU cores, small convolutional nets use two cores at once less than fully
(docs/benchmarks.md, *Measurements behind code defaults*). Work made of many such trainings
therefore runs them side by side, one worker process per core, each task starting as soon as
the tasks it needs have finished. Tasks pass results through the files they write, and `run_graph`
hands each task's return value to `on_done` in the calling process.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import torch

from gankit.errors import GankitError


@dataclass(frozen=True)
class Task:
    """`fn(*args)` once every task in `after` has finished; `cost` (any unit, the same for
    all tasks) orders the ready tasks: the longest chain of work still ahead goes first."""

    key: Hashable
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    after: tuple[Hashable, ...] = ()
    cost: float = 1.0


def run_graph(tasks: Sequence[Task], workers: int,
              on_done: Callable[[Task, Any], None] = lambda task, result: None) -> None:
    """Run every task after those it names in `after` (names not among `tasks` count as
    finished). `workers` 1 runs them here in turn; more start that many processes (spawned:
    a forked child of a process that already ran torch may hang), each on its share of this
    process's torch threads. The first task to fail stops the rest and re-raises its error."""
    if workers < 1:
        raise GankitError(f"--workers must be at least 1, got {workers}")
    by_key = {t.key: t for t in tasks}
    if len(by_key) != len(tasks):
        raise ValueError("two tasks share a key")
    waiting = {t.key: {k for k in t.after if k in by_key} for t in tasks}
    priority = _chain_costs(by_key, waiting)

    def ready() -> list[Hashable]:
        return sorted((k for k, deps in waiting.items() if not deps), key=lambda k: -priority[k])

    def finish(key: Hashable, result: Any) -> None:
        for deps in waiting.values():
            deps.discard(key)
        on_done(by_key[key], result)

    if workers == 1:
        while waiting:
            key = ready()[0]
            del waiting[key]
            finish(key, by_key[key].fn(*by_key[key].args))
        return
    threads = max(1, torch.get_num_threads() // workers)
    pool = ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"),
                               initializer=torch.set_num_threads, initargs=(threads,))
    running: dict[Future[Any], Hashable] = {}
    try:
        while waiting or running:
            for key in ready()[:workers - len(running)]:
                del waiting[key]
                running[pool.submit(by_key[key].fn, *by_key[key].args)] = key
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                finish(running.pop(future), future.result())
    except BrokenProcessPool:
        raise GankitError(
            "a worker process died before its task ended: out of memory, killed, or started "
            "from a script without an `if __name__ == \"__main__\":` guard (new processes "
            "import the script that started them); guard the script, or use 1 worker "
            "(--workers 1)") from None
    finally:
        if running:  # after a failure, the other tasks' work is wasted: stop them now
            for process in pool._processes.values():  # Python 3.14: pool.terminate_workers()
                process.terminate()
        pool.shutdown(cancel_futures=True)


def _chain_costs(tasks: dict[Hashable, Task],
                 waiting: dict[Hashable, set[Hashable]]) -> dict[Hashable, float]:
    """Each task's cost plus the costliest chain of tasks that wait on it."""
    chain: dict[Hashable, float] = {}

    def cost(key: Hashable, seen: tuple[Hashable, ...]) -> float:
        if key in seen:
            raise ValueError(f"tasks wait on each other in a cycle through {key!r}")
        if key not in chain:
            after = [cost(k, (*seen, key)) for k, deps in waiting.items() if key in deps]
            chain[key] = tasks[key].cost + max(after, default=0.0)
        return chain[key]

    for key in tasks:
        cost(key, ())
    return chain
