"""Image-to-image translators and their training.

- cyclegan (Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
  Adversarial Networks"): generators A->B and B->A (ResNet translators), a patch discriminator
  per domain with the least-squares GAN loss, cycle consistency ||G_ba(G_ab(a)) - a||_1
  weighted 10, and the identity loss ||G_ab(b) - b||_1 at half that weight (the paper's
  setting; `identity_weight 0` turns it off). The paper's pool of 50 past fakes is left out:
  on small images the discriminators were stable without it.
- pix2pix (Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial
  Networks"): a U-Net A->B on paired images, a patch discriminator on (input, output) with the
  non-saturating GAN loss, and L1 to the true B weighted 100.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gankit.data import ImageDataset
from gankit.device import select_device
from gankit.distributed import Dist, init_distributed
from gankit.errors import GankitError
from gankit.imaging import save_grid
from gankit.losses import LOSSES
from gankit.models.image2image import PatchDiscriminator, ResNetTranslator, UNet
from gankit.options import AppTrainingConfig, option, seed_option
from gankit.registry import Registry
from gankit.train.batches import BatchStream, batch_within
from gankit.train.method_run import load_run_weights, train_run
from gankit.train.speed import critic_module, resolve, step_module
from gankit.translate.domains import load_pair

METHODS: Registry[bool] = Registry("translation method")  # name -> needs paired data
METHODS.add("cyclegan", False, "unpaired: two generators, cycle consistency (Zhu et al. 2017)")
METHODS.add("pix2pix", True, "paired: U-Net, patch discriminator, L1 (Isola et al. 2017)")
DIRECTIONS = ("a2b", "b2a")


@dataclass(frozen=True)
class TranslateConfig(AppTrainingConfig):
    a: str = option("domain A: DATASET[@TRANSFORM[+TRANSFORM]] (transforms: low-light, "
                    "inverted, blur, thick)", "fashion-mnist")
    b: str = option("domain B, same syntax", "fashion-mnist@low-light")
    method: str = option("translation method", "cyclegan", choices=METHODS)
    data_root: str | None = option("where the datasets live (default: their standard place)")
    image_size: int | None = option("resize both domains to N x N", low=8, high=256)
    steps: int = option("updates to train for", 4000, low=1, high=10**9)
    batch_size: int = option("images per batch", 32, low=1, high=8192)
    lr: float = option("Adam learning rate of all networks", 2e-4, above=0, high=1)
    width: int = option("base channels of the generators", 16, low=1, high=512)
    blocks: int = option("residual blocks of the CycleGAN generators", 4, low=1, high=64)
    cycle_weight: float = option("weight of the cycle-consistency L1 (cyclegan)", 10.0, low=0,
                                 high=1e4)
    identity_weight: float = option("identity loss, times the cycle weight (cyclegan; 0 = off)",
                                    0.5, low=0, high=1e4)
    l1_weight: float = option("weight of the L1 to the true B (pix2pix)", 100.0, low=0, high=1e4)
    seed: int = seed_option("seed of the weights, batches and domain transforms")


def cycle_loss(g_ab: nn.Module, g_ba: nn.Module, a: torch.Tensor, b: torch.Tensor,
               fake_b: torch.Tensor | None = None,
               fake_a: torch.Tensor | None = None) -> torch.Tensor:
    """L1 between each image and its round trip through the other domain (the translations
    `fake_b` = g_ab(a) and `fake_a` = g_ba(b) are reused when the caller has them)."""
    fake_b = g_ab(a) if fake_b is None else fake_b
    fake_a = g_ba(b) if fake_a is None else fake_a
    return F.l1_loss(g_ba(fake_b), a) + F.l1_loss(g_ab(fake_a), b)


class Translator(nn.Module):
    """A trained translator: `a2b` always, `b2a` for CycleGAN."""

    def __init__(self, method: str, image_shape: tuple[int, int, int], width: int,
                 blocks: int) -> None:
        super().__init__()
        self.method, self.image_shape = method, tuple(image_shape)
        c = image_shape[0]
        if METHODS.get(method):  # paired
            self.g_ab: nn.Module = UNet(c, c, 2 * width)
            self.g_ba: nn.Module | None = None
        else:
            self.g_ab = ResNetTranslator(c, width, blocks)
            self.g_ba = ResNetTranslator(c, width, blocks)

    def translate(self, images: torch.Tensor, direction: str = "a2b",
                  batch_size: int = 500) -> torch.Tensor:
        if direction not in DIRECTIONS:
            raise GankitError(f"unknown direction {direction!r}; choose one of: "
                              f"{', '.join(DIRECTIONS)}")
        net = self.g_ab if direction == "a2b" else self.g_ba
        if net is None:
            raise GankitError(f"a {self.method} translator only goes a2b; train cyclegan for "
                              "both directions")
        if tuple(images.shape[1:]) != self.image_shape:
            raise GankitError(f"this translator takes {self.image_shape} images, not "
                              f"{tuple(images.shape[1:])}")
        device = next(self.parameters()).device
        with torch.no_grad():
            return torch.cat([net(images[i : i + batch_size].to(device)).cpu()
                              for i in range(0, len(images), batch_size)])


class TranslatorMethod:
    """One translation update on the one loop: a batch of A and one of B (paired: the same
    rows), then `cyclegan`'s or `pix2pix`'s G and D steps."""

    def __init__(self, config: TranslateConfig, a: ImageDataset, b: ImageDataset,
                 where: Dist, device: torch.device) -> None:
        self.config, self.a, self.b, self.device = config, a, b, device
        self.paired = METHODS.get(config.method)
        torch.manual_seed(config.seed)
        self.model = Translator(config.method, a.image_shape, config.width,
                                config.blocks).to(device)
        c = a.image_shape[0]
        self.discriminators = nn.ModuleList(
            [PatchDiscriminator(2 * c)] if self.paired
            else [PatchDiscriminator(c), PatchDiscriminator(c)]).to(device)
        self.opt_g = torch.optim.Adam(self.model.parameters(), lr=config.lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.discriminators.parameters(), lr=config.lr,
                                      betas=(0.5, 0.999))
        self.stream_a = BatchStream(len(a), batch_within(config.batch_size, len(a), a.name),
                                    config.seed, where.rank, where.world_size)
        self.stream_b = BatchStream(len(b), batch_within(config.batch_size, len(b), b.name),
                                    config.seed + 1, where.rank, where.world_size)
        # The updates go through DDP under torchrun; `model` keeps the plain networks.
        self.speed = resolve(device, amp=config.amp, compile=config.compile)
        self.nets = [step_module(net, where, device, self.speed) for net in
                     (self.model.g_ab, self.model.g_ba, *self.discriminators) if net is not None]
        self.critics = [critic_module(d, device, self.speed) for d in self.discriminators]
        self.loss = LOSSES.get("nonsaturating" if self.paired else "least-squares")
        self.step = 0

    def train_step(self) -> dict[str, torch.Tensor]:
        index = self.stream_a.next()
        a = self.a.images[index].to(self.device)
        # Paired data: B's rows match A's; unpaired: an independent batch of B.
        b = self.b.images[index if self.paired else self.stream_b.next()].to(self.device)
        return self._pix2pix(a, b) if self.paired else self._cyclegan(a, b)

    def _cyclegan(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg, (g_ab, g_ba, d_a, d_b), (critic_a, critic_b) = self.config, self.nets, self.critics
        fake_b, fake_a = g_ab(a), g_ba(b)
        loss_gan = self.loss.generator(critic_b(fake_b)) + self.loss.generator(critic_a(fake_a))
        loss_cycle = cycle_loss(g_ab, g_ba, a, b, fake_b, fake_a)
        loss_g = loss_gan + cfg.cycle_weight * loss_cycle
        if cfg.identity_weight > 0:
            identity = F.l1_loss(g_ab(b), b) + F.l1_loss(g_ba(a), a)
            loss_g = loss_g + cfg.identity_weight * cfg.cycle_weight * identity
        self._update(self.opt_g, loss_g)
        loss_d = 0.5 * (self.loss.discriminator(d_b(b), d_b(fake_b.detach()))
                        + self.loss.discriminator(d_a(a), d_a(fake_a.detach())))
        self._update(self.opt_d, loss_d)
        return {"g": loss_g.detach(), "d": loss_d.detach(), "cycle": loss_cycle.detach()}

    def _pix2pix(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        (g_ab, d), (critic,) = self.nets, self.critics
        fake = g_ab(a)
        loss_d = self.loss.discriminator(d(torch.cat([a, b], dim=1)),
                                         d(torch.cat([a, fake.detach()], dim=1)))
        self._update(self.opt_d, loss_d)
        l1 = F.l1_loss(fake, b)
        loss_g = (self.loss.generator(critic(torch.cat([a, fake], dim=1)))
                  + self.config.l1_weight * l1)
        self._update(self.opt_g, loss_g)
        return {"g": loss_g.detach(), "d": loss_d.detach(), "l1": l1.detach()}

    @staticmethod
    def _update(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def weights(self) -> dict[str, Any]:
        return {"translator": self.model.state_dict()}

    def optimizers(self) -> tuple[torch.optim.Optimizer, ...]:
        return self.opt_g, self.opt_d

    def training_state(self) -> dict[str, Any]:
        return {"discriminators": self.discriminators.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "batches_drawn": [self.stream_a.drawn, self.stream_b.drawn]}

    def load(self, weights: dict[str, Any], training: dict[str, Any]) -> None:
        self.model.load_state_dict(weights["translator"])
        self.discriminators.load_state_dict(training["discriminators"])
        self.opt_g.load_state_dict(training["opt_g"])
        self.opt_d.load_state_dict(training["opt_d"])
        self.stream_a.drawn, self.stream_b.drawn = map(int, training["batches_drawn"])


def train_translator(config: TranslateConfig, out: str | Path, *,
                     data: tuple[ImageDataset, ImageDataset] | None = None,
                     progress: bool = True) -> Translator:
    """Train into OUT (translator.safetensors, run.json, config.yaml, metrics.jsonl,
    samples.png), or continue the unfinished run OUT holds; under torchrun with DDP, each
    rank on its share of every batch, rank 0 writing."""
    out = Path(out)
    paired = METHODS.get(config.method)
    a, b = data or load_pair(config.a, config.b, paired=paired, root=config.data_root,
                             image_size=config.image_size, seed=config.seed)
    if paired and len(a) != len(b):
        raise GankitError("a paired method needs as many B images as A images, row by row")
    where, device = init_distributed(config.device)
    method = TranslatorMethod(config, a, b, where, device)
    meta = {"image_shape": list(a.image_shape), "a": a.name, "b": b.name,
            "train_images": [len(a), len(b)]}
    train_run(method, "translator", out, config, meta, where, device, progress=progress,
              hint="try a lower --lr")
    model = method.model.eval()
    if not where.is_main:
        return model
    rows = [a.images[:8], model.translate(a.images[:8], "a2b")]
    if not paired:
        rows += [b.images[:8], model.translate(b.images[:8], "b2a")]
    save_grid(torch.cat(rows), out / "samples.png", nrow=8, scale=2)
    return model


def load_translator(run_dir: str | Path, device: str = "auto") -> tuple[Translator, dict]:
    """The translator of a run directory (eval mode) and its metadata (domains, shape)."""
    state = load_run_weights(run_dir, "translator")
    config = TranslateConfig(**state["config"])
    meta = state["meta"]
    model = Translator(config.method, tuple(meta["image_shape"]), config.width, config.blocks)
    model.load_state_dict(state["weights"]["translator"])
    return (model.to(select_device(device)).eval(),
            {**meta, "steps": state["step"], "config": config.to_dict()})
