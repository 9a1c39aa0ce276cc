"""`gankit attack`: run a named attack on a recogniser and report what it did, for any
`nn.Module` that maps images in [-1, 1] to class logits."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit.adversarial.advgan import AdvGAN, check_target, load_advgan
from gankit.adversarial.attacks import SCALE, Budget, PGDConfig, fgsm, fooled, pgd
from gankit.adversarial.autoattack import AutoAttackConfig, autoattack
from gankit.data import ImageDataset, load_dataset
from gankit.errors import GankitError
from gankit.flops import FlopCount
from gankit.io import atomic_write, writable_folder
from gankit.plots import attack_grid_png
from gankit.recognize import inference_copy, load_recogniser_run, predict_logits
from gankit.recognize.train import logit_accuracy
from gankit.registry import Registry


@dataclass(frozen=True)
class AttackSpec:
    """Everything an attack method may need besides the model and the images."""

    budget: Budget = Budget()
    target: int | None = None
    pgd: PGDConfig = PGDConfig()
    advgan: AdvGAN | None = None  # a trained AdvGAN for method "advgan"
    auto: AutoAttackConfig = AutoAttackConfig()
    # filled by autoattack: images each of its stages left correctly classified, summed
    robust_after: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AttackMethod:
    attack: Callable[[nn.Module, torch.Tensor, torch.Tensor, AttackSpec], torch.Tensor]


ATTACKS: Registry[AttackMethod] = Registry("attack method")
ATTACKS.add("fgsm", AttackMethod(
    lambda model, x, y, spec: fgsm(model, x, y, spec.budget, spec.target)),
    "one signed-gradient step of size eps (Goodfellow et al. 2015)")
ATTACKS.add("pgd", AttackMethod(
    lambda model, x, y, spec: pgd(model, x, y, spec.budget, spec.pgd, spec.target)),
    "projected gradient descent with random starts (Madry et al. 2018)")
ATTACKS.add("autoattack", AttackMethod(
    lambda model, x, y, spec: autoattack(model, x, y, spec.budget, spec.auto, spec.pgd.seed,
                                         spec.target, spec.robust_after)),
    "APGD-CE, APGD-T and Square, as in AutoAttack (Croce & Hein 2020; needs gankit[robust])")


def _advgan(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
            spec: AttackSpec) -> torch.Tensor:
    if spec.advgan is None:
        raise GankitError("method advgan needs a trained AdvGAN: --advgan RUN_DIR "
                          "(gankit attack train-advgan CLASSIFIER_RUN makes one)")
    if spec.advgan.target != spec.target:
        raise GankitError(f"this AdvGAN was trained for target {spec.advgan.target}, not "
                          f"{spec.target}; train one per target")
    with torch.no_grad():
        return spec.advgan(images)


ATTACKS.add("advgan", AttackMethod(_advgan),
            "one pass of a generator trained to attack (Xiao et al. 2018)")


@dataclass
class AttackReport:
    method: str
    eps: float
    norm: str
    target: int | None
    n: int
    clean_accuracy: float
    adversarial_accuracy: float
    success_rate: float  # of the images the attack had to flip (see `success_rate`)
    linf_mean: float  # perturbation norms on the [0, 1] pixel scale
    linf_max: float
    l2_mean: float
    l2_max: float
    seconds_per_image: float
    passes_per_image: float  # network passes (a backward counts as one), mean over the images
    flops_per_image: int  # mean over the images: what compares AdvGAN with PGD
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def success_rate(clean_logits: torch.Tensor, adversarial_logits: torch.Tensor,
                 labels: torch.Tensor, target: int | None) -> float:
    """Untargeted: the share of correctly classified images that the attack misclassifies.
    Targeted: the share of images not of the target class that end up classified as it."""
    if target is None:
        eligible = clean_logits.argmax(dim=1) == labels
    else:
        eligible = labels != target
    hit = fooled(adversarial_logits, labels, target) & eligible
    return hit.sum().item() / max(eligible.sum().item(), 1)


def attack_images(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, method: str,
                  spec: AttackSpec, batch_size: int = 500) -> torch.Tensor:
    """Adversarial versions of `images` (on the model's device, returned on the CPU)."""
    chosen = ATTACKS.get(method)
    model = inference_copy(model)
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].to(device)
        y = labels[start : start + batch_size].to(device)
        # Each batch gets its own random starts, reproducibly.
        batch_spec = replace(spec, pgd=replace(spec.pgd, seed=spec.pgd.seed + start))
        out.append(chosen.attack(model, x, y, batch_spec).detach().cpu())
    return torch.cat(out)


@contextmanager
def _count_passes(networks: list[nn.Module]) -> Iterator[list[int]]:
    """Images through `networks` while the context is open: one per image and forward, one
    more where the output needs a gradient (a gradient attack differentiates every forward
    it runs with gradients on)."""
    total = [0]

    def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        total[0] += len(output) * (2 if output.requires_grad else 1)

    handles = [net.register_forward_hook(hook) for net in networks]
    try:
        yield total
    finally:
        for handle in handles:
            handle.remove()


@dataclass(frozen=True)
class AttackCost:
    seconds: float
    passes: int  # summed over the images
    flops: int


def costed_attack(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, method: str,
                  spec: AttackSpec) -> tuple[torch.Tensor, AttackCost]:
    """Adversarial images and what making them cost, counted over every image: PGD's later
    restarts skip the images already fooled, so no one image's cost stands for the rest."""
    networks = [model] + ([spec.advgan] if method == "advgan" and spec.advgan else [])
    with FlopCount() as flops, _count_passes(networks) as passes:
        started = time.monotonic()
        adversarial = attack_images(model, images, labels, method, spec)
        seconds = time.monotonic() - started
    return adversarial, AttackCost(seconds, passes[0], flops.total)


def check_inputs(model: nn.Module, data: ImageDataset, spec: AttackSpec) -> None:
    spec.budget.check(data.image_shape)
    check_target(spec.target, data.num_classes)
    expected = getattr(model, "image_shape", None)
    if expected is not None and tuple(expected) != tuple(data.image_shape):
        raise GankitError(f"the recogniser takes {tuple(expected)} images but {data.name} has "
                          f"{tuple(data.image_shape)}; attack it on the data it was trained on")


def measure_attack(model: nn.Module, data: ImageDataset, method: str,
                   spec: AttackSpec) -> tuple[AttackReport, torch.Tensor]:
    """Attack every image of `data`; the report and the adversarial images."""
    check_inputs(model, data, spec)
    adversarial, cost = costed_attack(model, data.images, data.labels, method, spec)
    clean_logits = predict_logits(model, data.images)
    adv_logits = predict_logits(model, adversarial)
    delta = (adversarial - data.images).flatten(1) / SCALE
    linf, l2 = delta.abs().amax(dim=1), delta.norm(dim=1)
    report = AttackReport(
        method=method, eps=spec.budget.eps, norm=spec.budget.norm, target=spec.target,
        n=len(data), clean_accuracy=logit_accuracy(clean_logits, data.labels),
        adversarial_accuracy=logit_accuracy(adv_logits, data.labels),
        success_rate=success_rate(clean_logits, adv_logits, data.labels, spec.target),
        linf_mean=linf.mean().item(), linf_max=linf.max().item(), l2_mean=l2.mean().item(),
        l2_max=l2.max().item(), seconds_per_image=cost.seconds / max(len(data), 1),
        passes_per_image=cost.passes / max(len(data), 1),
        flops_per_image=round(cost.flops / max(len(data), 1)))
    if spec.robust_after:  # autoattack's per-stage counts, so every report can trace a gap
        report.extra["robust_after"] = dict(spec.robust_after)
    return report, adversarial


def run_attack(classifier_run: str | Path, method: str, out: str | Path, *,
               budget: Budget = Budget(), target: int | None = None,
               pgd_config: PGDConfig = PGDConfig(), advgan_run: str | Path | None = None,
               data: str | None = None, data_root: str | None = None, split: str = "test",
               n: int | None = 1000, device: str = "auto") -> AttackReport:
    """Attack the recogniser of a `gankit classify` run on the first `n` images of DATA/SPLIT
    (default: its own test split); writes OUT/attack.json and OUT/grid.png."""
    ATTACKS.get(method)  # an unknown name fails before anything loads
    stored = load_recogniser_run(classifier_run, device)
    name = data or stored.info["data"]
    dataset = load_dataset(name, split, root=data_root or stored.info.get("data_root"))
    if dataset.classes != stored.classes:
        raise GankitError(f"{dataset.name} has classes {list(dataset.classes)}, but the "
                          f"recogniser knows {list(stored.classes)}")
    if n is not None:
        dataset = dataset.select(torch.arange(min(n, len(dataset))))
    advgan = load_advgan(advgan_run, device)[0] if advgan_run is not None else None
    spec = AttackSpec(budget, target, pgd_config, advgan)
    report, adversarial = measure_attack(stored.model, dataset, method, spec)
    report.extra.update({"classifier_run": str(classifier_run), "data": dataset.name,
                         "split": split, "advgan_run": str(advgan_run) if advgan_run else None,
                         "pgd": asdict(pgd_config) if method == "pgd" else None})
    out = Path(out)
    writable_folder(out)
    atomic_write(out / "attack.json", json.dumps(report.to_dict(), indent=2).encode())
    show = slice(0, 8)
    attack_grid_png(dataset.images[show], adversarial[show],
                    predict_logits(stored.model, dataset.images[show]).argmax(dim=1),
                    predict_logits(stored.model, adversarial[show]).argmax(dim=1),
                    dataset.labels[show], dataset.classes, out / "grid.png",
                    title=f"{method}, {budget.norm} eps={budget.eps:g}")
    return report
