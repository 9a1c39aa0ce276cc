"""How far a training run got, told truthfully: on a terminal a tqdm bar, elsewhere (a log
file, a pipe) one plain line every `every` seconds. With a minutes budget the share done is
the larger of the steps and the minutes used, so a bar never counts towards a step total the
clock will cut short."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

PERMILLE = 1000  # a minutes budget's bar counts thousandths of the budget


def _clock(seconds: float) -> str:
    minutes, s = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{s:02d}" if minutes >= 60 else f"{minutes}:{s:02d}"


class Progress:
    def __init__(self, steps: int, minutes: float | None, initial: int, *, desc: str | None,
                 enabled: bool, every: float = 30.0) -> None:
        self.steps, self.minutes, self.desc = steps, minutes, desc or "training"
        self.enabled, self.every = enabled, every
        self.start = time.monotonic()
        self.initial, self.step, self.last_line = initial, initial, self.start
        self.postfix = ""
        self.bar = None
        if enabled and sys.stderr.isatty():
            if minutes is None:
                self.bar = tqdm(total=steps, initial=initial, desc=desc, unit="step",
                                dynamic_ncols=True)
            else:
                self.bar = tqdm(total=PERMILLE, desc=desc, dynamic_ncols=True,
                                bar_format="{desc}: {percentage:3.0f}% of the budget|{bar}| "
                                           "{elapsed}<{remaining}{postfix}")

    def share(self, elapsed: float) -> float:
        """The share of the budget used: steps, or minutes when they run out first."""
        done = self.step / self.steps
        if self.minutes is not None:
            done = max(done, elapsed / (60 * self.minutes))
        return min(done, 1.0)

    def update(self, step: int, scalars: dict[str, float] | None = None) -> None:
        self.step = step
        if scalars is not None:
            self.postfix = ", ".join(f"{k} {v:.3g}" for k, v in scalars.items())
        if not self.enabled:
            return
        now = time.monotonic()
        if self.bar is not None:
            if self.minutes is None:
                self.bar.update(step - self.bar.n)
            else:
                self.bar.update(round(PERMILLE * self.share(now - self.start)) - self.bar.n)
            if scalars is not None:
                # the first three means only, so that the bar keeps its width on a terminal
                shown = ", ".join(self.postfix.split(", ")[:3])
                self.bar.set_postfix_str(f"step {step}, {shown}"
                                         if self.minutes is not None else shown)
        elif now - self.last_line >= self.every:
            self.last_line = now
            self._line(now)

    def warn(self, text: str) -> None:
        """A warning line, shown with or without progress reports, that does not break a bar."""
        if self.bar is not None:
            self.bar.write(f"warning: {text}", file=sys.stderr)
        else:
            print(f"warning: {text}", file=sys.stderr, flush=True)

    def _line(self, now: float) -> None:
        elapsed = now - self.start
        share = self.share(elapsed)
        # the rate of this call's work predicts the rest (a resumed run starts mid-way)
        rate = (share - self.initial / self.steps) / max(elapsed, 1e-9)
        left = f", ~{_clock((1 - share) / rate)} left" if rate > 0 else ""
        print(f"{self.desc}: step {self.step} of {self.steps} ({100 * share:.0f}% of the "
              f"budget), {_clock(elapsed)} elapsed{left}"
              + (f"; {self.postfix}" if self.postfix else ""), file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled and self.step > self.initial:
            self._line(time.monotonic())
