"""Score maths, each checked against a closed form or an independent implementation."""

import numpy as np
import pytest
import torch
from scipy import linalg

from gankit.metrics import scores


def _gaussian(n: int, mean: np.ndarray, std: np.ndarray, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.normal(mean, std, size=(n, len(mean))))


def _fid_scipy(a: np.ndarray, b: np.ndarray) -> float:
    """Textbook FID with scipy's matrix square root, independent of torchmetrics."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def test_fid_of_a_feature_set_with_itself_is_zero():
    x = torch.randn(500, 64, generator=torch.Generator().manual_seed(0))
    assert abs(scores.fid(x, x)) < 1e-6


def test_fid_matches_an_independent_implementation():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(400, 16)) @ rng.normal(size=(16, 16))
    b = rng.normal(0.3, 1.5, size=(300, 16)) @ rng.normal(size=(16, 16))
    ours = scores.fid(torch.from_numpy(a), torch.from_numpy(b))
    assert ours == pytest.approx(_fid_scipy(a, b), rel=1e-6)


def test_fid_between_two_gaussians_matches_the_closed_form():
    # Diagonal covariances: FID = |mu1 - mu2|^2 + sum(s1^2 + s2^2 - 2 s1 s2).
    mu1, s1 = np.zeros(6), np.ones(6)
    mu2, s2 = np.full(6, 0.5), np.array([0.5, 1.0, 1.5, 2.0, 1.0, 0.8])
    closed_form = ((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum()
    estimate = scores.fid(_gaussian(40_000, mu1, s1, 0), _gaussian(40_000, mu2, s2, 1))
    assert estimate == pytest.approx(closed_form, rel=0.03)


def _kid_numpy(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, written out from Binkowski et al. 2018."""
    d, m = x.shape[1], len(x)
    k_xx, k_yy, k_xy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
    off_diagonal = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(off_diagonal - 2 * k_xy.mean())


def test_kid_matches_an_independent_implementation():
    x, y = _gaussian(200, np.zeros(8), np.ones(8), 0), _gaussian(200, np.ones(8), np.ones(8), 1)
    # One subset of the whole set: the subset draw is a permutation, which MMD ignores.
    mean, _ = scores.kid(x, y, subsets=1, subset_size=200)
    assert mean == pytest.approx(_kid_numpy(x.numpy(), y.numpy()), rel=1e-6)


def test_kid_is_unbiased_near_zero_for_one_distribution_and_positive_when_shifted():
    same_a = _gaussian(1000, np.zeros(16), np.ones(16), 0)
    same_b = _gaussian(1000, np.zeros(16), np.ones(16), 1)
    shifted = _gaussian(1000, np.full(16, 0.5), np.ones(16), 2)
    mean_same, std_same = scores.kid(same_a, same_b, subsets=20, subset_size=300)
    mean_shift, std_shift = scores.kid(same_a, shifted, subsets=20, subset_size=300)
    assert abs(mean_same) < 3 * std_same + 1e-4
    assert mean_shift > 10 * std_shift and mean_shift > 20 * abs(mean_same)


def test_kid_subsets_are_reproducible_by_seed():
    x, y = torch.randn(300, 8), torch.randn(300, 8) + 0.2
    assert scores.kid(x, y, subset_size=100, seed=3) == scores.kid(x, y, subset_size=100, seed=3)


def _precision_recall_brute_force(real: np.ndarray, fake: np.ndarray, k: int):
    def radii(points):
        d = np.linalg.norm(points[:, None] - points[None], axis=-1)
        return np.sort(d, axis=1)[:, k]

    def share_inside(points, centres, r):
        d = np.linalg.norm(points[:, None] - centres[None], axis=-1)
        return np.mean([(d[i] <= r).any() for i in range(len(points))])

    return share_inside(fake, real, radii(real)), share_inside(real, fake, radii(fake))


def test_precision_recall_match_brute_force_with_chunking():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(120, 5))
    fake = rng.normal(0.8, 0.5, size=(90, 5))
    expected = _precision_recall_brute_force(real, fake, k=3)
    got = scores.precision_recall(torch.from_numpy(real), torch.from_numpy(fake), k=3, chunk=17)
    assert got == pytest.approx(expected)
    assert 0 < got[0] < 1 and 0 < got[1] < 1  # the case is not degenerate


def test_precision_recall_see_a_dropped_mode():
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0], [10.0, 0.0]])
    real = np.concatenate([rng.normal(c, 0.3, size=(200, 2)) for c in centres])
    fake = rng.normal(centres[0], 0.3, size=(400, 2))  # one of the two modes only
    precision, recall = scores.precision_recall(torch.from_numpy(real), torch.from_numpy(fake))
    assert precision > 0.9 and 0.4 < recall < 0.6


def test_inception_score_bounds():
    k = 10
    confident_and_diverse = torch.eye(k).repeat(2000, 1) * 50.0
    one_class = torch.zeros(500, k)
    one_class[:, 0] = 50.0
    mean, std = scores.inception_score(confident_and_diverse, splits=2)
    assert mean == pytest.approx(k, rel=2e-3) and mean < k  # random splits: nearly uniform
    assert scores.inception_score(one_class, splits=5)[0] == pytest.approx(1.0, abs=1e-3)


def test_nearest_neighbours_match_brute_force():
    queries, pool = torch.randn(37, 6), torch.randn(53, 6)
    dist, index = scores.nearest_neighbours(queries, pool, chunk=10)
    full = torch.cdist(queries, pool)
    assert torch.equal(index, full.argmin(dim=1))
    assert torch.allclose(dist, full.min(dim=1).values)
