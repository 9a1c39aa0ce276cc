"""Benchmark: attacks and defenses on Fashion-MNIST recognisers, side by side in one run.

Trains (once, into --work) a standard recogniser, an AdvGAN against it (Xiao et al. 2018) and
hardened recognisers (--methods: FGSM-RS, PGD-7 adversarial training and AdvGAN images, 10
epochs each); then, for every recogniser, measures clean accuracy and accuracy under FGSM,
PGD-40 with 5 random restarts, AutoAttack (standard budgets, Croce & Hein 2020) and the AdvGAN,
all L-inf eps = 0.1 on the [0, 1] pixel scale; then Defense-GAN (Samangouei et al.
2018) with an unconditional GAN (gankit's default recipe trained here for --gan-steps, or
--gan-run), under transfer and adaptive (BPDA) attacks. Writes bench/results/adversarial.json
and its section of docs/benchmarks.md.

PGD-40x5 costs 405 network passes per image and AutoAttack up to ~15,000, so they run on the
first --pgd-n test images;
FGSM and AdvGAN see the whole test set; Defense-GAN (2,000 generator passes per projection)
sees --defense-n images.

    nohup python bench/adversarial.py > bench/adversarial.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from common import (
    RESULTS,
    ROOT,
    bf16_units,
    command_line,
    commit,
    machine,
    publish,
    share_cache,
    train_gan_once,
)

from gankit.adversarial import (
    AdvGANConfig,
    AttackSpec,
    Budget,
    PGDConfig,
    Projection,
    harden,
    load_advgan,
    measure_attack,
    train_advgan,
)
from gankit.adversarial.defend import evaluate_defense
from gankit.adversarial.verdict import MASKING_GAP, accuracy_ci95, robustness_verdict
from gankit.data import ImageDataset, load_dataset
from gankit.recognize import ClassifierConfig, load_recogniser_run, train_recogniser_run
from gankit.recognize.run import RECOGNISER_FILE
from gankit.train import load_generator
from gankit.train.method_run import steps_done

BUDGET = Budget(0.1, "linf")
PGD40x5 = PGDConfig(steps=40, restarts=5)
PGD40 = PGDConfig(steps=40, restarts=1)


def standard_run(args: argparse.Namespace) -> Path:
    run = args.work / "standard"
    if not (run / RECOGNISER_FILE).is_file():
        print("[standard] training", flush=True)
        train_recogniser_run(run, "fashion-mnist", ClassifierConfig(epochs=args.epochs),
                             progress=False)
    return run


def advgan_run(args: argparse.Namespace, victim: Path) -> Path:
    """An AdvGAN trained (white-box) against the recogniser in `victim`."""
    run = args.work / f"advgan-w{args.advgan_width}-vs-{victim.name}"
    if steps_done(run, "advgan") < args.advgan_steps:
        print(f"[{run.name}] training", flush=True)
        stored = load_recogniser_run(victim)
        train = load_dataset("fashion-mnist", "train")
        started = time.monotonic()
        train_advgan(stored.model, train, AdvGANConfig(eps=BUDGET.eps, steps=args.advgan_steps,
                                                        width=args.advgan_width),
                     run, source={"classifier_run": str(victim)}, progress=False)
        print(f"[{run.name}] {time.monotonic() - started:.0f} s", flush=True)
    return run


def hardened_run(args: argparse.Namespace, method: str, standard: Path, advgan: Path) -> Path:
    run = args.work / f"hardened-{method}"
    if not (run / RECOGNISER_FILE).is_file():
        print(f"[hardened-{method}] training", flush=True)
        harden(standard, method, run, budget=BUDGET, advgan_run=advgan,
               epochs=args.hardened_epochs, progress=False)
    return run


def attack_all(run: Path, advgan: Path, args: argparse.Namespace) -> dict[str, Any]:
    stored = load_recogniser_run(run)
    test = load_dataset("fashion-mnist", "test")
    out: dict[str, Any] = {"train_seconds": stored.info.get("train_seconds"),
                           "hardening": stored.info.get("hardening"),
                           **gradient_attacks(run, stored.model, test, args)}
    out["autoattack"] = autoattack_report(run, stored.model, test, args)
    out["advgan"] = report_attack(run, "advgan", stored.model, test, "advgan",
                                  AttackSpec(BUDGET, advgan=load_advgan(advgan)[0]))
    out["clean_accuracy"] = out["fgsm"]["clean_accuracy"]
    out["verdict"] = robustness_verdict({k: out[k] for k in ("pgd40", "pgd40x5", "autoattack")})
    return out


def autoattack_report(run: Path, model: torch.nn.Module, test: ImageDataset,
                      args: argparse.Namespace) -> dict[str, Any]:
    """AutoAttack on the same images as PGD, kept in the run directory like the others."""
    done = run / f"bench_autoattack-n{args.pgd_n}.json"
    if not done.is_file():
        head = test.select(torch.arange(args.pgd_n))
        done.write_text(json.dumps(report_attack(run, "autoattack", model, head, "autoattack",
                                                 AttackSpec(BUDGET)), indent=2))
    return json.loads(done.read_text())


def gradient_attacks(run: Path, model: torch.nn.Module, test: ImageDataset,
                     args: argparse.Namespace) -> dict[str, Any]:
    """FGSM and PGD against the recogniser in `run`: they depend on nothing else, so they are
    kept in the run directory and a re-run (a new AdvGAN, say) does not repeat them."""
    done = run / f"bench_gradient_attacks-pgd{args.pgd_n}.json"
    if done.is_file():
        return json.loads(done.read_text())
    head = test.select(torch.arange(args.pgd_n))
    out = {name: report_attack(run, name, model, data, method, spec)
           for name, data, method, spec in [
        ("fgsm", test, "fgsm", AttackSpec(BUDGET)),
        ("pgd40", head, "pgd", AttackSpec(BUDGET, pgd=PGD40)),
        ("pgd40x5", head, "pgd", AttackSpec(BUDGET, pgd=PGD40x5))]}
    done.write_text(json.dumps(out, indent=2))
    return out


def report_attack(run: Path, name: str, model: torch.nn.Module, data: ImageDataset,
                  method: str, spec: AttackSpec) -> dict[str, Any]:
    report, _ = measure_attack(model, data, method, spec)
    print(f"[{run.name}] {name}: clean {report.clean_accuracy:.4f}, attacked "
          f"{report.adversarial_accuracy:.4f}, success {report.success_rate:.4f}, "
          f"{1 / report.seconds_per_image:.1f} images/s", flush=True)
    return report.to_dict()


def defense_gan_run(args: argparse.Namespace) -> Path:
    """The unconditional GAN Defense-GAN projects onto: --gan-run, or gankit's default recipe
    trained here for --gan-steps."""
    if args.gan_run is not None:
        return args.gan_run
    run = args.work / f"defense-gan-{args.gan_steps}steps"
    train_gan_once(run, {"data": "fashion-mnist", "steps": args.gan_steps,
                         "sample_every": args.gan_steps, "log_every": 500})
    return run


def defense(standard: Path, args: argparse.Namespace) -> dict[str, Any]:
    gan = defense_gan_run(args)
    stored = load_recogniser_run(standard)
    generator = load_generator(gan).generator
    test = load_dataset("fashion-mnist", "test").select(torch.arange(args.defense_n))
    projection = Projection()
    spec = AttackSpec(BUDGET, pgd=PGDConfig(steps=args.defense_pgd_steps))
    started = time.monotonic()
    scores, _ = evaluate_defense(stored.model, generator, test.images, test.labels, "pgd",
                                 spec, projection)
    print(f"[defense-gan] {scores} in {time.monotonic() - started:.0f} s", flush=True)
    return {"gan_run": str(gan), "n": len(test), "projection": asdict(projection),
            "attack": f"PGD-{args.defense_pgd_steps}", "accuracy": scores,
            "seconds": round(time.monotonic() - started, 1)}


NAMES = {"fast": "FGSM-RS", "pgd": "PGD-AT", "advgan": "AdvGAN-AT"}
GOAL = {"clean": 0.85, "autoattack": 0.75}


def hardened_headline(r: dict[str, Any]) -> dict[str, Any]:
    v = r["verdict"]
    return {"hardened_clean_acc": r["clean_accuracy"],
            "hardened_pgd40x5_acc": r["pgd40x5"]["adversarial_accuracy"],
            "hardened_autoattack_acc": r["autoattack"]["adversarial_accuracy"],
            "hardened_autoattack_ci95": accuracy_ci95(r["autoattack"]["adversarial_accuracy"],
                                                      r["autoattack"]["n"]),
            "autoattack_n": r["autoattack"]["n"],
            "pgd40x5_minus_autoattack": (r["pgd40x5"]["adversarial_accuracy"]
                                         - r["autoattack"]["adversarial_accuracy"]),
            "gradient_masking_suspected": v.get("gradient_masking_suspected"),
            "autoattack_gap_source": v.get("autoattack_gap_source"),
            "goal_met": bool(r["clean_accuracy"] >= GOAL["clean"]
                             and r["autoattack"]["adversarial_accuracy"] >= GOAL["autoattack"]
                             and r["pgd40x5"]["adversarial_accuracy"]
                             - r["autoattack"]["adversarial_accuracy"] <= MASKING_GAP)}


def verdict_sentence(headline: dict[str, Any]) -> str:
    """The benchmark's answer, from the numbers: which hardening to use and how far it holds."""
    hardened = {m: headline[m] for m in ("pgd", "fast") if m in headline}
    best = max(hardened, key=lambda m: hardened[m]["hardened_autoattack_acc"])
    parts = [f"{NAMES[m]} keeps {100 * h['hardened_autoattack_acc']:.1f}% under AutoAttack "
             f"[{100 * h['hardened_autoattack_ci95'][0]:.1f}, "
             f"{100 * h['hardened_autoattack_ci95'][1]:.1f}] at clean "
             f"{100 * h['hardened_clean_acc']:.1f}% (PGD-40×5 "
             f"{100 * h['pgd40x5_minus_autoattack']:+.1f} points above AutoAttack)"
             for m, h in hardened.items()]
    met = [NAMES[m] for m, h in hardened.items() if h["goal_met"]]
    others = [m for m in hardened if m != best]
    if others and all(hardened[m]["hardened_autoattack_ci95"][1]
                      >= hardened[best]["hardened_autoattack_acc"] for m in others):
        n = hardened[best]["autoattack_n"]
        ranking = (f"Under AutoAttack the {len(hardened)} are indistinguishable on these "
                   f"{n:,} images (each one's value lies inside the others' 95% interval)")
    else:
        ranking = f"The most robust under AutoAttack is {NAMES[best]}"
    return (f"{'; '.join(parts)}. {ranking}; the goal (clean ≥ 85%, AutoAttack ≥ 75%, "
            f"PGD−AA ≤ 1.5) is {'met by ' + ', '.join(met) if met else 'not met'}.")


def markdown(result: dict[str, Any]) -> str:
    h, m = result["headline"], result["machine"]
    lines = [
        "## Adversarial images: attacks, hardening, Defense-GAN (Fashion-MNIST)", "",
        f"{m['cpu']} ({m['cores']} cores, {bf16_units(m)}), torch {m['torch']}; L-inf "
        f"eps = 0.1 on the [0, 1] pixel scale; FGSM and AdvGAN on all {result['n_test']} test "
        f"images, PGD and AutoAttack on the first {result['pgd_n']}. AutoAttack: APGD-CE and "
        "APGD-T (9 targets) from ART, then gankit's Square (5,000 queries), at the standard "
        "budgets (ART has no FAB-T). Accuracies in %. Hardened recognisers: 10 epochs from the "
        f"standard one's settings; training minutes in the table. Command: "
        f"`{result['command']}`.", "",
        "| recogniser | training min | clean | FGSM | PGD-40 | PGD-40×5 | AutoAttack | "
        "PGD−AA | AdvGAN |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in result["recognisers"].items():
        gap = r["pgd40x5"]["adversarial_accuracy"] - r["autoattack"]["adversarial_accuracy"]
        lines.append(f"| {name} | {(r['train_seconds'] or 0) / 60:.1f} | "
                     f"{100 * r['clean_accuracy']:.2f} | "
                     f"{100 * r['fgsm']['adversarial_accuracy']:.2f} | "
                     f"{100 * r['pgd40']['adversarial_accuracy']:.2f} | "
                     f"{100 * r['pgd40x5']['adversarial_accuracy']:.2f} | "
                     f"{100 * r['autoattack']['adversarial_accuracy']:.2f} | "
                     f"{100 * gap:+.2f} | {100 * r['advgan']['adversarial_accuracy']:.2f} |")
    s = result["recognisers"]["standard"]
    ips = {k: 1 / s[k]["seconds_per_image"] for k in ("fgsm", "pgd40", "advgan")}
    d = result["defense_gan"]["accuracy"]
    gradient_hardened = [k for k in ("fast", "pgd") if f"hardened-{k}" in result["recognisers"]]
    own = {k: result["recognisers"][f"hardened-{k}"] for k in gradient_hardened}
    white = [f"against {NAMES[k]} {100 * r['advgan_white_box']['success_rate']:.1f}%"
             for k, r in own.items()]
    aa_cost = [f"{NAMES[k]} {r['autoattack']['passes_per_image']:.0f} passes per image"
               for k, r in own.items()]
    lines += [
        "", f"**Verdict.** {result['verdict']}", "",
        f"PGD−AA above {100 * MASKING_GAP:.1f} points would mean gradient masking. "
        "AutoAttack's cost on a hardened recogniser: " + ", ".join(aa_cost) + ".",
        "", "The AdvGAN column uses the generator trained against the standard recogniser "
        "(a transfer attack on the hardened ones); one trained white-box succeeds "
        + ", ".join(white) + ".",
        "", f"Cost against the standard recogniser: AdvGAN {h['advgan_passes_per_image']:.0f} "
        f"network pass per image ({h['advgan_flops_per_image'] / 1e6:.1f} MFLOP, "
        f"{ips['advgan']:.0f} images/s), PGD-40 {h['pgd40_passes_per_image']:.1f} passes "
        f"({h['pgd40_flops_per_image'] / 1e6:.0f} MFLOP, {ips['pgd40']:.1f} images/s), FGSM 2 "
        f"passes ({ips['fgsm']:.0f} images/s).", "",
        f"Defense-GAN ({result['defense_gan']['n']} test images, R = "
        f"{result['defense_gan']['projection']['restarts']}, L = "
        f"{result['defense_gan']['projection']['steps']}; attack "
        f"{result['defense_gan']['attack']}): clean {100 * d['clean']['undefended']:.1f} → "
        f"{100 * d['clean']['defended']:.1f} with the defense; transfer attack "
        f"{100 * d['transfer']['undefended']:.1f} undefended → "
        f"{100 * d['transfer']['defended']:.1f} defended; adaptive BPDA attack through the "
        f"purifier: {100 * d['adaptive_bpda']['defended']:.1f}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=4.0, help="standard recogniser")
    parser.add_argument("--hardened-epochs", type=float, default=10.0)
    parser.add_argument("--advgan-steps", type=int, default=1000)
    parser.add_argument("--advgan-width", type=int, default=8,
                        help="AdvGAN generator channels (16: 39 MFLOP per image, 8: 10 MFLOP)")
    parser.add_argument("--methods", default="fast,pgd,advgan",
                        help="hardening methods, comma-separated: fast, pgd, advgan")
    parser.add_argument("--pgd-n", type=int, default=1000)
    parser.add_argument("--defense-n", type=int, default=30)
    parser.add_argument("--defense-pgd-steps", type=int, default=5)
    parser.add_argument("--gan-run", type=Path, default=None,
                        help="unconditional GAN run for Defense-GAN (default: train one here)")
    parser.add_argument("--gan-steps", type=int, default=5000,
                        help="steps of gankit's default recipe for Defense-GAN's own GAN")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "adversarial")
    parser.add_argument("--out", type=Path, default=RESULTS / "adversarial.json")
    args = parser.parse_args(argv)
    share_cache()
    started = time.monotonic()
    standard = standard_run(args)
    advgan = advgan_run(args, standard)
    runs = {"standard": standard}
    for method in [m for m in args.methods.split(",") if m]:
        runs[f"hardened-{method}"] = hardened_run(args, method, standard, advgan)
    recognisers = {name: attack_all(run, advgan, args) for name, run in runs.items()}
    # White-box AdvGANs against the gradient-hardened recognisers, so their AdvGAN figure is
    # not only a transfer attack.
    for method in ("fast", "pgd"):
        if f"hardened-{method}" in runs:
            own = advgan_run(args, runs[f"hardened-{method}"])
            stored = load_recogniser_run(runs[f"hardened-{method}"])
            report, _ = measure_attack(stored.model, load_dataset("fashion-mnist", "test"),
                                       "advgan", AttackSpec(BUDGET, advgan=load_advgan(own)[0]))
            recognisers[f"hardened-{method}"]["advgan_white_box"] = report.to_dict()
    result: dict[str, Any] = {
        "benchmark": "adversarial", "machine": machine(), "commit": commit(),
        "command": command_line("adversarial.py", argv),
        "budget": asdict(BUDGET), "n_test": 10_000, "pgd_n": args.pgd_n,
        "settings": {k: str(v) for k, v in vars(args).items()},
        "recognisers": recognisers, "defense_gan": defense(standard, args)}
    standard_scores = recognisers["standard"]
    result["headline"] = {
        "advgan_success": standard_scores["advgan"]["success_rate"],
        "advgan_passes_per_image": standard_scores["advgan"]["passes_per_image"],
        "pgd40_passes_per_image": standard_scores["pgd40"]["passes_per_image"],
        "advgan_flops_per_image": standard_scores["advgan"]["flops_per_image"],
        "pgd40_flops_per_image": standard_scores["pgd40"]["flops_per_image"],
        **{method: hardened_headline(recognisers[f"hardened-{method}"])
           for method in ("fast", "pgd") if f"hardened-{method}" in recognisers}}
    result["verdict"] = verdict_sentence(result["headline"])
    print(result["verdict"], flush=True)
    result["minutes"] = round((time.monotonic() - started) / 60, 1)
    publish("adversarial", result, args.out, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
