"""Scalars to `metrics.jsonl` (one JSON object a line) and to TensorBoard."""

from __future__ import annotations

import json
from pathlib import Path

from gankit.io import atomic_write


class MetricsLog:
    """Appends {"step": ..., name: value, ...} rows; on resume, rows past the checkpoint's step
    (written after it, then lost with the crash) are dropped so the log matches the weights."""

    def __init__(self, path: Path, tensorboard_dir: Path | None, resume_step: int = 0) -> None:
        self.path = path
        if resume_step and path.is_file():
            kept = [line for line in path.read_text().splitlines()
                    if line.strip() and json.loads(line)["step"] <= resume_step]
            atomic_write(path, "".join(f"{line}\n" for line in kept).encode())
        elif path.exists():
            path.unlink()
        self._file = open(path, "a")
        self._writer = None
        if tensorboard_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(tensorboard_dir), purge_step=resume_step or None)

    def write(self, step: int, scalars: dict[str, float]) -> None:
        self._file.write(json.dumps({"step": step, **scalars}) + "\n")
        self._file.flush()
        if self._writer is not None:
            for name, value in scalars.items():
                self._writer.add_scalar(name, value, step)

    def rewind(self, step: int) -> None:
        """Drop the rows past `step`: a rollback to the checkpoint of `step` makes them history
        that the weights no longer carry (the event row that follows says what happened)."""
        self._file.close()
        kept = [line for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line)["step"] <= step]
        atomic_write(self.path, "".join(f"{line}\n" for line in kept).encode())
        self._file = open(self.path, "a")

    def event(self, step: int, kind: str, facts: dict[str, object]) -> None:
        """A row {"step", "event": kind, ...facts} (no scalars, so curves skip it); in
        TensorBoard as text."""
        self._file.write(json.dumps({"step": step, "event": kind, **facts}) + "\n")
        self._file.flush()
        if self._writer is not None:
            self._writer.add_text(kind, json.dumps(facts), step)

    def close(self) -> None:
        self._file.close()
        if self._writer is not None:
            self._writer.close()
