"""Latent directions: SeFa and GANSpace change a trained generator more than random directions,
the class-crossing measure, image statistics, and `gankit explore` end to end."""

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from gankit.cli import main
from gankit.explore import (
    describe,
    ganspace_directions,
    image_stats,
    random_directions,
    sefa_directions,
    walk,
)
from gankit.train import GANTrainer, load_generator, make_config


@pytest.fixture(scope="module")
def digits_gan(tmp_path_factory):
    run = tmp_path_factory.mktemp("explore") / "run"
    config = make_config({"data": "digits", "model": "dcgan", "steps": 150, "batch_size": 32,
                          "width": 8, "z_dim": 16, "log_every": 50, "sample_every": 1000})
    GANTrainer(config, run, progress=False, tensorboard=False).fit()
    return run


def _change(generator, directions, z, alphas):
    return torch.tensor([describe(walk(generator, z, None, d, alphas), _argmax_zero, 0.9)
                         ["change"] for d in directions])


def _argmax_zero(images):
    return torch.zeros(len(images), 2)


def test_sefa_and_ganspace_change_the_images_more_than_random_directions(digits_gan):
    generator = load_generator(digits_gan, device="cpu").generator
    z = torch.randn(16, generator.z_dim, generator=torch.Generator().manual_seed(0))
    alphas = torch.linspace(-2, 2, 5)
    random = _change(generator, random_directions(generator.z_dim, 5, seed=1), z, alphas)
    sefa, values = sefa_directions(generator, 5)
    ganspace, explained = ganspace_directions(generator, 5, samples=500)
    assert torch.allclose(sefa.norm(dim=1), torch.ones(5), atol=1e-5)
    assert torch.allclose(ganspace.norm(dim=1), torch.ones(5), atol=1e-5)
    assert (values[:-1] >= values[1:]).all() and (explained[:-1] >= explained[1:]).all()
    assert _change(generator, sefa, z, alphas).mean() > 1.2 * random.mean()
    assert _change(generator, ganspace, z, alphas).mean() > 1.2 * random.mean()


class _Sign(nn.Module):
    """A generator whose image is bright or dark by the sign of z[0]; z[1] does nothing."""

    z_dim, num_classes = 2, 0

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 1, bias=False))
        with torch.no_grad():
            self.body[0].weight.copy_(torch.tensor([[1.0, 0.0]]))

    def forward(self, z, labels=None):
        return torch.tanh(4 * self.body(z)).view(-1, 1, 1, 1).expand(-1, 1, 4, 4)


def test_class_crossing_is_zero_for_a_direction_that_cannot_change_the_class():
    generator = _Sign()

    def by_brightness(images):  # class 1 for bright images, class 0 for dark ones
        mean = images.flatten(1).mean(dim=1)
        return torch.stack([-mean, mean], dim=1)

    z = torch.tensor([[0.5, 0.0], [-0.5, 1.0], [1.0, -1.0]])
    alphas = torch.linspace(-3, 3, 7)
    idle = describe(walk(generator, z, None, torch.tensor([0.0, 1.0]), alphas), by_brightness,
                    0.9)
    assert idle["class_kept"] == 1.0 and idle["crossed_into"] is None and idle["change"] == 0
    assert idle["keeps_class"]
    flipping = describe(walk(generator, z, None, torch.tensor([1.0, 0.0]), alphas),
                        by_brightness, 0.9)
    assert flipping["class_kept"] < 0.8 and not flipping["keeps_class"]
    assert flipping["stat_change"]["brightness"] > 0.9  # dark at -3, bright at +3


def test_sefa_finds_the_only_direction_the_first_layer_sees():
    directions, values = sefa_directions(_Sign(), 2)
    assert torch.allclose(directions[0].abs(), torch.tensor([1.0, 0.0]))
    assert values[1] == pytest.approx(0.0, abs=1e-6)


def test_image_stats_measure_brightness_ink_centre_and_width():
    images = -torch.ones(2, 1, 8, 8)
    images[0, :, :, 1:3] = 1.0  # a bar two pixels wide at x = 1..2
    images[1, :, :, 4:8] = 1.0  # four pixels wide at x = 4..7
    stats = image_stats(images)
    assert stats["brightness"].tolist() == pytest.approx([0.25, 0.5])
    assert stats["ink"].tolist() == pytest.approx([0.25, 0.5])
    assert stats["centre_x"].tolist() == pytest.approx([1.5, 5.5])
    assert stats["centre_y"].tolist() == pytest.approx([3.5, 3.5])
    assert stats["width"][1] > stats["width"][0]


def test_explore_command_end_to_end(digits_gan, cache_home, capsys):
    assert main(["explore", str(digits_gan), "--k", "3", "--seeds", "4", "--steps", "5",
                 "--no-progress"]) == 0
    out = digits_gan / "explore"
    result = json.loads((out / "explore.json").read_text())
    assert set(result["methods"]) == {"sefa", "ganspace"}
    for found in result["methods"].values():
        assert len(found["directions"]) == 3 and 0 <= found["share_keep_class_and_change"] <= 1
        assert Path(found["strip_png"]).is_file()
    printed = capsys.readouterr().out
    assert "keep the class while changing the image" in printed and "wrote" in printed
    assert main(["report", str(digits_gan)]) == 0
    page = (digits_gan / "report.html").read_text()
    assert "Latent directions" in page and "sefa" in page


def test_attributions_add_up_and_the_ink_share_says_where_they_fall():
    pytest.importorskip("captum")
    from gankit.saliency import attribute, ink_share

    weights = torch.zeros(1, 4, 4)
    weights[0, :2] = 1.0  # the score reads only the top half of the image
    images = -torch.ones(3, 1, 4, 4)
    images[:, :, :2] = 1.0  # ink on the top half

    def score(x):
        return (x * weights).flatten(1).sum(dim=1)

    maps = attribute(score, images)
    # Integrated gradients are complete: they sum to score(x) - score(baseline).
    total = maps["integrated_gradients"].flatten(1).sum(dim=1)
    assert torch.allclose(total, score(images) - score(-torch.ones_like(images)), atol=1e-4)
    assert ink_share(maps["integrated_gradients"], images) == pytest.approx(1.0)
    images[:, :, :2], images[:, :, 2:] = -1.0, 1.0  # the ink moves where the score is blind
    assert ink_share(attribute(score, images)["grad_x_input"], images) == pytest.approx(0.0)


def test_saliency_command_end_to_end(digits_gan, cache_home, capsys):
    pytest.importorskip("captum")
    assert main(["saliency", str(digits_gan), "--n", "4", "--no-progress"]) == 0
    result = json.loads((digits_gan / "saliency" / "saliency.json").read_text())
    assert len(result["ink_share"]) == 8  # real/generated x D/recogniser x two methods
    assert all(0 <= v <= 1 for v in result["ink_share"].values())
    assert (digits_gan / "saliency" / "saliency.png").is_file()
    assert "share of each network's attribution on the ink" in capsys.readouterr().out
    assert main(["report", str(digits_gan)]) == 0
    assert "<h3>Saliency</h3>" in (digits_gan / "report.html").read_text()
