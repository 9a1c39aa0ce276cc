"""Scores on feature sets. torchmetrics does the FID, KID and IS maths; precision/recall and
memorisation are computed here.

Each function takes features (N, D) already extracted, so features are computed once and
can be cached (the reference set's pass through Inception is the slow part).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn


def _quietly(metric_class: type, **kwargs):
    # KID and IS keep every feature in memory by design; torchmetrics warns about it each time.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Metric `.*` will save all extracted")
        return metric_class(**kwargs)


class _Precomputed(nn.Module):
    """Hands already-extracted features to torchmetrics in place of its network."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to the two feature sets
    (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule ...")."""
    from torchmetrics.image.fid import FrechetInceptionDistance  # slow import: only when used

    metric = FrechetInceptionDistance(feature=_Precomputed(real.shape[1]))
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return float(metric.compute())


def kid(real: torch.Tensor, fake: torch.Tensor, *, subsets: int = 100,
        subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Unbiased squared MMD with the cubic polynomial kernel, mean and std over random subsets
    (Binkowski et al. 2018, "Demystifying MMD GANs")."""
    size = min(subset_size, len(real), len(fake))
    from torchmetrics.image.kid import KernelInceptionDistance

    metric = _quietly(KernelInceptionDistance, feature=_Precomputed(real.shape[1]),
                      subsets=subsets, subset_size=size)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    with torch.random.fork_rng():  # torchmetrics draws the subsets from the global RNG
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def inception_score(logits: torch.Tensor, *, splits: int = 10,
                    seed: int = 0) -> tuple[float, float]:
    """exp E_x KL(p(y|x) || p(y)), mean and std over splits (Salimans et al. 2016)."""
    from torchmetrics.image.inception import InceptionScore

    metric = _quietly(InceptionScore, feature=_Precomputed(logits.shape[1]), splits=splits)
    metric.update(logits.double())
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def _kth_neighbour_radius(features: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    radii = []
    for i in range(0, len(features), chunk):
        d = torch.cdist(features[i : i + chunk], features)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # +1: the point itself is at 0
    return torch.cat(radii)


def _inside_any_ball(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                     chunk: int) -> torch.Tensor:
    inside = []
    for i in range(0, len(points), chunk):
        d = torch.cdist(points[i : i + chunk], centres)
        inside.append((d <= radii.unsqueeze(0)).any(dim=1))
    return torch.cat(inside)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, *, k: int = 3,
                     chunk: int = 1000) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): each set's manifold is the
    union of balls reaching each point's k-th nearest neighbour; precision is the share of
    fakes inside the real manifold, recall the share of reals inside the fake one."""
    real, fake = real.double(), fake.double()
    real_radii = _kth_neighbour_radius(real, k, chunk)
    fake_radii = _kth_neighbour_radius(fake, k, chunk)
    precision = _inside_any_ball(fake, real, real_radii, chunk).double().mean()
    recall = _inside_any_ball(real, fake, fake_radii, chunk).double().mean()
    return float(precision), float(recall)


def nearest_neighbours(queries: torch.Tensor, pool: torch.Tensor,
                       chunk: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """L2 distance from each query to its nearest pool item, and that item's index."""
    dists, index = [], []
    for i in range(0, len(queries), chunk):
        d, j = torch.cdist(queries[i : i + chunk], pool).min(dim=1)
        dists.append(d)
        index.append(j)
    return torch.cat(dists), torch.cat(index)
