"""A completion GAN trained for the task: a context encoder (Pathak et al. 2016, "Context
Encoders: Feature Learning by Inpainting") with a U-Net generator (Ronneberger et al. 2015)
and a patch discriminator, as in pix2pix (Isola et al. 2017). G sees the masked image and the
mask; the loss is the mean squared error over the hole (Pathak et al.'s L2 reconstruction loss)
plus `adv_weight` times the non-saturating GAN loss on the completed image. `adv_weight=0` is
the L2-only ablation.

Masks are drawn fresh for every batch from all of gankit's kinds, so one model serves them all.
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

from gankit.data import ImageDataset, load_dataset
from gankit.device import select_device
from gankit.distributed import init_distributed, wrap
from gankit.errors import GankitError
from gankit.imaging import save_grid
from gankit.inpaint.baselines import paste
from gankit.inpaint.masks import MASK_KINDS, make_masks
from gankit.io import atomic_write, load_run_state, save_state
from gankit.models.image2image import PatchDiscriminator, UNet
from gankit.train.batches import BatchStream

CHECKPOINT = "completion.safetensors"


class CompletionUNet(UNet):
    """(masked image, mask) -> image in [-1, 1]: a U-Net that sees the mask as one more
    input channel."""

    def __init__(self, image_shape: tuple[int, int, int], width: int = 32) -> None:
        super().__init__(image_shape[0] + 1, image_shape[0], width)
        self.image_shape = tuple(image_shape)

    def forward(self, masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return super().forward(torch.cat([masked, mask], dim=1))


@dataclass(frozen=True)
class CompletionConfig:
    data: str = "fashion-mnist"
    data_root: str | None = None
    width: int = 32
    steps: int = 3000
    batch_size: int = 64
    lr: float = 2e-4
    adv_weight: float = 0.01  # 0 = reconstruction only (the ablation)
    seed: int = 0
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def random_masks(n: int, h: int, w: int, gen: torch.Generator) -> torch.Tensor:
    """A batch mixing every mask kind, so the model learns them all."""
    kinds = torch.randint(len(MASK_KINDS), (n,), generator=gen)
    seed = int(torch.randint(2**31 - 1, (1,), generator=gen))
    masks = torch.stack([make_masks(k, n, h, w, seed=seed) for k in MASK_KINDS])
    return masks[kinds, torch.arange(n)]


def train_completion(config: CompletionConfig, out: str | Path, *,
                     data: ImageDataset | None = None, progress: bool = True) -> Path:
    """Train the completion GAN into OUT (completion.safetensors, config.yaml, samples.png);
    under torchrun with DDP, each rank on its share of every batch, rank 0 writing."""
    from tqdm import tqdm

    out = Path(out)
    if (out / CHECKPOINT).exists():
        raise GankitError(f"{out} already holds a completion model; choose another --out")
    where, device = init_distributed(config.device)
    data = data or load_dataset(config.data, "train", root=config.data_root)
    c, h, w = data.image_shape
    torch.manual_seed(config.seed)
    G = CompletionUNet((c, h, w), config.width).to(device)
    D = PatchDiscriminator(c + 1, config.width).to(device)  # sees the mask too
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=(0.5, 0.999))
    G_step, D_step = wrap(G, where, device), wrap(D, where, device)
    batches = BatchStream(len(data), config.batch_size, config.seed, where.rank,
                          where.world_size)
    gen = torch.Generator().manual_seed(config.seed + 1 + where.rank)
    started = time.monotonic()
    for _ in tqdm(range(config.steps), disable=not (progress and where.is_main),
                  desc="completion", unit="step"):
        real = data.images[batches.next()]
        mask = random_masks(len(real), h, w, gen)
        real, mask = real.to(device), mask.to(device)
        masked = real * (1 - mask)
        filled = paste(masked, G_step(masked, mask), mask)
        if config.adv_weight > 0:
            loss_d = (F.softplus(-D_step(torch.cat([real, mask], dim=1))).mean()
                      + F.softplus(D_step(torch.cat([filled.detach(), mask], dim=1))).mean())
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        loss_g = ((filled - real) ** 2 * mask).sum() / mask.sum().clamp(min=1) / c
        if config.adv_weight > 0:
            fake_logits = D_step(torch.cat([filled, mask], dim=1))
            loss_g = loss_g + config.adv_weight * F.softplus(-fake_logits).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
    seconds = time.monotonic() - started
    if not where.is_main:
        return out
    out.mkdir(parents=True, exist_ok=True)
    save_state(out / CHECKPOINT, {"config": config.to_dict(), "image_shape": [c, h, w],
                                  "generator": G.state_dict(), "steps": config.steps})
    atomic_write(out / "config.yaml", yaml.safe_dump(
        {**config.to_dict(), "image_shape": [c, h, w], "train_seconds": round(seconds, 1)},
        sort_keys=False).encode())
    G.eval()
    with torch.no_grad():
        show = data.images[:8].to(device)
        mask = make_masks("center", 8, h, w).to(device)
        done = paste(show * (1 - mask), G(show * (1 - mask), mask), mask)
    save_grid(torch.cat([show * (1 - mask), done, show]), out / "samples.png", nrow=8, scale=2)
    return out


def load_completion(run_dir: str | Path, device: str = "auto") -> CompletionUNet:
    state = load_run_state(run_dir, CHECKPOINT, "gankit inpaint train")
    config = CompletionConfig(**state["config"])
    G = CompletionUNet(tuple(state["image_shape"]), config.width)
    G.load_state_dict(state["generator"])
    return G.to(select_device(device)).eval()


@torch.no_grad()
def complete_cgan(model: CompletionUNet, images: torch.Tensor,
                  mask: torch.Tensor) -> torch.Tensor:
    device = next(model.parameters()).device
    masked = images * (1 - mask)
    filled = model(masked.to(device), mask.to(device)).to(images.device)
    return paste(images, filled, mask)
