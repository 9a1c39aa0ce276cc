"""AdvGAN (Xiao et al. 2018, "Generating Adversarial Examples with Adversarial Networks"): a
generator maps an image to a bounded perturbation in one forward pass. It is trained against a
fixed recogniser with three losses:

- adversarial: the C&W margin loss (Carlini & Wagner 2017) on the recogniser's logits, so the
  perturbed image leaves its class (untargeted) or lands in the target class (targeted);
- GAN: a discriminator tells real images from perturbed ones (least squares, as in the paper),
  which keeps perturbations looking like natural variation;
- hinge: max(0, ||delta||_2 - c), a soft cap on the perturbation's energy.

The budget is also enforced exactly: delta = eps * tanh(.) (L-inf) and a projection onto the
eps-ball and the pixel range, so every output is a valid image within budget. One generator
serves one goal: untargeted, or one target class (as in the paper).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import yaml
from torch import nn

from gankit.adversarial.attacks import SCALE, Budget
from gankit.data import ImageDataset
from gankit.device import select_device
from gankit.errors import GankitError
from gankit.imaging import save_grid
from gankit.io import atomic_write, load_run_state, save_state
from gankit.models.dcgan import DCGANDiscriminator
from gankit.models.image2image import ResNetTranslator
from gankit.train.batches import BatchStream

CHECKPOINT = "advgan.safetensors"


@dataclass(frozen=True)
class AdvGANConfig:
    eps: float = 0.1  # on the [0, 1] pixel scale
    norm: str = "linf"
    target: int | None = None  # None = untargeted
    steps: int = 2000
    batch_size: int = 128
    lr: float = 1e-3
    width: int = 16
    blocks: int = 4
    adv_weight: float = 10.0
    gan_weight: float = 1.0
    hinge_weight: float = 1.0
    hinge_bound: float = 2.0  # c of the hinge, L2 on the [0, 1] scale (the L-inf ball's is 2.8)
    confidence: float = 2.0  # logit margin the adversarial loss asks for (kappa of C&W)
    seed: int = 0
    device: str = "auto"

    @property
    def budget(self) -> Budget:
        return Budget(self.eps, self.norm)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class AdvGAN(nn.Module):
    """A perturbation generator (CycleGAN's ResNet generator, as in the paper; its tanh output
    scaled by eps) with its budget: `AdvGAN(x)` is the adversarial image."""

    def __init__(self, generator: ResNetTranslator, budget: Budget,
                 target: int | None) -> None:
        super().__init__()
        self.generator, self.budget, self.target = generator, budget, target

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        delta = SCALE * self.budget.eps * self.generator(images)
        return self.budget.project(images + delta, images)


def margin_loss(logits: torch.Tensor, labels: torch.Tensor, target: int | None,
                confidence: float) -> torch.Tensor:
    """C&W's loss: how far the true class (untargeted) still leads the best other class, or
    how far the best other class still leads the target; zero once `confidence` past it."""
    goal = labels if target is None else torch.full_like(labels, target)
    goal_logit = logits.gather(1, goal[:, None]).squeeze(1)
    others = logits.masked_fill(F.one_hot(goal, logits.shape[1]).bool(), -torch.inf)
    best_other = others.max(dim=1).values
    gap = goal_logit - best_other if target is None else best_other - goal_logit
    return (gap + confidence).clamp(min=0)


def check_target(target: int | None, num_classes: int) -> None:
    if target is not None and not 0 <= target < num_classes:
        raise GankitError(f"target class {target} is outside the label set 0..{num_classes - 1}")


def train_advgan(classifier: nn.Module, data: ImageDataset, config: AdvGANConfig,
                 out: str | Path, *, source: dict[str, Any] | None = None,
                 progress: bool = True) -> AdvGAN:
    """Train an AdvGAN against `classifier` on `data` into OUT (advgan.safetensors,
    config.yaml, samples.png); `source` (e.g. the recogniser's run) is recorded with it."""
    from tqdm import tqdm

    out = Path(out)
    if (out / CHECKPOINT).exists():
        raise GankitError(f"{out} already holds an AdvGAN; choose another --out")
    budget = config.budget
    budget.check(data.image_shape)
    check_target(config.target, data.num_classes)
    device = select_device(config.device)
    torch.manual_seed(config.seed)
    classifier = classifier.to(device).eval()
    for p in classifier.parameters():
        p.requires_grad_(False)
    G = ResNetTranslator(data.image_shape[0], config.width, config.blocks).to(device)
    D = DCGANDiscriminator(data.image_shape, 0, 32).to(device)
    attack = AdvGAN(G, budget, config.target)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=(0.5, 0.999))
    batches = BatchStream(len(data), min(config.batch_size, len(data)), config.seed)
    started = time.monotonic()
    for _ in tqdm(range(config.steps), disable=not progress, desc="advgan", unit="step"):
        index = batches.next()
        images, labels = data.images[index].to(device), data.labels[index].to(device)
        adversarial = attack(images)
        loss_d = ((D(images) - 1) ** 2).mean() + (D(adversarial.detach()) ** 2).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        delta = (adversarial - images) / SCALE  # on the [0, 1] scale, like the hinge bound
        hinge = (delta.flatten(1).norm(dim=1) - config.hinge_bound).clamp(min=0).mean()
        loss_g = (config.adv_weight * margin_loss(classifier(adversarial), labels,
                                                  config.target, config.confidence).mean()
                  + config.gan_weight * ((D(adversarial) - 1) ** 2).mean()
                  + config.hinge_weight * hinge)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
    seconds = time.monotonic() - started
    G.eval()
    out.mkdir(parents=True, exist_ok=True)
    meta = {"image_shape": list(data.image_shape), "classes": list(data.classes),
            "source": source or {}}
    save_state(out / CHECKPOINT, {"config": config.to_dict(), "meta": meta,
                                  "generator": G.state_dict()})
    atomic_write(out / "config.yaml", yaml.safe_dump(
        {**config.to_dict(), **meta, "train_seconds": round(seconds, 1)},
        sort_keys=False).encode())
    with torch.no_grad():
        show = data.images[:8].to(device)
        made = attack(show)
    # Rows: original, perturbation (stretched to the full grey range), adversarial.
    save_grid(torch.cat([show, (made - show) / (SCALE * budget.eps), made]),
              out / "samples.png", nrow=8, scale=2)
    return attack


def load_advgan(run_dir: str | Path, device: str = "auto") -> tuple[AdvGAN, dict[str, Any]]:
    """The AdvGAN of a run directory (eval mode) and its metadata (classes, source)."""
    state = load_run_state(run_dir, CHECKPOINT, "gankit attack train-advgan CLASSIFIER_RUN")
    config = AdvGANConfig(**state["config"])
    meta = state["meta"]
    G = ResNetTranslator(meta["image_shape"][0], config.width, config.blocks)
    G.load_state_dict(state["generator"])
    attack = AdvGAN(G, config.budget, config.target).to(select_device(device)).eval()
    for p in attack.parameters():
        p.requires_grad_(False)
    return attack, {**meta, "config": config.to_dict()}
