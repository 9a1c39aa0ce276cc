"""A completion GAN trained for the task: a context encoder (Pathak et al. 2016, "Context
Encoders: Feature Learning by Inpainting") with a U-Net generator (Ronneberger et al. 2015)
and a patch discriminator, as in pix2pix (Isola et al. 2017). G sees the masked image and the
mask; the loss is the mean squared error over the hole (Pathak et al.'s L2 reconstruction loss)
plus `adv_weight` times the non-saturating GAN loss on the completed image. The default is
`adv_weight=0`, L2 alone (docs/design.md says by which rule), which builds no discriminator;
a positive weight adds the GAN term and trains one. `adv_warmup` trains on the reconstruction
loss alone for that share of the steps before the adversarial term joins, as Iizuka et al.
2017 ("Globally and Locally Consistent Image Completion") do; the discriminator learns from
the start. With `noise`, G also sees a channel of Gaussian noise inside the hole, so that one
masked image can be completed in several ways (an L2-only model learns to ignore it).

Masks are drawn fresh for every batch from all of gankit's kinds, so one model serves them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gankit.data import ImageDataset, load_dataset
from gankit.device import select_device
from gankit.distributed import Dist, init_distributed
from gankit.imaging import save_grid
from gankit.inpaint.baselines import paste
from gankit.inpaint.masks import MASK_KINDS, make_masks
from gankit.losses import LOSSES
from gankit.models.image2image import PatchDiscriminator, UNet
from gankit.options import AppTrainingConfig, option, seed_option
from gankit.train.batches import BatchStream
from gankit.train.method_run import GeneratorVsDiscriminator, load_run_weights, train_run
from gankit.train.speed import critic_module, resolve, step_module


class CompletionUNet(UNet):
    """(masked image, mask[, noise]) -> image in [-1, 1]: a U-Net that sees the mask (and,
    with `noise`, a noise channel zero outside the hole) as more input channels."""

    def __init__(self, image_shape: tuple[int, int, int], width: int = 32,
                 noise: bool = False) -> None:
        super().__init__(image_shape[0] + 1 + int(noise), image_shape[0], width)
        self.image_shape, self.noise = tuple(image_shape), noise

    def forward(self, masked: torch.Tensor, mask: torch.Tensor,
                noise: torch.Tensor | None = None) -> torch.Tensor:
        inputs = [masked, mask]
        if self.noise:
            if noise is None:
                raise ValueError("this completion model takes a noise channel")
            inputs.append(noise * mask)
        return super().forward(torch.cat(inputs, dim=1))


@dataclass(frozen=True)
class CompletionConfig(AppTrainingConfig):
    data: str = option("dataset to learn from (gankit data lists them)", "fashion-mnist")
    data_root: str | None = option("where the dataset lives (default: its standard place)")
    width: int = option("base channels of the U-Net and the discriminator", 32, low=1, high=512)
    steps: int = option("updates to train for", 3000, low=1, high=10**9)
    batch_size: int = option("images per batch", 64, low=1, high=8192)
    lr: float = option("Adam learning rate of both networks", 2e-4, above=0, high=1)
    adv_weight: float = option("weight of the adversarial loss (0 = reconstruction only, "
                               "the default; 0.01 and 0.1 were benchmarked)", 0.0, low=0,
                               high=1e4)
    adv_warmup: float = option("share of the steps trained on the reconstruction loss alone "
                               "before the adversarial term joins", 0.0, low=0, high=1)
    noise: bool = option("feed G a noise channel inside the hole, so that fills can differ "
                         "between draws", False)
    seed: int = seed_option("seed of the weights, batches and masks")


def random_masks(n: int, h: int, w: int, gen: torch.Generator) -> torch.Tensor:
    """A batch mixing every mask kind, so the model learns them all."""
    kinds = torch.randint(len(MASK_KINDS), (n,), generator=gen)
    seed = int(torch.randint(2**31 - 1, (1,), generator=gen))
    masks = torch.stack([make_masks(k, n, h, w, seed=seed) for k in MASK_KINDS])
    return masks[kinds, torch.arange(n)]


class CompletionMethod(GeneratorVsDiscriminator):
    """The completion GAN's update on the one loop: a D step on (image, mask) pairs, then a G
    step on the hole's L2 plus `adv_weight` times the non-saturating GAN loss; with
    `adv_weight` 0, the G step alone and no D."""

    def __init__(self, config: CompletionConfig, data: ImageDataset, where: Dist,
                 device: torch.device) -> None:
        self.config, self.data, self.where, self.device = config, data, where, device
        c, _, _ = data.image_shape
        torch.manual_seed(config.seed)
        self.G = CompletionUNet(data.image_shape, config.width, config.noise).to(device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr, betas=(0.5, 0.999))
        self.speed = resolve(device, amp=config.amp, compile=config.compile)
        self.G_step = step_module(self.G, where, device, self.speed)
        self.D = self.opt_d = self.D_step = self.D_critic = None
        if config.adv_weight > 0:
            self.D = PatchDiscriminator(c + 1, config.width).to(device)  # sees the mask too
            self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=(0.5, 0.999))
            self.D_step = step_module(self.D, where, device, self.speed)
            self.D_critic = critic_module(self.D, device, self.speed)  # for G's update
        self.batches = BatchStream(len(data), config.batch_size, config.seed, where.rank,
                                   where.world_size)
        # One mask stream for the global batch, each rank taking its share: a resumed run
        # (which restores rank 0's stream everywhere) draws what an unbroken one would.
        self.masks = torch.Generator().manual_seed(config.seed + 1)
        self.loss = LOSSES.get("nonsaturating")
        self.step = 0

    def train_step(self) -> dict[str, torch.Tensor]:
        cfg, (c, h, w) = self.config, self.data.image_shape
        real = self.data.images[self.batches.next()].to(self.device)
        mask = random_masks(cfg.batch_size, h, w, self.masks)
        mask = mask[self.where.rank :: self.where.world_size].to(self.device)
        masked = real * (1 - mask)
        noise = (torch.randn(mask.shape, generator=self.masks).to(self.device)
                 if cfg.noise else None)
        filled = paste(masked, self.G_step(masked, mask, noise), mask)
        scalars = {}
        adversarial = self.D_critic is not None and self.step >= cfg.adv_warmup * cfg.steps
        if self.D_step is not None and self.opt_d is not None:
            loss_d = self.loss.discriminator(self.D_step(torch.cat([real, mask], dim=1)),
                                             self.D_step(torch.cat([filled.detach(), mask], 1)))
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            scalars["loss_d"] = loss_d.detach()
        l2 = ((filled - real) ** 2 * mask).sum() / mask.sum().clamp(min=1) / c
        loss_g = l2
        if adversarial:
            fake_logits = self.D_critic(torch.cat([filled, mask], dim=1))
            loss_g = loss_g + cfg.adv_weight * self.loss.generator(fake_logits)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return {**scalars, "loss_g": loss_g.detach(), "l2": l2.detach()}

    def extra_state(self) -> dict[str, Any]:
        return {"masks": self.masks.get_state()}

    def load_extra_state(self, training: dict[str, Any]) -> None:
        self.masks.set_state(training["masks"])


def train_completion(config: CompletionConfig, out: str | Path, *,
                     data: ImageDataset | None = None, progress: bool = True) -> Path:
    """Train the completion GAN into OUT (completion.safetensors, run.json, config.yaml,
    metrics.jsonl, samples.png), or continue the unfinished run OUT holds; under torchrun
    with DDP, each rank on its share of every batch, rank 0 writing."""
    out = Path(out)
    where, device = init_distributed(config.device)
    data = data or load_dataset(config.data, "train", root=config.data_root)
    method = CompletionMethod(config, data, where, device)
    meta = {"image_shape": list(data.image_shape)}
    train_run(method, "completion", out, config, meta, where, device, progress=progress,
              hint="try a lower --lr or --adv-weight")
    if not where.is_main:
        return out
    G, (_, h, w) = method.G.eval(), data.image_shape
    with torch.no_grad():
        show = data.images[:8].to(device)
        mask = make_masks("center", 8, h, w).to(device)
        done = complete_cgan(G, show, mask)
    save_grid(torch.cat([show * (1 - mask), done, show]), out / "samples.png", nrow=8, scale=2)
    return out


def load_completion(run_dir: str | Path, device: str = "auto") -> CompletionUNet:
    state = load_run_weights(run_dir, "completion")
    config = CompletionConfig(**state["config"])
    G = CompletionUNet(tuple(state["meta"]["image_shape"]), config.width, config.noise)
    G.load_state_dict(state["weights"]["generator"])
    return G.to(select_device(device)).eval()


@torch.no_grad()
def complete_cgan(model: CompletionUNet, images: torch.Tensor, mask: torch.Tensor,
                  seed: int = 0) -> torch.Tensor:
    """Fill the holes of `images`; a model with a noise channel draws it from `seed`, so
    another seed gives another completion."""
    device = next(model.parameters()).device
    masked = images * (1 - mask)
    noise = (torch.randn(mask.shape, generator=torch.Generator().manual_seed(seed))
             if model.noise else None)
    filled = model(masked.to(device), mask.to(device),
                   None if noise is None else noise.to(device)).to(images.device)
    return paste(images, filled, mask)
