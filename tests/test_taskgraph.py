"""The task graph runner: order, priority, worker processes and failures."""

import os
from pathlib import Path

import pytest

from gankit.errors import GankitError
from gankit.taskgraph import Task, run_graph


def _append(path: str, text: str) -> str:
    """Append `text` to the file and return what the file held before (runs in a worker)."""
    before = Path(path).read_text() if Path(path).exists() else ""
    Path(path).write_text(before + text)
    return before


def _fail(message: str) -> None:
    raise GankitError(message)


def test_tasks_run_after_what_they_wait_for_and_the_longest_chain_first():
    done = []
    tasks = [Task("short", done.append, ("short",), cost=5.0),
             Task("tail", done.append, ("tail",), after=("head",), cost=4.0),
             Task("head", done.append, ("head",), cost=2.0),  # head + tail = 6 > 5
             Task("last", done.append, ("last",), after=("tail", "short", "gone"))]
    finished = []
    run_graph(tasks, 1, lambda task, result: finished.append(task.key))
    # head + tail (6) before short (5); then short (5) before tail (4)
    assert done == ["head", "short", "tail", "last"] == finished  # "gone" is no task: done


def test_worker_processes_see_the_files_of_the_tasks_they_wait_for(tmp_path):
    log = str(tmp_path / "log.txt")
    tasks = [Task(i, _append, (log, f"{i};"), after=(i - 1,)) for i in range(4)]
    results = {}
    run_graph(tasks, 2, lambda task, result: results.update({task.key: result}))
    assert Path(log).read_text() == "0;1;2;3;"
    assert results == {0: "", 1: "0;", 2: "0;1;", 3: "0;1;2;"}  # returned to this process


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_task_stops_the_graph_with_its_own_error(tmp_path, workers):
    log = str(tmp_path / "log.txt")
    tasks = [Task("bad", _fail, ("the data is gone",), cost=10.0),
             Task("after", _append, (log, "ran"), after=("bad",))]
    with pytest.raises(GankitError, match="the data is gone"):
        run_graph(tasks, workers)
    assert not Path(log).exists()


def test_a_worker_that_dies_is_a_clear_error_not_a_hang():
    with pytest.raises(GankitError, match=r"worker process died .*\(--workers 1\)"):
        run_graph([Task("exit", os._exit, (3,))], 2)


def test_bad_graphs_are_refused():
    with pytest.raises(GankitError, match="--workers must be at least 1, got 0"):
        run_graph([Task("a", print)], 0)
    with pytest.raises(ValueError, match="cycle"):
        run_graph([Task("a", print, after=("b",)), Task("b", print, after=("a",))], 1)
    with pytest.raises(ValueError, match="share a key"):
        run_graph([Task("a", print), Task("a", print)], 1)
