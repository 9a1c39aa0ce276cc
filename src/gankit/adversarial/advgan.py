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

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gankit.adversarial.attacks import NORMS, SCALE, Budget
from gankit.data import ImageDataset
from gankit.device import select_device
from gankit.distributed import Dist, init_distributed
from gankit.errors import GankitError
from gankit.imaging import save_grid
from gankit.losses import LOSSES
from gankit.models.dcgan import DCGANDiscriminator
from gankit.models.image2image import ResNetTranslator
from gankit.options import AppTrainingConfig, option, seed_option
from gankit.train.batches import BatchStream, batch_within
from gankit.train.method_run import GeneratorVsDiscriminator, load_run_weights, train_run
from gankit.train.speed import critic_module, resolve, step_module


@dataclass(frozen=True)
class AdvGANConfig(AppTrainingConfig):
    eps: float = option("perturbation budget on the [0, 1] pixel scale", 0.1, above=0, high=1)
    norm: str = option("norm of the budget", "linf", choices=NORMS)
    target: int | None = option("target class index (default: untargeted)", low=0, high=10_000)
    steps: int = option("updates to train for", 2000, low=1, high=10**9)
    batch_size: int = option("images per batch", 128, low=1, high=8192)
    lr: float = option("Adam learning rate of both networks", 1e-3, above=0, high=1)
    width: int = option("base channels of the perturbation generator", 16, low=1, high=512)
    blocks: int = option("residual blocks of the perturbation generator", 4, low=1, high=64)
    adv_weight: float = option("weight of the C&W margin loss", 10.0, low=0, high=1e4)
    gan_weight: float = option("weight of the least-squares GAN loss", 1.0, low=0, high=1e4)
    hinge_weight: float = option("weight of the perturbation-size hinge", 1.0, low=0, high=1e4)
    hinge_bound: float = option("L2 size (on the [0, 1] scale) the hinge allows; the L-inf "
                                "ball's corner is 2.8 at eps 0.1", 2.0, above=0, high=1e4)
    confidence: float = option("logit margin the margin loss asks for (kappa of C&W)", 2.0,
                               low=0, high=1e4)
    seed: int = seed_option("seed of the weights and batches")

    @property
    def budget(self) -> Budget:
        return Budget(self.eps, self.norm)


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


class AdvGANMethod(GeneratorVsDiscriminator):
    """One AdvGAN update on the one loop: a least-squares D step on real against perturbed
    images, then a G step on the margin, GAN and hinge losses."""

    def __init__(self, classifier: nn.Module, data: ImageDataset, config: AdvGANConfig,
                 where: Dist, device: torch.device) -> None:
        self.config, self.data, self.device = config, data, device
        torch.manual_seed(config.seed)
        self.classifier = classifier.to(device).eval()
        for p in self.classifier.parameters():
            p.requires_grad_(False)
        self.G = ResNetTranslator(data.image_shape[0], config.width, config.blocks).to(device)
        self.D = DCGANDiscriminator(data.image_shape, 0, 32).to(device)
        self.attack = AdvGAN(self.G, config.budget, config.target)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=(0.5, 0.999))
        batch_size = batch_within(config.batch_size, len(data), data.name)
        self.batches = BatchStream(len(data), batch_size, config.seed, where.rank,
                                   where.world_size)
        # Under torchrun the updates go through DDP; the attack keeps the plain generator.
        self.speed = resolve(device, amp=config.amp, compile=config.compile)
        self.attack_step = AdvGAN(step_module(self.G, where, device, self.speed), config.budget,
                                  config.target)
        self.D_step = step_module(self.D, where, device, self.speed)
        self.D_critic = critic_module(self.D, device, self.speed)  # for G's update
        self.loss = LOSSES.get("least-squares")
        self.step = 0

    def train_step(self) -> dict[str, torch.Tensor]:
        cfg = self.config
        index = self.batches.next()
        images = self.data.images[index].to(self.device)
        labels = self.data.labels[index].to(self.device)
        adversarial = self.attack_step(images)
        loss_d = self.loss.discriminator(self.D_step(images), self.D_step(adversarial.detach()))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        delta = (adversarial - images) / SCALE  # on the [0, 1] scale, like the hinge bound
        hinge = (delta.flatten(1).norm(dim=1) - cfg.hinge_bound).clamp(min=0).mean()
        margin = margin_loss(self.classifier(adversarial), labels, cfg.target,
                             cfg.confidence).mean()
        loss_g = (cfg.adv_weight * margin
                  + cfg.gan_weight * self.loss.generator(self.D_critic(adversarial))
                  + cfg.hinge_weight * hinge)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(),
                "margin": margin.detach(), "hinge": hinge.detach()}


def train_advgan(classifier: nn.Module, data: ImageDataset, config: AdvGANConfig,
                 out: str | Path, *, source: dict[str, Any] | None = None,
                 progress: bool = True) -> AdvGAN:
    """Train an AdvGAN against `classifier` on `data` into OUT (advgan.safetensors, run.json,
    config.yaml, metrics.jsonl, samples.png), or continue the unfinished run OUT holds;
    `source` (e.g. the recogniser's run) is recorded with it. Under torchrun with DDP, each
    rank on its share of every batch, rank 0 writing."""
    out = Path(out)
    budget = config.budget
    budget.check(data.image_shape)
    check_target(config.target, data.num_classes)
    where, device = init_distributed(config.device)
    method = AdvGANMethod(classifier, data, config, where, device)
    meta = {"image_shape": list(data.image_shape), "classes": list(data.classes),
            "source": source or {}}
    train_run(method, "advgan", out, config, meta, where, device, progress=progress,
              hint="try a lower --lr")
    attack = method.attack.eval()
    if not where.is_main:
        return attack
    with torch.no_grad():
        show = data.images[:8].to(device)
        made = attack(show)
    # Rows: original, perturbation (stretched to the full grey range), adversarial.
    save_grid(torch.cat([show, (made - show) / (SCALE * budget.eps), made]),
              out / "samples.png", nrow=8, scale=2)
    return attack


def load_advgan(run_dir: str | Path, device: str = "auto") -> tuple[AdvGAN, dict[str, Any]]:
    """The AdvGAN of a run directory (eval mode) and its metadata (classes, source)."""
    state = load_run_weights(run_dir, "advgan")
    config = AdvGANConfig(**state["config"])
    meta = state["meta"]
    G = ResNetTranslator(meta["image_shape"][0], config.width, config.blocks)
    G.load_state_dict(state["weights"]["generator"])
    attack = AdvGAN(G, config.budget, config.target).to(select_device(device)).eval()
    for p in attack.parameters():
        p.requires_grad_(False)
    return attack, {**meta, "config": config.to_dict()}
