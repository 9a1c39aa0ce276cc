"""`gankit saliency`: where a GAN's discriminator and the domain recogniser look, on real and
on generated images, with Captum's attributions: gradient × input (Shrikumar et al. 2016)
and integrated gradients (Sundararajan et al. 2017, from a black image).

Beside the maps, one number says where each network looks: the share of its absolute
attribution that falls on the ink (pixels brighter than mid-grey) rather than the background.
A discriminator that judges generated images by their background, or a recogniser that reads
them differently from real ones, shows up there before it shows up in a score.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit.data import load_dataset, to_float
from gankit.extras import require
from gankit.io import atomic_write, writable_folder
from gankit.plots import labelled_rows_png
from gankit.sampling import generate


class _Score(nn.Module):
    """One scalar a network gives an image: what the attribution explains."""

    def __init__(self, score: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.score = score

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.score(images)


def attribute(score: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
              steps: int = 32) -> dict[str, torch.Tensor]:
    """Both attributions of `score` (images -> (N,)) at `images`, each (N, C, H, W)."""
    attr = require("captum.attr", "explain")
    model = _Score(score)
    inputs = images.detach().clone().requires_grad_(True)
    black = -torch.ones_like(images)
    return {
        "grad_x_input": attr.InputXGradient(model).attribute(inputs).detach(),
        "integrated_gradients": attr.IntegratedGradients(model).attribute(
            inputs, baselines=black, n_steps=steps).detach()}


def ink_share(attribution: torch.Tensor, images: torch.Tensor) -> float:
    """The share of absolute attribution on pixels brighter than mid-grey."""
    mass = attribution.abs().sum(dim=1)
    ink = (images.mean(dim=1) > 0).float()
    return float((mass * ink).sum() / mass.sum().clamp(min=1e-12))


def saliency_run(run_dir: str | Path, out: str | Path | None = None, *, n: int = 8,
                 seed: int = 0, device: str = "cpu", progress: bool = False) -> dict[str, Any]:
    """Attributions of the run's discriminator (its logit) and of the domain recogniser (the
    predicted class's logit) on `n` real test images and `n` generated ones; writes
    OUT/saliency.json and OUT/saliency.png (default OUT: RUN_DIR/saliency)."""
    from gankit.metrics.domain import DomainFeatures
    from gankit.train.rundir import load_gan

    trained, discriminator = load_gan(run_dir, device=device)
    generator, discriminator = trained.generator.cpu().eval(), discriminator.cpu().eval()
    cfg = trained.config
    train = load_dataset(cfg.data, "train", root=cfg.data_root, image_size=cfg.image_size)
    test = load_dataset(cfg.data, "test", root=cfg.data_root, image_size=cfg.image_size)
    recogniser = DomainFeatures(train, test, progress=progress).model.cpu().eval()
    fake, fake_labels = generate(generator, n, seed=seed)
    sets = {"real": (test.images[:n], test.labels[:n] if generator.num_classes else None),
            "generated": (to_float(fake), fake_labels)}
    out = Path(out) if out is not None else Path(run_dir) / "saliency"
    writable_folder(out)
    result: dict[str, Any] = {"run_dir": str(run_dir), "n": n, "seed": seed, "ink_share": {}}
    rows, names = [], []
    for kind, (images, labels) in sets.items():
        predicted = recogniser(images).argmax(dim=1)
        scores = {
            "discriminator": lambda x, y=labels: discriminator(x, y),
            "recogniser": lambda x, p=predicted: recogniser(x).gather(1, p[:, None]).squeeze(1)}
        rows.append(images)
        names.append(f"{kind}")
        for network, score in scores.items():
            maps = attribute(score, images)
            for method, m in maps.items():
                result["ink_share"][f"{kind}/{network}/{method}"] = ink_share(m, images)
                rows.append(_as_image(m))
                names.append(f"{network[:5]} {'IG' if method.startswith('int') else 'g×i'}")
        result.setdefault("recogniser_reads", {})[kind] = [test.classes[i] for i in predicted]
    result["png"] = str(labelled_rows_png(torch.cat(rows), n, names, out / "saliency.png",
                                          "where each network looks (brighter: more)"))
    atomic_write(out / "saliency.json", json.dumps(result, indent=2).encode())
    return result


def _as_image(attribution: torch.Tensor) -> torch.Tensor:
    """|attribution| per pixel, each map scaled to [-1, 1] for display."""
    mass = attribution.abs().sum(dim=1, keepdim=True)
    top = mass.flatten(1).amax(dim=1).clamp(min=1e-12).view(-1, 1, 1, 1)
    grey = mass / top * 2 - 1
    return grey.expand(-1, attribution.shape[1], -1, -1)
