"""Summaries over repeated runs (seeds): mean, sample standard deviation, t interval."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Summary:
    mean: float
    std: float  # sample standard deviation (n - 1); 0 for a single value
    ci95: tuple[float, float]  # Student-t interval for the mean; (mean, mean) for n = 1
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(values: Sequence[float]) -> Summary:
    from scipy.stats import t

    n = len(values)
    if n == 0:
        raise ValueError("no values to summarize")
    mean = sum(values) / n
    if n == 1:
        return Summary(mean, 0.0, (mean, mean), 1)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return Summary(mean, std, (mean - half, mean + half), n)
