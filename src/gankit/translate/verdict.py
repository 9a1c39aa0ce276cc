"""What a side-by-side comparison of recognition paths on degraded images says, in one
sentence: the best GAN path against the best non-GAN path, each chosen on validation, their
difference measured on test. Computed from stored per-image results, never typed in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

GOAL = 0.01  # the GAN path must beat the best non-GAN one by a point to count as a gain


def share(right: Sequence[bool]) -> float:
    return sum(right) / len(right)


def translation_verdict(dataset: str, domain: str,
                        paths: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """`paths`: name -> {kind ("GAN", "non-GAN" or "oracle"), val, test: per-image rights}.
    The best path of each kind by validation accuracy (the oracle is never chosen); their
    test gain with a paired bootstrap interval over the test images."""
    from gankit.stats import paired_gain_ci95

    def best(kind: str) -> str:
        return max((k for k, v in paths.items() if v["kind"] == kind),
                   key=lambda k: share(paths[k]["val"]))

    gan, nongan = best("GAN"), best("non-GAN")
    gain, (low, high) = paired_gain_ci95(paths[gan]["test"], paths[nongan]["test"])
    acc = {k: share(v["test"]) for k, v in paths.items()}
    helps = "helps" if low > 0 else ("hurts" if high < 0 else "does not measurably help")
    sentence = (f"{dataset} {domain}: the best GAN path ({gan}, {100 * acc[gan]:.2f}%) minus "
                f"the best non-GAN path ({nongan}, {100 * acc[nongan]:.2f}%) is "
                f"{100 * gain:+.2f} points [{100 * low:+.2f}, {100 * high:+.2f}]: the GAN "
                f"{helps}.")
    return {"best_gan": gan, "acc_best_gan": acc[gan], "best_nongan": nongan,
            "acc_best_nongan": acc[nongan], "gain": gain, "gain_ci95": [low, high],
            "goal_met": gain >= GOAL, "sentence": sentence}
