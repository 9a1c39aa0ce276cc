"""What a recogniser's attack results say about its robustness, in one sentence.

A robustness figure is believed only when AutoAttack (Croce & Hein 2020) agrees with the
gradient attack: a recogniser that resists PGD but falls to AutoAttack is hiding its gradients
(gradient masking), and its PGD figure overstates it. Verdicts are computed from stored
attack.json numbers, never typed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MASKING_GAP = 0.015  # PGD minus AutoAttack accuracy above this: suspect gradient masking


def accuracy_ci95(accuracy: float, n: int) -> tuple[float, float]:
    """Wilson 95% interval of an accuracy measured on `n` images."""
    from scipy.stats import binomtest

    if n == 0:
        return (0.0, 1.0)
    interval = binomtest(round(accuracy * n), n).proportion_ci(method="wilson")
    return (float(interval.low), float(interval.high))


def robustness_verdict(attacks: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """From attack reports (name -> attack.json) on the same images and budget: the strongest
    attack, the AutoAttack-vs-PGD gap where both ran, and a sentence saying what to believe."""
    if not attacks:
        raise ValueError("no attack results to judge")
    budgets = {(a["norm"], a["eps"], a["n"]) for a in attacks.values()}
    if len(budgets) > 1:
        raise ValueError(f"attacks with different budgets or image counts: {sorted(budgets)}")
    norm, eps, n = budgets.pop()
    name, strongest = min(attacks.items(), key=lambda kv: kv[1]["adversarial_accuracy"])
    low, high = accuracy_ci95(strongest["adversarial_accuracy"], n)
    out: dict[str, Any] = {
        "norm": norm, "eps": eps, "n": n, "strongest": name,
        "robust_accuracy": strongest["adversarial_accuracy"], "robust_ci95": [low, high],
        "clean_accuracy": strongest["clean_accuracy"]}
    where = (f"At {norm} eps {eps:g}, the strongest attack ({name}) leaves "
             f"{100 * out['robust_accuracy']:.1f}% of {n:,} images correctly classified "
             f"[{100 * low:.1f}, {100 * high:.1f}] (clean {100 * out['clean_accuracy']:.1f}%)")
    auto = [a for a in attacks.values() if a["method"] == "autoattack"]
    pgd = [a for a in attacks.values() if a["method"] == "pgd"]
    if not auto:
        out["sentence"] = (f"{where}; AutoAttack has not been run, so this figure is not yet "
                           f"checked (gankit attack RUN --method autoattack).")
        return out
    if not pgd:
        out["sentence"] = f"{where}."
        return out
    gap = (min(a["adversarial_accuracy"] for a in pgd)
           - min(a["adversarial_accuracy"] for a in auto))
    out["pgd_minus_autoattack"] = gap
    stages = min(auto, key=lambda a: a["adversarial_accuracy"]).get("extra", {}).get(
        "robust_after")
    out["gradient_masking_suspected"] = gap > MASKING_GAP
    judgement = ("PGD overstates robustness, suspect gradient masking and trust "
                 "AutoAttack's figure" if gap > MASKING_GAP else "no sign of gradient masking")
    if stages and gap > MASKING_GAP:
        judgement = _gap_source(stages, n, out)
    side = "below" if gap >= 0 else "above"
    out["sentence"] = (f"{where}; AutoAttack is {100 * abs(gap):.1f} points {side} the best "
                       f"PGD: {judgement} (threshold {100 * MASKING_GAP:.1f}).")
    if stages:  # where AutoAttack's extra images fell: a gradient stage, or only Square
        out["autoattack_robust_after"] = stages
        out["sentence"] += " AutoAttack's stages left " + ", ".join(
            f"{count:,} ({stage})" for stage, count in stages.items()) + " standing."
    return out


def _gap_source(stages: Mapping[str, int], n: int, out: dict[str, Any]) -> str:
    """Which of AutoAttack's stages made a large gap to PGD. Masked gradients stall every
    gradient attack and leave the images to the gradient-free Square; when the gradient stages
    (APGD-T's margin loss) find the extra adversaries, PGD's cross-entropy loss was the weak
    part, not the gradients (Croce & Hein 2020)."""
    by_square = stages["apgd-t"] - stages["square"]
    out["autoattack_gap_source"] = "square" if by_square > MASKING_GAP * n else "gradient"
    out["gradient_masking_suspected"] = out["autoattack_gap_source"] == "square"
    if out["gradient_masking_suspected"]:
        return (f"the gradient-free Square stage broke {by_square:,} images the gradient "
                "attacks could not: gradient masking, trust AutoAttack's figure")
    return (f"the gradient stages made the gap (Square added only {by_square:,} images), so "
            "PGD's loss, not masked gradients, overstates robustness; trust AutoAttack's "
            "figure")
