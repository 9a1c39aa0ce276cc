import math

import pytest
import torch
from torch import nn

from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.losses import (
    LOSSES,
    gradient_penalty,
    minimax_value,
    mode_seeking_penalty,
    r1_penalty,
    r2_penalty,
)
from gankit.train import GANTrainer, make_config


def test_minimax_value_at_d_equal_half_is_minus_two_log_two():
    zeros = torch.zeros(16)
    assert minimax_value(zeros, zeros).item() == pytest.approx(-2 * math.log(2), abs=1e-7)
    # D ascends V, so its loss is -V.
    assert LOSSES.get("minimax").discriminator(zeros, zeros).item() == pytest.approx(
        2 * math.log(2), abs=1e-7)


def test_minimax_generator_loss_is_the_second_term_of_v():
    fake = torch.tensor([-2.0, 0.5, 3.0])
    d = torch.sigmoid(fake)
    assert LOSSES.get("minimax").generator(fake).item() == pytest.approx(
        torch.log(1 - d).mean().item(), rel=1e-6)
    assert LOSSES.get("nonsaturating").generator(fake).item() == pytest.approx(
        -torch.log(d).mean().item(), rel=1e-6)


def _generator_grad(name: str, logit: float) -> float:
    fake = torch.tensor([logit], requires_grad=True)
    LOSSES.get(name).generator(fake).backward()
    return fake.grad.item()


def test_saturating_loss_vanishes_where_nonsaturating_does_not():
    # D(G(z)) = sigmoid(-10) ~ 5e-5: D confidently rejects the fakes, as early in training.
    saturating, nonsaturating = _generator_grad("minimax", -10.0), _generator_grad(
        "nonsaturating", -10.0)
    assert abs(saturating) < 1e-4
    assert abs(nonsaturating) > 0.99
    # Both push the logit up (gradient descent on a negative gradient raises it).
    assert saturating < 0 and nonsaturating < 0


def test_hinge_and_wasserstein_values():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    hinge = LOSSES.get("hinge")
    assert hinge.discriminator(real, fake).item() == pytest.approx((0 + 0.5) / 2 + (0 + 1) / 2)
    assert hinge.generator(fake).item() == pytest.approx(1.0)
    wgan = LOSSES.get("wasserstein")
    assert wgan.discriminator(real, fake).item() == pytest.approx(-1.0 - 1.25)
    assert wgan.gradient_penalty == 10.0


class _Linear(nn.Module):
    """D(x) = <w, x>: its input gradient is w everywhere."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x, labels=None):
        return (x.flatten(1) * self.w).sum(1)


def test_penalties_match_closed_form_for_a_linear_discriminator():
    w = torch.tensor([3.0, 4.0, 0.0, 0.0])  # |w| = 5
    d = _Linear(w)
    real, fake = torch.randn(8, 1, 2, 2), torch.randn(8, 1, 2, 2)
    assert gradient_penalty(d, real, fake).item() == pytest.approx((5 - 1) ** 2)
    assert r1_penalty(d, real).item() == pytest.approx(25.0)
    assert r2_penalty(d, fake).item() == pytest.approx(25.0)


def test_relativistic_pairing_values_and_gradients():
    loss = LOSSES.get("relativistic")
    same = torch.zeros(4)
    assert loss.discriminator(same, same).item() == pytest.approx(math.log(2))
    assert loss.generator(same, same).item() == pytest.approx(math.log(2))
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0])
    # pairs (2, 0) and (0, 1): softplus(fake - real) averaged over the pairs
    expected = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(1.0))) / 2
    assert loss.discriminator(real, fake).item() == pytest.approx(expected)
    fake = fake.clone().requires_grad_(True)
    loss.generator(fake, real).backward()
    assert (fake.grad < 0).all()  # G gains by raising its fakes' logits past their pairs
    with pytest.raises(ValueError, match="pairs G's fakes with real logits"):
        loss.generator(fake)


def test_unknown_loss_lists_choices():
    with pytest.raises(GankitError, match="unknown loss 'lsgan'.*minimax, nonsaturating, hinge"):
        LOSSES.get("lsgan")


def test_mode_seeking_penalty_is_latent_distance_over_image_distance():
    z_a, z_b = torch.zeros(4, 10), torch.full((4, 10), 2.0)  # mean |dz| = 2
    images_a, images_b = torch.zeros(4, 1, 3, 3), torch.full((4, 1, 3, 3), 0.5)  # mean |dx| = 0.5
    assert mode_seeking_penalty(images_a, images_b, z_a, z_b).item() == pytest.approx(4.0, rel=1e-4)
    collapsed = mode_seeking_penalty(images_a, images_a, z_a, z_b).item()
    assert collapsed == pytest.approx(1e5)  # identical images: the largest penalty, 1 / eps


def _within_class_spread(mode_seeking: float, tmp_path) -> float:
    data = load_dataset("digits", "train")
    config = make_config({"model": "mlp", "width": 32, "conditional": True, "ema": 0.0,
                          "steps": 200, "batch_size": 32, "mode_seeking": mode_seeking,
                          "log_every": 1000, "sample_every": 10**6, "checkpoint_every": 10**6})
    trainer = GANTrainer(config, tmp_path / f"ms{mode_seeking}", data=data, progress=False,
                         tensorboard=False)
    trainer.fit()
    z = torch.randn(64, config.z_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        images = trainer.G.eval()(z, torch.zeros(64, dtype=torch.long))
    return images.std(dim=0).mean().item()


def test_mode_seeking_spreads_the_samples_of_one_class(tmp_path):
    assert _within_class_spread(1.0, tmp_path) > 2 * _within_class_spread(0.0, tmp_path)


def test_top_k_training_keeps_the_samples_d_rates_most_real_on_a_decaying_schedule(
        tmp_path, tiny_images):
    config = make_config({"model": "mlp", "top_k": 0.5, "batch_size": 32, "steps": 3,
                          "ema": 0.0, "sample_every": 10**6, "checkpoint_every": 10**6})
    trainer = GANTrainer(config, tmp_path / "topk", data=tiny_images, progress=False,
                         tensorboard=False)
    assert trainer.top_k_kept(32) == 32  # no epoch seen yet: the whole batch
    trainer.step = 30  # 10 epochs of 96 images in batches of 32: 0.99 ** 10 of the batch
    assert trainer.top_k_kept(32) == round(0.99**10 * 32) == 29
    trainer.step = 3000  # far past the floor
    assert trainer.top_k_kept(32) == 16

    seen, given = [], []
    trainer.D.register_forward_hook(lambda module, inputs, output: seen.append(output))
    generator_loss = trainer.loss.generator

    def recording(fake_logits, real_logits=None):
        given.append(fake_logits.detach())
        return generator_loss(fake_logits, real_logits)

    trainer.loss = type("Recorded", (), {
        "discriminator": trainer.loss.discriminator, "generator": staticmethod(recording),
        "gradient_penalty": 0.0, "relativistic": False})()
    trainer.train_step()
    scores = seen[-1].detach().float().flatten()  # D's pass for G's update is its last
    torch.testing.assert_close(given[-1].flatten().sort().values,
                               scores.topk(16).values.sort().values)
