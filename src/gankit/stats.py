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


def paired_gain_ci95(better: Sequence[bool], worse: Sequence[bool], resamples: int = 2000,
                     seed: int = 0) -> tuple[float, tuple[float, float]]:
    """Accuracy gain of `better` over `worse`, each a per-item "was it right" list over the same
    items (test images), with a 95% percentile-bootstrap interval resampling the items in pairs
    (Efron & Tibshirani 1993). It speaks for these items, not for another training seed."""
    import numpy as np

    a, b = np.asarray(better, dtype=float), np.asarray(worse, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError("paired_gain_ci95 needs two equally long, non-empty lists")
    differences = a - b
    draws = np.random.default_rng(seed).integers(0, len(a), (resamples, len(a)))
    means = differences[draws].mean(axis=1)
    return float(differences.mean()), (float(np.quantile(means, 0.025)),
                                       float(np.quantile(means, 0.975)))
