"""Which completion method to pick for which goal, from a side-by-side run: the best method
for distortion (PSNR over the hole), realism (domain FID of the completed images) and
recognition (a recogniser's accuracy on them), each chosen on validation and reported on test
with its interval over seeds; the fastest method within 1 dB of the best PSNR (a speed within
10% of the fastest counts as a tie, won by the simpler method listed first); and what the
adversarial term does, paired by seed against the L2-only ablation. Computed from stored
numbers, never typed in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gankit.stats import summarize

GOALS = {"psnr": ("psnr_hole", max), "realism": ("domain_fid", min),
         "accuracy": ("accuracy", max)}
ABLATION = "cgan-l2"  # the completion model without its adversarial term
SPEED_WITHIN_DB = 1.0
SPEED_TIE = 0.1  # speeds within 10% are one speed: the earlier-listed (simpler) method wins
EFFECTS = ("psnr_hole", "domain_fid", "accuracy", "precision")


def _summaries(runs: Sequence[Mapping[str, float]]) -> dict[str, Any]:
    return {k: summarize([r[k] for r in runs]).to_dict() for k in runs[0]}


def completion_verdict(methods: Mapping[str, Mapping[str, Sequence[Mapping[str, float]]]],
                       adversarial: Sequence[str]) -> dict[str, Any]:
    """`methods`: name -> {"val": [...], "test": [...]}, one measurement dict per seed (one
    for deterministic baselines; the trained variants' lists in the same seed order).
    `adversarial`: the variants with the GAN term, each compared with ABLATION."""
    val = {m: _summaries(v["val"]) for m, v in methods.items()}
    test = {m: _summaries(v["test"]) for m, v in methods.items()}
    picks: dict[str, Any] = {}
    for goal, (metric, better) in GOALS.items():
        best = better(val, key=lambda m, k=metric: val[m][k]["mean"])
        picks[f"best_for_{goal}"] = {"method": best, "metric": metric, "test": test[best][metric]}
    top = max(v["psnr_hole"]["mean"] for v in val.values())
    near = [m for m in val if val[m]["psnr_hole"]["mean"] >= top - SPEED_WITHIN_DB]
    fastest = max(val[m]["images_per_s"]["mean"] for m in near)
    fast = next(m for m in near if val[m]["images_per_s"]["mean"] >= (1 - SPEED_TIE) * fastest)
    picks["best_for_speed"] = {"method": fast, "metric": "images_per_s",
                               "test": test[fast]["images_per_s"]}
    effects = {variant: {metric: summarize([
        a[metric] - b[metric] for a, b in zip(methods[variant]["test"],
                                              methods[ABLATION]["test"], strict=True)
    ]).to_dict() for metric in EFFECTS} for variant in adversarial}
    return {**picks, "gan_term_vs_l2": effects, "test": test}


def completion_sentence(dataset: str, mask: str, verdict: Mapping[str, Any]) -> str:
    def said(goal: str) -> str:
        pick = verdict[f"best_for_{goal}"]
        t, scale = pick["test"], 100 if pick["metric"] == "accuracy" else 1
        return (f"{goal} {pick['method']} ({scale * t['mean']:.2f} "
                f"[{scale * t['ci95'][0]:.2f}, {scale * t['ci95'][1]:.2f}])")

    adv = []
    for variant, e in verdict["gan_term_vs_l2"].items():
        fid, db = e["domain_fid"], e["psnr_hole"]
        # a change below the table's precision is no change, whatever its interval
        word = ("no measurable realism change" if abs(fid["mean"]) < 0.01 else
                "more real" if fid["ci95"][1] < 0 else
                "less real" if fid["ci95"][0] > 0 else "no measurable realism change")
        adv.append(f"{variant} vs {ABLATION}: FID {fid['mean']:+.2f} [{fid['ci95'][0]:+.2f}, "
                   f"{fid['ci95'][1]:+.2f}] ({word}), PSNR {db['mean']:+.2f} dB")
    return (f"{dataset} {mask}: pick for " + ", ".join(said(g) for g in GOALS)
            + f", speed {verdict['best_for_speed']['method']}; " + "; ".join(adv) + ".")
