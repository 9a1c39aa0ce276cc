"""Defense-GAN (Samangouei et al. 2018, "Defense-GAN: Protecting Classifiers Against
Adversarial Attacks Using Generative Models"): before classifying, project the input onto the
range of a GAN trained on clean data — search z for the G(z) closest to it (R random restarts,
L gradient steps) — and classify G(z) instead. Perturbations the generator cannot draw are
dropped.

Its projection has no useful gradient, so attacking only the classifier overstates it. The
adaptive attack of Athalye et al. 2018 ("Obfuscated Gradients Give a False Sense of Security")
is BPDA: run the projection on the forward pass, treat it as the identity on the backward
pass. `PurifiedClassifier` is built that way, so any gradient attack in gankit run against it
is the adaptive one; attacking the bare classifier and purifying afterwards is the
non-adaptive (transfer) setting of the paper.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit.adversarial.api import AttackSpec, attack_images
from gankit.latent_search import check_searchable, search_latents
from gankit.models import Generator
from gankit.recognize.train import logit_accuracy
from gankit.registry import Registry


@dataclass(frozen=True)
class Projection:
    restarts: int = 10  # R of the paper (10 for MNIST)
    steps: int = 200  # L of the paper (200 for MNIST)
    lr: float = 0.05
    batch_size: int = 100  # images projected together (x restarts latents)
    seed: int = 0


def project(generator: Generator, images: torch.Tensor,
            projection: Projection = Projection()) -> torch.Tensor:
    """G(z*) for each image, z* minimising the squared distance ||G(z) - x||^2."""
    check_searchable(generator, images, "Defense-GAN")
    device = next(generator.parameters()).device
    out = []
    for start in range(0, len(images), projection.batch_size):
        chunk = images[start : start + projection.batch_size].detach().to(device)
        target = chunk.repeat_interleave(projection.restarts, dim=0)

        def distance(fake: torch.Tensor, target: torch.Tensor = target) -> torch.Tensor:
            return (fake - target).pow(2).flatten(1).sum(dim=1)

        z = search_latents(generator, len(chunk), distance, restarts=projection.restarts,
                           steps=projection.steps, lr=projection.lr,
                           seed=projection.seed + start)
        with torch.no_grad():
            out.append(generator.draw(z).to(images.device))
    return torch.cat(out)


class PurifiedClassifier(nn.Module):
    """classifier(project(x)); gradients pass the projection as if it were the identity
    (BPDA), so gradient attacks on this module are adaptive ones."""

    def __init__(self, classifier: nn.Module, generator: Generator,
                 projection: Projection = Projection()) -> None:
        super().__init__()
        self.classifier, self.generator, self.projection = classifier, generator, projection

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        purified = project(self.generator, x, self.projection)
        return self.classifier(x + (purified - x).detach())


DEFENSES: Registry[type[PurifiedClassifier]] = Registry("defense")
DEFENSES.add("gan-purify", PurifiedClassifier,
             "Defense-GAN: classify the nearest image the GAN can draw (Samangouei et al. 2018)")


def _accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return logit_accuracy(model(images), labels)


def evaluate_defense(classifier: nn.Module, generator: Generator, images: torch.Tensor,
                     labels: torch.Tensor, method: str, spec: AttackSpec,
                     projection: Projection = Projection(),
                     adaptive: bool = True) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Accuracy without and with the defense on clean images, on images attacked through the
    classifier alone (transfer), and, if `adaptive`, on images attacked through the
    purifier with BPDA. Returns the scores and the images behind them."""
    classifier = classifier.eval()
    device = next(classifier.parameters()).device
    images, labels = images.to(device), labels.to(device)
    defended = PurifiedClassifier(classifier, generator, projection)
    transfer = attack_images(classifier, images, labels, method, spec).to(device)
    shown = {"clean": images, "purified": project(generator, images, projection),
             "attacked": transfer}
    scores: dict[str, Any] = {
        "clean": {"undefended": _accuracy(classifier, images, labels),
                  "defended": _accuracy(classifier, shown["purified"], labels)},
        "transfer": {"undefended": _accuracy(classifier, transfer, labels),
                     "defended": _accuracy(defended, transfer, labels)}}
    if adaptive:
        through = attack_images(defended, images, labels, method, spec).to(device)
        scores["adaptive_bpda"] = {"defended": _accuracy(defended, through, labels)}
        shown["attacked_adaptive"] = through
    return scores, shown


@dataclass(frozen=True)
class DefenseResult:
    scores: dict[str, Any]  # case -> {"undefended"/"defended": accuracy}
    out: Path
    shown: tuple[str, ...]  # the grid's rows


def run_defense(classifier_run: str | Path, gan_run: str | Path, out: str | Path | None = None,
                *, method: str = "gan-purify", attack: str = "pgd", spec: AttackSpec,
                projection: Projection = Projection(), n: int = 100, adaptive: bool = True,
                device: str = "auto") -> DefenseResult:
    """Evaluate `method` guarding the recogniser of a classify run with the generator of
    `gan_run` on the first `n` test images; writes OUT/defense.json and OUT/grid.png
    (default OUT: CLASSIFIER_RUN/defend/METHOD)."""
    from gankit.data import load_dataset
    from gankit.imaging import save_grid
    from gankit.io import atomic_write, writable_folder
    from gankit.recognize import load_recogniser_run
    from gankit.train import load_generator

    DEFENSES.get(method)
    stored = load_recogniser_run(classifier_run, device)
    generator = load_generator(gan_run, device=device).generator
    data = load_dataset(stored.info["data"], "test", root=stored.info.get("data_root"))
    n = min(n, len(data))
    scores, shown = evaluate_defense(stored.model, generator, data.images[:n], data.labels[:n],
                                     attack, spec, projection, adaptive=adaptive)
    out = Path(out) if out else Path(classifier_run) / "defend" / method
    writable_folder(out)
    atomic_write(out / "defense.json", json.dumps(
        {"method": method, "attack": attack, "eps": spec.budget.eps, "norm": spec.budget.norm,
         "n": n, "gan_run": str(gan_run), "projection": asdict(projection),
         "pgd_steps": spec.pgd.steps if attack == "pgd" else None, "accuracy": scores},
        indent=2).encode())
    save_grid(torch.cat([v[:8].cpu() for v in shown.values()]), out / "grid.png", nrow=8,
              scale=2)
    return DefenseResult(scores, out, tuple(shown))
