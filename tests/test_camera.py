"""The camera's degradations (gankit.camera) and the camera model fitted to unlabelled degraded
images (gankit.translate.fitted)."""

import pytest
import torch

from gankit import camera
from gankit.data import load_dataset
from gankit.translate import load_domain
from gankit.translate.fitted import CameraModel, fit_camera, fitted_copies, statistics


def test_blur_is_a_normalised_symmetric_gaussian_per_image():
    impulse = torch.zeros(2, 1, 9, 9)
    impulse[:, 0, 4, 4] = 1
    blurred = camera.blur(impulse, torch.tensor([1.0, 0.3]))
    assert torch.allclose(blurred.sum(dim=(1, 2, 3)), torch.ones(2), atol=1e-5)
    wide, narrow = blurred[0, 0], blurred[1, 0]
    assert wide[4, 4] < 0.2 < 0.9 < narrow[4, 4]  # sigma 0.3 keeps nearly all at the centre
    assert torch.allclose(wide, wide.T) and torch.allclose(wide, wide.flip(0))


def test_expose_is_gain_times_a_gamma_curve_with_one_value_per_image():
    x = torch.rand(3, 1, 4, 4)
    assert torch.allclose(camera.expose(x, 0.5, 2.0), 0.5 * x ** 2)
    per_image = camera.expose(x, torch.tensor([1.0, 0.5, 0.25]), torch.tensor([1.0, 1.0, 3.0]))
    assert torch.allclose(per_image[0], x[0]) and torch.allclose(per_image[1], 0.5 * x[1])
    assert torch.allclose(per_image[2], 0.25 * x[2] ** 3)


def test_sensor_noise_has_poisson_gaussian_variance():
    x = torch.full((200_000,), 0.5)
    noisy = camera.sensor_noise(x, 100.0, 0.05, torch.Generator().manual_seed(0))
    assert abs(noisy.mean().item() - 0.5) < 1e-3
    assert noisy.var().item() == pytest.approx(0.5 / 100 + 0.05 ** 2, rel=0.03)


def test_fitted_camera_recovers_a_blur_and_matches_a_low_light_domain():
    clean = load_dataset("digits", "train").images
    blurred = load_domain("digits@blur", "train", seed=3).images
    model, distance = fit_camera(clean, blurred)
    assert model.blur == pytest.approx(1.0, abs=0.15)  # the domain's sigma
    identity = CameraModel(blur=0.05, gain=1.0, gamma=1.0, photons=1e5, read=0.0)

    def gap(m: CameraModel, target: torch.Tensor) -> float:
        got = statistics(m.apply(clean, torch.Generator().manual_seed(0)))
        return sum(float((g - w).abs().mean()) for g, w in zip(got, statistics(target),
                                                                 strict=True))

    assert distance < 0.2 and gap(model, blurred) < 0.3 * gap(identity, blurred)
    dark = load_domain("digits@low-light", "train", seed=3).images
    copies, fitted = fitted_copies(clean, dark)
    assert copies.shape == clean.shape and copies.min() >= -1 and copies.max() <= 1
    assert fitted.gain < 0.5  # the darkening is found from unlabelled images alone
    assert copies.mean().item() == pytest.approx(dark.mean().item(), abs=0.03)
    assert gap(fitted, dark) < 0.3 * gap(identity, dark)
    again, _ = fitted_copies(clean, dark)
    assert torch.equal(copies, again)  # one seed, one result
