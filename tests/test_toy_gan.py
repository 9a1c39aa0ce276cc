"""The original GAN (mlp nets) really learns: a 2-D ring of 8 Gaussians, in seconds."""

import math

import pytest
import torch

from gankit.data import ImageDataset
from gankit.train import GANTrainer, make_config

RADIUS, SIGMA, MODES = 0.8, 0.05, 8


def _ring(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    mode = torch.randint(MODES, (n,), generator=gen)
    centres = _centres()[mode]
    return centres + SIGMA * torch.randn(n, 2, generator=gen), mode


def _centres() -> torch.Tensor:
    angle = torch.arange(MODES) * (2 * math.pi / MODES)
    return RADIUS * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)


@pytest.mark.parametrize("objective", [
    {"loss": "nonsaturating"},
    {"loss": "relativistic", "r1": 0.05, "r2": 0.05},  # R3GAN's objective (Huang et al. 2024)
    {"loss": "nonsaturating", "reuse_fakes": True},  # G's update on the D update's batch
], ids=["nonsaturating", "relativistic-r1-r2", "nonsaturating-reused-fakes"])
def test_mlp_gan_covers_a_ring_of_eight_gaussians(tmp_path, objective):
    points, mode = _ring(20_000, torch.Generator().manual_seed(0))
    # Each 2-D point is a 1x1 "image" with two channels-worth of pixels: (N, 1, 1, 2).
    data = ImageDataset("ring", "train", points.view(-1, 1, 1, 2), mode,
                        tuple(map(str, range(MODES))))
    config = make_config({"model": "mlp", **objective, "ema": 0.0, "steps": 2000,
                          "batch_size": 256, "lr_g": 1e-3, "lr_d": 1e-3, "log_every": 500,
                          "sample_every": 10**6, "checkpoint_every": 10**6})
    trainer = GANTrainer(config, tmp_path / "ring", data=data, progress=False,
                         tensorboard=False)
    trainer.fit()

    with torch.no_grad():
        z = torch.randn(2000, 100, generator=torch.Generator().manual_seed(1))
        samples = trainer.G.eval()(z).view(-1, 2)
    distance, nearest = torch.cdist(samples, _centres()).min(dim=1)
    good = distance < 3 * SIGMA
    per_mode = torch.bincount(nearest[good], minlength=MODES)
    assert (per_mode >= 20).sum() >= 7, per_mode.tolist()  # at least 7 of 8 modes covered
    assert good.float().mean() > 0.5  # most samples within 3 sigma of a mode
