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

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import yaml
from torch import nn

from gankit.data import ImageDataset
from gankit.device import select_device
from gankit.distributed import init_distributed, wrap
from gankit.errors import GankitError
from gankit.imaging import save_grid
from gankit.io import atomic_write, load_run_state, save_state
from gankit.models.image2image import PatchDiscriminator, ResNetTranslator, UNet
from gankit.registry import Registry
from gankit.train.batches import BatchStream
from gankit.translate.domains import load_pair

CHECKPOINT = "translator.safetensors"
METHODS: Registry[bool] = Registry("translation method")  # name -> needs paired data
METHODS.add("cyclegan", False, "unpaired: two generators, cycle consistency (Zhu et al. 2017)")
METHODS.add("pix2pix", True, "paired: U-Net, patch discriminator, L1 (Isola et al. 2017)")
DIRECTIONS = ("a2b", "b2a")


@dataclass(frozen=True)
class TranslateConfig:
    a: str = "fashion-mnist"
    b: str = "fashion-mnist@low-light"
    method: str = "cyclegan"
    data_root: str | None = None
    image_size: int | None = None
    steps: int = 4000
    batch_size: int = 32
    lr: float = 2e-4
    width: int = 16
    blocks: int = 4
    cycle_weight: float = 10.0
    identity_weight: float = 0.5  # times cycle_weight (cyclegan)
    l1_weight: float = 100.0  # pix2pix
    seed: int = 0
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def cycle_loss(g_ab: nn.Module, g_ba: nn.Module, a: torch.Tensor,
               b: torch.Tensor) -> torch.Tensor:
    """L1 between each image and its round trip through the other domain."""
    return F.l1_loss(g_ba(g_ab(a)), a) + F.l1_loss(g_ab(g_ba(b)), b)


def _lsgan(logits: torch.Tensor, real: bool) -> torch.Tensor:
    return ((logits - (1.0 if real else 0.0)) ** 2).mean()


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


def train_translator(config: TranslateConfig, out: str | Path, *,
                     data: tuple[ImageDataset, ImageDataset] | None = None,
                     progress: bool = True) -> Translator:
    """Train into OUT (translator.safetensors, config.yaml, samples.png, losses.jsonl);
    under torchrun with DDP, each rank on its share of every batch, rank 0 writing."""
    from tqdm import tqdm

    out = Path(out)
    if (out / CHECKPOINT).exists():
        raise GankitError(f"{out} already holds a translator; choose another --out")
    paired = METHODS.get(config.method)
    a, b = data or load_pair(config.a, config.b, paired=paired, root=config.data_root,
                             image_size=config.image_size, seed=config.seed)
    if paired and len(a) != len(b):
        raise GankitError("a paired method needs as many B images as A images, row by row")
    where, device = init_distributed(config.device)
    torch.manual_seed(config.seed)
    model = Translator(config.method, a.image_shape, config.width, config.blocks).to(device)
    c = a.image_shape[0]
    discriminators = nn.ModuleList(
        [PatchDiscriminator(2 * c)] if paired else [PatchDiscriminator(c), PatchDiscriminator(c)]
    ).to(device)
    opt_g = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminators.parameters(), lr=config.lr, betas=(0.5, 0.999))
    stream_a = BatchStream(len(a), min(config.batch_size, len(a)), config.seed, where.rank,
                           where.world_size)
    stream_b = BatchStream(len(b), min(config.batch_size, len(b)), config.seed + 1,
                           where.rank, where.world_size)
    # The updates go through DDP under torchrun; `model` keeps the plain networks.
    nets = [wrap(net, where, device) for net in (model.g_ab, model.g_ba, *discriminators)
            if net is not None]
    step_fn = _pix2pix_step if paired else _cyclegan_step
    log, started = [], time.monotonic()
    for step in tqdm(range(config.steps), disable=not (progress and where.is_main),
                     desc=config.method, unit="step"):
        index = stream_a.next()
        batch_a = a.images[index].to(device)
        # Paired data: B's rows match A's; unpaired: an independent batch of B.
        batch_b = b.images[index if paired else stream_b.next()].to(device)
        losses = step_fn(nets, opt_g, opt_d, batch_a, batch_b, config)
        if step % 100 == 0 or step == config.steps - 1:
            log.append({"step": step, **losses})
    seconds = time.monotonic() - started
    model.eval()
    if not where.is_main:
        return model
    out.mkdir(parents=True, exist_ok=True)
    meta = {"image_shape": list(a.image_shape), "a": a.name, "b": b.name,
            "train_images": [len(a), len(b)], "steps": config.steps}
    save_state(out / CHECKPOINT, {"config": config.to_dict(), "meta": meta,
                                  "weights": model.state_dict()})
    atomic_write(out / "config.yaml", yaml.safe_dump(
        {**config.to_dict(), **meta, "train_seconds": round(seconds, 1),
         "images_per_s": round(config.steps * config.batch_size / max(seconds, 1e-9), 1)},
        sort_keys=False).encode())
    atomic_write(out / "losses.jsonl", "".join(json.dumps(row) + "\n" for row in log).encode())
    rows = [a.images[:8], model.translate(a.images[:8], "a2b")]
    if not paired:
        rows += [b.images[:8], model.translate(b.images[:8], "b2a")]
    save_grid(torch.cat(rows), out / "samples.png", nrow=8, scale=2)
    return model


def _cyclegan_step(nets: list[nn.Module], opt_g, opt_d, a: torch.Tensor, b: torch.Tensor,
                   config: TranslateConfig) -> dict[str, float]:
    g_ab, g_ba, d_a, d_b = nets
    fake_b, fake_a = g_ab(a), g_ba(b)
    loss_gan = _lsgan(d_b(fake_b), True) + _lsgan(d_a(fake_a), True)
    loss_cycle = F.l1_loss(g_ba(fake_b), a) + F.l1_loss(g_ab(fake_a), b)
    loss_g = loss_gan + config.cycle_weight * loss_cycle
    if config.identity_weight > 0:
        identity = F.l1_loss(g_ab(b), b) + F.l1_loss(g_ba(a), a)
        loss_g = loss_g + config.identity_weight * config.cycle_weight * identity
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    loss_d = 0.5 * (_lsgan(d_b(b), True) + _lsgan(d_b(fake_b.detach()), False)
                    + _lsgan(d_a(a), True) + _lsgan(d_a(fake_a.detach()), False))
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    return {"g": loss_g.item(), "d": loss_d.item(), "cycle": loss_cycle.item()}


def _pix2pix_step(nets: list[nn.Module], opt_g, opt_d, a: torch.Tensor, b: torch.Tensor,
                  config: TranslateConfig) -> dict[str, float]:
    g_ab, d = nets
    fake = g_ab(a)
    loss_d = (F.softplus(-d(torch.cat([a, b], dim=1))).mean()
              + F.softplus(d(torch.cat([a, fake.detach()], dim=1))).mean())
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    l1 = F.l1_loss(fake, b)
    loss_g = F.softplus(-d(torch.cat([a, fake], dim=1))).mean() + config.l1_weight * l1
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return {"g": loss_g.item(), "d": loss_d.item(), "l1": l1.item()}


def load_translator(run_dir: str | Path, device: str = "auto") -> tuple[Translator, dict]:
    """The translator of a run directory (eval mode) and its metadata (domains, shape)."""
    state = load_run_state(run_dir, CHECKPOINT, "gankit translate train")
    config = TranslateConfig(**state["config"])
    meta = state["meta"]
    model = Translator(config.method, tuple(meta["image_shape"]), config.width, config.blocks)
    model.load_state_dict(state["weights"])
    return model.to(select_device(device)).eval(), {**meta, "config": config.to_dict()}
