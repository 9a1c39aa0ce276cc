"""`gankit explore`: directions in a generator's latent space, found without labels and
described by measurement, not by eye.

- SeFa (Shen & Zhou 2021, "Closed-Form Factorization of Latent Semantics in GANs"): the
  eigenvectors of AᵀA for the weight A that first maps z (every gankit generator starts with
  a linear layer), the latent moves that change the first features most.
- GANSpace (Härkönen et al. 2020, "GANSpace: Discovering Interpretable GAN Controls"): the
  principal components of an intermediate layer's activations over random latents, carried
  back to latent directions by linear regression, as the paper does for generators without a
  style space.

Each direction is walked from several latents; what it does is measured with the domain
recogniser (does the walk keep the class or cross into another?) and with image statistics
(brightness, ink area, centre of mass, width). Random unit directions are walked the same way,
as the yardstick for "changes the image".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit.data import load_dataset, to_uint8
from gankit.errors import GankitError
from gankit.io import atomic_write, writable_folder
from gankit.plots import labelled_rows_png


@dataclass(frozen=True)
class ExploreConfig:
    k: int = 10  # directions per method
    seeds: int = 8  # latents each direction is walked from
    steps: int = 7  # points of a walk, from -span to +span
    span: float = 3.0  # in latent standard deviations
    ganspace_samples: int = 2000
    keep_share: float = 0.9  # a walk "keeps the class" where this share of its points do
    seed: int = 0


def _code_weight(generator: nn.Module) -> torch.Tensor:
    """The weight of the generator's first layer on its code: a model's own `code_weight`
    where its first layer is not a plain linear one."""
    if hasattr(generator, "code_weight"):
        return generator.code_weight()
    first = generator.body[0] if hasattr(generator, "body") else None
    if not isinstance(first, nn.Linear):
        raise GankitError("explore needs a generator whose first layer is linear in z (every "
                          "gankit model is); this one is not")
    return first.weight


def sefa_directions(generator: nn.Module, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k unit directions d maximising |A d| (A: the first layer's weight on z), with their
    eigenvalues."""
    a = _code_weight(generator)[:, : generator.z_dim].detach().double()
    values, vectors = torch.linalg.eigh(a.T @ a)
    order = values.argsort(descending=True)[:k]
    return vectors[:, order].T.float(), values[order].float()


def _labels(generator: nn.Module, n: int, gen: torch.Generator) -> torch.Tensor | None:
    if not generator.num_classes:
        return None
    return torch.randint(generator.num_classes, (n,), generator=gen)


def ganspace_directions(generator: nn.Module, k: int, samples: int = 2000,
                        seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """PCA of the activations halfway through the generator's body over `samples` random
    latents; each component's latent direction by least squares from its coordinates to z
    (unit length), with the share of variance each component explains."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, generator.z_dim, generator=gen)
    labels = _labels(generator, samples, gen)
    layer = generator.body[len(generator.body) // 2]
    caught: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda m, i, out: caught.append(out.flatten(1)))
    try:
        with torch.no_grad():
            generator(z, labels)
    finally:
        handle.remove()
    features = caught[0].double()
    centred = features - features.mean(dim=0)
    _, singular, components = torch.linalg.svd(centred, full_matrices=False)
    coordinates = centred @ components[:k].T  # (samples, k)
    directions = torch.linalg.lstsq(coordinates, z.double()).solution  # (k, z_dim)
    directions = directions / directions.norm(dim=1, keepdim=True).clamp(min=1e-12)
    explained = singular[:k] ** 2 / (singular**2).sum()
    return directions.float(), explained.float()


def random_directions(z_dim: int, k: int, seed: int = 0) -> torch.Tensor:
    d = torch.randn(k, z_dim, generator=torch.Generator().manual_seed(seed))
    return d / d.norm(dim=1, keepdim=True)


def walk(generator: nn.Module, z: torch.Tensor, labels: torch.Tensor | None,
         direction: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    """Images (seeds, steps, C, H, W) of z + alpha * direction for every alpha."""
    n, steps = len(z), len(alphas)
    moved = (z[:, None] + alphas[None, :, None] * direction).reshape(n * steps, -1)
    repeated = None if labels is None else labels.repeat_interleave(steps)
    with torch.no_grad():
        images = generator(moved, repeated).float()
    return images.reshape(n, steps, *images.shape[1:])


def image_stats(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per image (any leading shape, then C, H, W in [-1, 1]): mean brightness on [0, 1], ink
    area (share of pixels above mid-grey), centre of mass and width of the ink (in pixels)."""
    lead, (c, h, w) = images.shape[:-3], images.shape[-3:]
    unit = ((images.reshape(-1, c, h, w) + 1) / 2).mean(dim=1)  # (N, H, W)
    mass = unit.sum(dim=(1, 2)).clamp(min=1e-6)
    xs, ys = torch.arange(w, dtype=unit.dtype), torch.arange(h, dtype=unit.dtype)
    cx = (unit.sum(dim=1) * xs).sum(dim=1) / mass
    cy = (unit.sum(dim=2) * ys).sum(dim=1) / mass
    spread = ((unit.sum(dim=1) * (xs - cx[:, None]) ** 2).sum(dim=1) / mass).sqrt()
    stats = {"brightness": unit.mean(dim=(1, 2)), "ink": (unit > 0.5).float().mean(dim=(1, 2)),
             "centre_x": cx, "centre_y": cy, "width": 4 * spread}  # ±2 std: the ink's span
    return {k: v.reshape(lead) for k, v in stats.items()}


def describe(walks: torch.Tensor, classify: Any, keep_share: float) -> dict[str, Any]:
    """What one direction's walks (seeds, steps, C, H, W) did: RMS pixel change of the ends
    from the middle, the share of points whose class is the middle's, the class most often
    crossed into, and each statistic's change from the walk's start to its end."""
    seeds, steps = walks.shape[:2]
    middle = steps // 2
    ends = walks[:, [0, -1]] - walks[:, middle : middle + 1]
    change = float(ends.pow(2).mean().sqrt())
    predicted = classify(walks.flatten(0, 1)).argmax(dim=1).reshape(seeds, steps)
    kept_points = predicted == predicted[:, middle : middle + 1]
    crossed = predicted[~kept_points]
    stats = image_stats(walks)
    return {
        "change": change,
        "class_kept": float(kept_points.float().mean()),
        "keeps_class": bool(kept_points.float().mean() >= keep_share),
        "crossed_into": None if len(crossed) == 0 else int(crossed.mode().values),
        "stat_change": {k: float((v[:, -1] - v[:, 0]).mean()) for k, v in stats.items()},
    }


def explore_run(run_dir: str | Path, out: str | Path | None = None,
                config: ExploreConfig = ExploreConfig(), device: str = "cpu",
                progress: bool = False) -> dict[str, Any]:
    """SeFa and GANSpace directions of a GAN run's (EMA) generator, each walked and measured;
    writes OUT/explore.json and OUT/{sefa,ganspace}.png (default OUT: RUN_DIR/explore)."""
    from gankit.metrics.domain import DomainFeatures
    from gankit.train.rundir import load_generator

    trained = load_generator(run_dir, device=device)
    generator = trained.generator.cpu().eval()
    out = Path(out) if out is not None else Path(run_dir) / "explore"
    writable_folder(out)
    cfg = trained.config
    recogniser = DomainFeatures(
        load_dataset(cfg.data, "train", root=cfg.data_root, image_size=cfg.image_size),
        load_dataset(cfg.data, "test", root=cfg.data_root, image_size=cfg.image_size),
        progress=progress)

    def classify(images: torch.Tensor) -> torch.Tensor:
        return recogniser.logits(to_uint8(images))

    gen = torch.Generator().manual_seed(config.seed + 1)
    z = torch.randn(config.seeds, generator.z_dim, generator=gen)
    labels = _labels(generator, config.seeds, gen)
    alphas = torch.linspace(-config.span, config.span, config.steps)
    k = min(config.k, generator.z_dim)
    found = {"sefa": sefa_directions(generator, k),
             "ganspace": ganspace_directions(generator, k, config.ganspace_samples, config.seed)}
    baseline = [describe(walk(generator, z, labels, d, alphas), classify, config.keep_share)
                for d in random_directions(generator.z_dim, k, config.seed + 2)]
    random_change = float(torch.tensor([b["change"] for b in baseline]).median())
    result: dict[str, Any] = {"run_dir": str(run_dir), "config": asdict(config),
                              "recogniser": recogniser.name,
                              "random_change_median": random_change,
                              "random": baseline, "methods": {}}
    for method, (directions, weights) in found.items():
        walks = [walk(generator, z, labels, d, alphas) for d in directions]
        rows = [{"index": i, "weight": float(w), **describe(x, classify, config.keep_share)}
                for i, (x, w) in enumerate(zip(walks, weights, strict=True))]
        good = [r for r in rows if r["keeps_class"] and r["change"] > random_change]
        result["methods"][method] = {
            "directions": rows, "directions_tensor": directions.tolist(),
            "share_keep_class_and_change": len(good) / len(rows),
            "strip_png": str(labelled_rows_png(
                torch.cat([x[0] for x in walks]), config.steps,
                [f"{method} {i}" for i in range(len(walks))], out / f"{method}.png",
                f"{method}: each row walks one direction from -{config.span:g} to "
                f"+{config.span:g} (latent 0)"))}
    atomic_write(out / "explore.json", json.dumps(result, indent=2).encode())
    return result
