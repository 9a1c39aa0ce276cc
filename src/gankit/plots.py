"""Charts as PNG files (matplotlib, headless): the pictures reports and benchmarks show."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from gankit.recognize.report import RecognitionReport


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def confusion_png(report: RecognitionReport, path: str | Path) -> Path:
    """A confusion-matrix heat map with counts, rows normalised (so colour = recall)."""
    plt = _pyplot()
    counts = torch.tensor(report.confusion, dtype=torch.float64)
    shares = counts / counts.sum(dim=1, keepdim=True).clamp(min=1)
    classes = list(report.per_class)
    size = 1.2 + 0.55 * len(classes)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(shares.numpy(), cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, int(counts[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if shares[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{report.data}: accuracy {100 * report.accuracy:.2f}% (n={report.n})",
                 fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of the true class")
    return _save(fig, path)


def interval_bars_png(labels: Sequence[str], means: Sequence[float],
                      intervals: Sequence[tuple[float, float]], path: str | Path, *,
                      title: str, ylabel: str, colors: Sequence[str] | None = None) -> Path:
    """One bar per label at its mean, with its (low, high) interval as an error bar."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(labels), 3.6))
    below = [m - lo for m, (lo, _) in zip(means, intervals, strict=True)]
    above = [hi - m for m, (_, hi) in zip(means, intervals, strict=True)]
    ax.bar(range(len(labels)), means, yerr=[below, above], capsize=6,
           color=colors or (["#9ecae1", "#6baed6", "#fdae6b", "#e6550d"] * len(labels))[
               : len(labels)])
    for x, (m, (_, hi)) in enumerate(zip(means, intervals, strict=True)):
        ax.text(x, hi, f"{m:.2f}", ha="center", va="bottom", fontsize=8)  # above the cap
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    lows = [lo for lo, _ in intervals]
    highs = [hi for _, hi in intervals]
    spread = max(highs) - min(lows)
    ax.set_ylim(min(lows) - spread - 0.5, max(highs) + 0.5 * spread + 0.5)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def labelled_rows_png(images: torch.Tensor, per_row: int, labels: Sequence[str],
                      path: str | Path, title: str) -> Path:
    """Images in [-1, 1] as a grid of `per_row` a row, each row named on the left by `labels`."""
    from gankit.imaging import image_grid

    plt = _pyplot()
    padding = 2
    grid = image_grid(images, per_row, padding=padding)
    height = images.shape[-2] + padding
    fig, ax = plt.subplots(figsize=(1.2 + 0.45 * per_row, 0.6 + 0.45 * len(labels)),
                           layout="constrained")
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_yticks([padding / 2 + height * (i + 0.5) for i in range(len(labels))], labels,
                  fontsize=7)
    ax.set_xticks([])
    ax.set_title(title, fontsize=8)
    for side in ax.spines.values():
        side.set_visible(False)
    return _save(fig, path)


def attack_grid_png(original: torch.Tensor, adversarial: torch.Tensor,
                    predicted: torch.Tensor, predicted_adversarial: torch.Tensor,
                    labels: torch.Tensor, classes: Sequence[str], path: str | Path, *,
                    title: str) -> Path:
    """One row per image: original · perturbation (stretched to full contrast, titled with the
    true class) · adversarial, the images titled with the recogniser's prediction (red where
    it is wrong)."""
    plt = _pyplot()
    rows = len(original)
    # constrained layout leaves room for the suptitle (tight_layout lets it overlap row 1)
    fig, axes = plt.subplots(rows, 3, figsize=(5.4, 1.9 * rows + 0.4), squeeze=False,
                             layout="constrained")
    delta = adversarial - original
    spread = delta.abs().amax().clamp(min=1e-12)
    for i in range(rows):
        truth = int(labels[i])
        panels = [(original[i], f"{classes[int(predicted[i])]}", int(predicted[i]) == truth),
                  (delta[i] / spread, f"true class: {classes[truth]}", True),
                  (adversarial[i], f"{classes[int(predicted_adversarial[i])]}",
                   int(predicted_adversarial[i]) == truth)]
        for ax, (image, caption, right) in zip(axes[i], panels, strict=True):
            pixels = ((image.float().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).squeeze(-1)
            ax.imshow(pixels.numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_title(caption, fontsize=7, color="black" if right else "red")
            ax.axis("off")
    fig.suptitle(f"{title}: original · perturbation · adversarial", fontsize=8)
    return _save(fig, path)


def curves_png(rows: Sequence[dict[str, float]], path: str | Path) -> Path:
    """Every logged scalar against the step, losses in one panel and the rest in another."""
    plt = _pyplot()
    keys = [k for k in rows[0] if k != "step" and "per_s" not in k
            and isinstance(rows[0][k], int | float)]
    losses = [k for k in keys if "loss" in k or k in ("g", "d", "cycle", "l1")]
    others = [k for k in keys if k not in losses]
    panels = [group for group in (losses, others) if group]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.2), squeeze=False)
    steps = [r["step"] for r in rows]
    for ax, group in zip(axes[0], panels, strict=True):
        for key in group:
            ax.plot(steps, [r.get(key, float("nan")) for r in rows], label=key, linewidth=1)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    return _save(fig, path)
