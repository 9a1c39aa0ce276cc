"""The recogniser commands: classify train/eval, augment, attack (and train-advgan), harden,
defend."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from gankit.adversarial import ATTACKS, HARDENING, NORMS, AdvGANConfig, Budget
from gankit.adversarial.defend import DEFENSES
from gankit.data import class_index, load_dataset
from gankit.experiments.augmentation import AugmentConfig, run_experiment
from gankit.experiments.verdict import markdown_table
from gankit.options import device_option, option, progress_option
from gankit.recognize import (
    ClassifierConfig,
    RecognitionReport,
    evaluate_recogniser_run,
    load_recogniser_run,
    train_recogniser_run,
)
from gankit.runs import new_run_dir

SPLITS = ("train", "test")
MAX_IMAGES = 100_000  # images one command reads, attacks or writes


def print_recognition(report: RecognitionReport) -> None:
    print(f"{report.data}: accuracy {100 * report.accuracy:.2f}% on {report.n} images")
    for name, acc in report.per_class.items():
        print(f"  {name:<16} {100 * acc:6.2f}%")


@dataclass(frozen=True)
class ClassifyTrainCommand:
    data: str = option("dataset name or folder:PATH", "fashion-mnist")
    data_root: str | None = option("folder holding the dataset files (searched first)")
    per_class: int | None = option("train on N images of each class only", low=1,
                                   high=MAX_IMAGES)
    extra: str | None = option("more labelled training images: a conditional GAN run or a "
                               "folder of class sub-folders")
    extra_per_class: int | None = option("images per class drawn from a GAN --extra (default: "
                                         "as many as the real ones)", low=1, high=MAX_IMAGES)
    out: str | None = option("run directory (default: runs/classify-DATA-TIME)")
    device: str = device_option()
    progress: bool = progress_option()


def classify_train(command: ClassifyTrainCommand, config: ClassifierConfig) -> None:
    out = new_run_dir(command.out, "classify", command.data)
    report = train_recogniser_run(out, command.data, config, root=command.data_root,
                                  per_class=command.per_class, extra=command.extra,
                                  extra_per_class=command.extra_per_class,
                                  device=command.device, progress=command.progress)
    print_recognition(report)
    print(f"wrote {out}/ (recogniser.safetensors, config.yaml, report.json, confusion PNG)")


@dataclass(frozen=True)
class ClassifyEvalCommand:
    run_dir: str = option("a gankit classify run directory", positional=True)
    data: str | None = option("dataset to test on (default: the training data)")
    data_root: str | None = option("folder holding the dataset files (searched first)")
    split: str = option("split to test on", "test", choices=SPLITS)
    device: str = device_option()


def classify_eval(command: ClassifyEvalCommand) -> None:
    report = evaluate_recogniser_run(command.run_dir, command.data, root=command.data_root,
                                     split=command.split, device=command.device)
    print_recognition(report)
    print(f"wrote {Path(command.run_dir) / 'report.json'}")


@dataclass(frozen=True)
class AugmentCommand:
    classifier_steps: int = option("recogniser updates, the same in every condition but "
                                   "'longer'", AugmentConfig().classifier.steps, low=1,
                                   high=10**7)
    out: str | None = option("output folder (default: runs/augment-DATA-Npc-TIME)")
    progress: bool = progress_option()


def augment(command: AugmentCommand, config: AugmentConfig) -> None:
    config = replace(config, classifier=ClassifierConfig(steps=command.classifier_steps))
    out = new_run_dir(command.out, "augment", config.data, f"{config.per_class}pc")
    result = run_experiment(config, out, progress=command.progress)
    print(markdown_table(result))
    print(f"wrote {out}/ (augment.json, augment.md, augment.png, seed*/synthetic.png)")


@dataclass(frozen=True)
class BudgetOptions:
    eps: float = option("perturbation budget on the [0, 1] pixel scale (l2: at most the "
                        "square root of the pixel count)", 0.1, above=0, high=64)
    norm: str = option("norm of the budget", "linf", choices=NORMS)

    def __post_init__(self) -> None:
        # the budget's own check names the widest eps of its norm; for l2 the image size
        # sets it, so only the lower bound is checked before the images are read
        if self.norm != "l2" or not self.eps > 0:
            Budget(self.eps, self.norm).check((1,))

    @property
    def budget(self) -> Budget:
        return Budget(self.eps, self.norm)


def _target(targeted: str | None, classes: tuple[str, ...]) -> int | None:
    return None if targeted is None else class_index(targeted, classes)


@dataclass(frozen=True)
class AttackCommand:
    classifier_run: str = option("a gankit classify run directory", positional=True)
    method: str = option("attack", "pgd", choices=ATTACKS)
    targeted: str | None = option("make the recogniser read this class (index or name)")
    steps: int = option("PGD steps", 40, low=1, high=10_000)
    restarts: int = option("PGD random restarts", 1, low=1, high=100)
    advgan: str | None = option("AdvGAN run directory for --method advgan")
    data: str | None = option("dataset (default: the recogniser's)")
    data_root: str | None = option("folder holding the dataset files (searched first)")
    split: str = option("split to attack", "test", choices=SPLITS)
    n: int = option("images to attack", 1000, low=1, high=MAX_IMAGES)
    out: str | None = option("folder (default: CLASSIFIER_RUN/attacks/METHOD-NORM-EPS)")
    device: str = device_option()


def attack(command: AttackCommand, budget: BudgetOptions) -> None:
    from gankit.adversarial import PGDConfig, run_attack

    classes = load_recogniser_run(command.classifier_run, "cpu").classes
    target = _target(command.targeted, classes)
    goal = "" if target is None else f"-target{target}"
    out = Path(command.out) if command.out else Path(command.classifier_run) / "attacks" / (
        f"{command.method}-{budget.norm}-eps{budget.eps:g}{goal}")
    report = run_attack(command.classifier_run, command.method, out, budget=budget.budget,
                        target=target, pgd_config=PGDConfig(steps=command.steps,
                                                            restarts=command.restarts),
                        advgan_run=command.advgan, data=command.data,
                        data_root=command.data_root, split=command.split, n=command.n,
                        device=command.device)
    print(f"{command.method} ({report.norm}, eps {report.eps:g} on the [0, 1] scale"
          f"{'' if target is None else f', target {classes[target]}'}) on {report.n} images:")
    print(f"  clean accuracy        {100 * report.clean_accuracy:6.2f}%")
    print(f"  accuracy under attack {100 * report.adversarial_accuracy:6.2f}%")
    print(f"  attack success rate   {100 * report.success_rate:6.2f}%")
    print(f"  perturbation L-inf    mean {report.linf_mean:.4f}, max {report.linf_max:.4f}")
    print(f"  perturbation L2       mean {report.l2_mean:.4f}, max {report.l2_max:.4f}")
    print(f"  time per image        {1000 * report.seconds_per_image:.2f} ms "
          f"({report.passes_per_image:.1f} network passes, "
          f"{report.flops_per_image / 1e6:.1f} MFLOP; means over the images attacked)")
    print(f"wrote {out}/ (attack.json, grid.png)")


@dataclass(frozen=True)
class AdvGANTrainCommand:
    classifier_run: str = option("the gankit classify run to attack", positional=True)
    targeted: str | None = option("train for this target class (index or name)")
    out: str | None = option("run directory (default: CLASSIFIER_RUN/advgan/GOAL); a run that "
                             "stopped early there continues")
    progress: bool = progress_option()


def train_advgan(command: AdvGANTrainCommand, config: AdvGANConfig) -> None:
    from gankit.adversarial import train_advgan as train

    stored = load_recogniser_run(command.classifier_run, config.device)
    data = load_dataset(stored.info["data"], "train", root=stored.info.get("data_root"))
    config = replace(config, target=_target(command.targeted, stored.classes))
    out = Path(command.out) if command.out else Path(command.classifier_run) / "advgan" / (
        "untargeted" if config.target is None else f"target{config.target}")
    train(stored.model, data, config, out, progress=command.progress,
          source={"classifier_run": str(command.classifier_run)})
    print(f"wrote {out}/ (advgan.safetensors, config.yaml, metrics.jsonl, samples.png); use it "
          f"with gankit attack {command.classifier_run} --method advgan --advgan {out}")


@dataclass(frozen=True)
class HardenCommand:
    classifier_config: str = option("a gankit classify run (or its config.yaml) to retrain "
                                    "robustly", positional=True)
    method: str = option("adversarial training method", "fast", choices=HARDENING)
    advgan: str | None = option("AdvGAN run directory for --method advgan")
    epochs: float | None = option("override the recogniser's epochs", above=0, high=1e4)
    out: str | None = option("run directory (default: runs/harden-METHOD-TIME)")
    device: str = device_option()
    progress: bool = progress_option()


def harden(command: HardenCommand, budget: BudgetOptions) -> None:
    from gankit.adversarial import harden as retrain

    out = new_run_dir(command.out, "harden", command.method)
    report = retrain(command.classifier_config, command.method, out, budget=budget.budget,
                     advgan_run=command.advgan, epochs=command.epochs, device=command.device,
                     progress=command.progress)
    print_recognition(report)
    print(f"wrote {out}/ (a classify run: attack it with gankit attack {out} --method pgd)")


@dataclass(frozen=True)
class DefendCommand:
    classifier_run: str = option("the gankit classify run to guard", positional=True)
    gan: str = option("an unconditional GAN run trained on the same data", required=True)
    method: str = option("defense", "gan-purify", choices=DEFENSES)
    attack: str = option("attack to defend against", "pgd", choices=("fgsm", "pgd"))
    steps: int = option("PGD steps", 10, low=1, high=10_000)
    restarts: int = option("projection restarts (R)", 10, low=1, high=100)
    projection_steps: int = option("projection steps (L)", 200, low=1, high=10_000)
    adaptive: bool = option("also run the adaptive (BPDA) attack through the purifier", True)
    n: int = option("test images (the projection is slow)", 100, low=1, high=10_000)
    out: str | None = option("folder (default: CLASSIFIER_RUN/defend/METHOD)")
    device: str = device_option()


def defend(command: DefendCommand, budget: BudgetOptions) -> None:
    from gankit.adversarial import AttackSpec, PGDConfig, Projection
    from gankit.adversarial.defend import run_defense

    result = run_defense(
        command.classifier_run, command.gan, command.out, method=command.method,
        attack=command.attack, spec=AttackSpec(budget.budget, None,
                                               PGDConfig(steps=command.steps)),
        projection=Projection(restarts=command.restarts, steps=command.projection_steps),
        n=command.n, adaptive=command.adaptive, device=command.device)
    for case, accs in result.scores.items():
        print(f"  {case:<14} " + ", ".join(f"{k} {100 * v:.2f}%" for k, v in accs.items()))
    print(f"wrote {result.out}/ (defense.json; grid.png rows: {', '.join(result.shown)})")
