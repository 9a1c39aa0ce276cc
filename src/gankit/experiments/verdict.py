"""The answer of a GAN-augmentation experiment: which non-GAN and which GAN condition a user
should pick (by validation accuracy, never by test accuracy), the test-accuracy difference
between the two paired by seed with its Student-t 95% interval, and that answer as a sentence
and a table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gankit.stats import summarize

# Every condition, in the order tables show them, and what a reader should read for each name.
LABELS = {
    "real": "real images only",
    "classical": "shifts (and mirrors where allowed)",
    "strong": "shifts + RandAugment + random erasing",
    "ensemble": "the three above as an ensemble",
    "distilled": "the ensemble distilled on augmented real copies",
    "longer": "the best augmentation, trained at the GAN pipeline's compute",
    "gan": "the ensemble distilled on GAN images",
}
GAN_CONDITIONS = ("gan",)
NON_GAN_CONDITIONS = tuple(c for c in LABELS if c not in GAN_CONDITIONS)


def first_best(scores: dict[str, float]) -> str:
    """The key with the highest score, the earlier one on a tie (the plainer recipe)."""
    order = list(scores)
    return max(order, key=lambda k: (scores[k], -order.index(k)))


def best_by_validation(seeds: Sequence[dict[str, Any]], candidates: Sequence[str]) -> str:
    """The candidate with the highest mean validation accuracy over seeds (the earlier in
    `candidates` on a tie): the choice a user can make without the test split."""
    return first_best({c: sum(s["validation"][c] for s in seeds) / len(seeds)
                       for c in candidates})


def paired_gain(seeds: Sequence[dict[str, Any]], better: str, base: str) -> dict[str, Any]:
    """`better`'s test accuracy minus `base`'s, paired by seed (the subset draw's luck
    cancels), with mean, std and Student-t 95% interval."""
    return summarize([s["accuracy"][better] - s["accuracy"][base] for s in seeds]).to_dict()


def verdict(seeds: Sequence[dict[str, Any]], data: str, per_class: int) -> dict[str, Any]:
    """The experiment's headline: the best GAN condition minus the best non-GAN one."""
    base = best_by_validation(seeds, NON_GAN_CONDITIONS)
    gan = best_by_validation(seeds, GAN_CONDITIONS)
    gain = paired_gain(seeds, gan, base)
    tests = {c: summarize([s["accuracy"][c] for s in seeds]).mean for c in (base, gan)}
    return {"data": data, "per_class": per_class, "seeds": len(seeds),
            "best_baseline": base, "acc_best_baseline": tests[base],
            "best_gan": gan, "acc_best_gan": tests[gan],
            "gain": gain["mean"], "gain_ci95": list(gain["ci95"]), "gain_std": gain["std"],
            # what GAN images add over the same teachers distilled on real copies instead
            "gan_over_distilled": paired_gain(seeds, gan, "distilled"),
            "sentence": sentence(data, base, gain)}


def sentence(data: str, baseline: str, gain: dict[str, Any]) -> str:
    """The verdict as a user reads it: a gain only where its interval excludes zero."""
    mean, (lo, hi), n = gain["mean"], gain["ci95"], gain["n"]
    over = f"{baseline} ({LABELS[baseline]})"
    if n < 2:
        return (f"On {data}, GAN images changed accuracy by {mean:+.2f} points over {over} "
                "on a single seed: no interval, so no verdict; run more seeds")
    interval = f"[{lo:+.2f}, {hi:+.2f}], 95% interval over {n} seeds"
    if lo > 0:
        return f"GAN images add {mean:+.2f} points {interval} over {over} on {data}"
    if hi < 0:
        return f"GAN images did not beat {over} on {data}: they cost {mean:+.2f} points {interval}"
    return (f"GAN images did not beat {over} on {data}: {mean:+.2f} points {interval}, "
            "an interval that includes zero")


def markdown_table(result: dict[str, Any]) -> str:
    """The experiment as markdown: every condition's validation and test accuracy and its
    minutes, then the verdict."""
    cfg, v = result["config"], result["verdict"]
    rows = []
    for c, s in result["conditions"].items():
        test, marks = s["test"], []
        if c == v["best_baseline"]:
            marks.append("best non-GAN")
        if c == v["best_gan"]:
            marks.append("best GAN")
        over_real = paired_gain(result["seeds"], c, "real")
        rows.append(f"| {c}{' (' + ', '.join(marks) + ')' if marks else ''} | {LABELS[c]} "
                    f"| {s['validation']['mean']:.2f} | {test['mean']:.2f} {_interval(test)} "
                    f"| {over_real['mean']:+.2f} {_interval(over_real, '+')} "
                    f"| {s['minutes']:.1f} | {s['pipeline_minutes']:.1f} |")
    extra = v["gan_over_distilled"]
    return "\n".join([
        f"{cfg['data']}, {cfg['per_class']} labelled images per class "
        f"({result['validation_per_class']} of them held out for validation), "
        f"{cfg['seeds']} seeds, {result['minutes']:.1f} min in all",
        "",
        "| condition | what | validation % | test % (mean [95% interval]) "
        "| test minus real, paired by seed | minutes a seed | with what it needs |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"**{v['sentence']}.** Best non-GAN and best GAN conditions chosen by validation "
        "accuracy; the gain is their test-accuracy difference paired by seed. Over the same "
        f"teachers distilled on real copies, GAN images add {extra['mean']:+.2f} points "
        f"{_interval(extra, '+')}.",
        ""])


def _interval(summary: dict[str, Any], sign: str = "") -> str:
    """A summary's 95% interval, or a plain word that one seed has none (a zero-width
    interval would look exact)."""
    if summary["n"] < 2:
        return "(1 seed: no interval)"
    lo, hi = summary["ci95"]
    return f"[{lo:{sign}.2f}, {hi:{sign}.2f}]"
