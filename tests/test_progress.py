"""Progress tells the truth: the share done follows whichever budget runs out first, and
without a terminal it is a plain line now and then, not a stream of carriage returns."""

from __future__ import annotations

import time

from gankit.train.progress import Progress


def test_a_minutes_budget_counts_time_not_a_step_total(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    progress = Progress(1_000_000, 2.0, 0, desc="demo", enabled=False)
    now[0] += 60  # one of two minutes, 10 of a million steps
    progress.update(10)
    assert abs(progress.share(60) - 0.5) < 1e-9
    steps_only = Progress(40, None, 10, desc="x", enabled=False)
    steps_only.update(20)
    assert steps_only.share(1e6) == 0.5  # no clock without a minutes budget


def test_without_a_terminal_progress_is_an_occasional_line(capsys, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    progress = Progress(100, None, 0, desc="recogniser", enabled=True, every=30)
    for step in range(1, 101):
        now[0] += 1.0  # a step a second: a line every 30 of them
        progress.update(step, {"loss": 0.25} if step % 10 == 0 else None)
    progress.close()
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "\r" not in err and len(lines) == 4  # at 30, 60 and 90 s, and the last
    assert lines[0] == ("recogniser: step 30 of 100 (30% of the budget), 0:30 elapsed, "
                        "~1:10 left; loss 0.25")
    assert lines[-1].startswith("recogniser: step 100 of 100 (100% of the budget), 1:40 elapsed")
