"""`gankit harden`: adversarial training, i.e. train the recogniser on attacked images.

- pgd: PGD adversarial training (Madry et al. 2018), 7 steps of 2.5 * eps / 7 with a random
  start for every batch (Madry et al. used 40 steps on MNIST; 7 is their CIFAR-10 setting and
  keeps a CPU run affordable).
- fast: FGSM from a random start with step 1.25 * eps (Wong et al. 2020, "Fast is better than
  free"): nearly PGD's robustness at the cost of one extra gradient per batch.
- advgan: train on the images of a trained AdvGAN (Xiao et al. 2018): one generator pass per
  batch, but the perturbations do not adapt as the recogniser learns.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gankit.adversarial.advgan import load_advgan
from gankit.adversarial.attacks import Budget, PGDConfig, pgd
from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.io import read_yaml
from gankit.recognize import ClassifierConfig, RecognitionReport, train_recogniser_run
from gankit.recognize.run import RECOGNISER_FILE
from gankit.recognize.train import Adversary
from gankit.registry import Registry

# method -> the PGD configuration it trains against (None: the images come from an AdvGAN)
HARDENING: Registry[Callable[[Budget], PGDConfig | None]] = Registry("hardening method")
HARDENING.add("pgd", lambda budget: PGDConfig(steps=7, step_size=2.5 * budget.eps / 7),
              "PGD-7 adversarial training (Madry et al. 2018)")
HARDENING.add("fast", lambda budget: PGDConfig(steps=1, step_size=1.25 * budget.eps),
              "FGSM from a random start (Wong et al. 2020)")
HARDENING.add("advgan", lambda budget: None,
              "train on a trained AdvGAN's images (Xiao et al. 2018)")


def make_adversary(method: str, budget: Budget, *, advgan_run: str | Path | None = None,
                   seed: int = 0, device: str = "auto") -> Adversary:
    config = HARDENING.get(method)(budget)
    if config is None:
        if advgan_run is None:
            raise GankitError("--method advgan needs --advgan RUN_DIR (a trained AdvGAN)")
        advgan = load_advgan(advgan_run, device)[0]

        def from_advgan(model: torch.nn.Module, images: torch.Tensor,
                        labels: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return advgan(images)

        return from_advgan
    gen = torch.Generator().manual_seed(seed + 7)  # fresh random starts for every batch

    def from_pgd(model: torch.nn.Module, images: torch.Tensor,
                 labels: torch.Tensor) -> torch.Tensor:
        return pgd(model, images, labels, budget, config, generator=gen)

    return from_pgd


def read_classifier_config(source: str | Path) -> dict[str, Any]:
    """What `gankit classify train` recorded: a run directory or its config.yaml."""
    path = Path(source)
    if path.is_dir():
        path = path / "config.yaml"
    if not path.is_file():
        raise GankitError(f"{source} is neither a gankit classify run nor its config.yaml")
    facts = read_yaml(path, "classify config")
    try:
        ClassifierConfig(**facts["config"])
        facts["data"]
    except Exception as err:
        raise GankitError(f"{path} is not a gankit classify config ({type(err).__name__}: "
                          f"{err}); pass a classify run directory or its config.yaml") from None
    return facts


def harden(source: str | Path, method: str, out: str | Path, *, budget: Budget = Budget(),
           advgan_run: str | Path | None = None, epochs: float | None = None,
           device: str = "auto", progress: bool = True) -> RecognitionReport:
    """Retrain the recogniser described by `source` (a classify run or its config.yaml) with
    adversarial training; OUT is a classify run directory, usable by attack and eval."""
    facts = read_classifier_config(source)
    config = ClassifierConfig(**facts["config"])
    if epochs is not None:
        config = ClassifierConfig(**{**facts["config"], "epochs": epochs, "steps": None})
    probe = load_dataset(facts["data"], "test", root=facts.get("data_root"))
    budget.check(probe.image_shape)
    if (Path(out) / RECOGNISER_FILE).exists():
        raise GankitError(f"{out} already holds a recogniser; choose another --out")
    adversary = make_adversary(method, budget, advgan_run=advgan_run, seed=config.seed,
                               device=device)
    notes = {"hardening": {"method": method, "eps": budget.eps, "norm": budget.norm,
                           "advgan_run": str(advgan_run) if advgan_run else None,
                           "source": str(source)}}
    return train_recogniser_run(out, facts["data"], config, root=facts.get("data_root"),
                                per_class=facts.get("per_class"), device=device,
                                progress=progress, adversary=adversary, notes=notes)
