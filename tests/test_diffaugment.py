"""DiffAugment's transforms: what they change, that gradients pass, and bad policies."""

import pytest
import torch

from gankit.errors import GankitError
from gankit.train import make_config
from gankit.train.diffaugment import color, cutout, diff_augment, parse_policy, translation


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_translation_moves_each_image_by_at_most_an_eighth():
    x = torch.zeros(200, 1, 16, 16)
    x[:, 0, 8, 8] = 1.0
    moved = translation(x, _gen())
    positions = torch.nonzero(moved[:, 0] == 1.0)[:, 1:]
    assert len(positions) == 200  # a centre pixel stays inside after a <= 2 pixel move
    offsets = positions - 8
    assert offsets.abs().max() == 2 and len({tuple(o) for o in offsets.tolist()}) == 25


def test_cutout_blanks_a_half_side_square():
    x = torch.ones(100, 3, 16, 16)
    out = cutout(x, _gen())
    blanked = (out == 0).all(dim=1).flatten(1).sum(dim=1)
    assert blanked.max() == 64 and blanked.min() >= 16  # 8x8, partly outside at the borders
    assert torch.all((out == 0) | (out == 1))


def test_color_keeps_grayscale_gray_and_changes_brightness_and_contrast():
    x = torch.rand(50, 1, 8, 8, generator=_gen(1)) * 2 - 1
    out = color(x, _gen())
    assert out.shape == x.shape and not torch.allclose(out.mean(dim=(1, 2, 3)),
                                                       x.mean(dim=(1, 2, 3)))
    rgb = x.expand(-1, 3, -1, -1)
    out_rgb = color(rgb, _gen())
    assert torch.allclose(out_rgb[:, 0], out_rgb[:, 1])  # equal channels stay equal


def test_gradients_flow_through_every_transform():
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    diff_augment(x, parse_policy("color,translation,cutout"), _gen()).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_seeded_and_empty_policies():
    x = torch.rand(8, 1, 16, 16)
    transforms = parse_policy("translation,cutout")
    assert torch.equal(diff_augment(x, transforms, _gen(3)), diff_augment(x, transforms, _gen(3)))
    assert parse_policy("") == []


def test_an_unknown_transform_lists_the_choices():
    with pytest.raises(GankitError, match="unknown DiffAugment transform 'mixup'.*cutout"):
        make_config({"diffaugment": "color,mixup"})


def test_flip_mirrors_about_half_the_images_and_passes_gradients():
    x = torch.rand(400, 1, 8, 8, requires_grad=True)
    out = diff_augment(x, parse_policy("flip"), _gen())
    pairs = list(zip(out, x.detach(), strict=True))
    mirrored = torch.tensor([torch.equal(o, i.flip(-1)) for o, i in pairs])
    kept = torch.tensor([torch.equal(o, i) for o, i in pairs])
    assert torch.all(mirrored ^ kept) and 150 < int(mirrored.sum()) < 250
    out.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))
