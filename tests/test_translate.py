"""Image-to-image translation: domain transforms, A/B data, classical corrections, CycleGAN and
pix2pix training, `gankit translate`."""

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from gankit.cli import main
from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.translate import (
    TRANSFORMS,
    Domain,
    TranslateConfig,
    correct,
    cycle_loss,
    load_pair,
    load_translator,
    parse_correction,
    train_translator,
)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train").images


def _unit(images):
    return (images + 1) / 2


def test_each_transform_is_seeded_and_does_what_it_says(digits):
    for name in TRANSFORMS:
        domain = Domain.parse(f"digits@{name}")
        assert torch.equal(domain.apply(digits, seed=3), domain.apply(digits, seed=3)), name
        out = domain.apply(digits, seed=3)
        assert out.shape == digits.shape and out.min() >= -1 and out.max() <= 1, name

    dark = Domain.parse("digits@low-light")
    low = dark.apply(digits, seed=0)
    assert _unit(low).mean() < 0.5 * _unit(digits).mean()  # darker
    assert _unit(low).std() < 0.5 * _unit(digits).std()  # less contrast
    assert not torch.equal(low, dark.apply(digits, seed=1))  # the noise follows the seed

    assert torch.equal(Domain.parse("digits@inverted").apply(digits), -digits)
    blurred = Domain.parse("digits@blur").apply(digits)
    assert blurred.diff(dim=-1).abs().mean() < 0.7 * digits.diff(dim=-1).abs().mean()
    thick = Domain.parse("digits@thick").apply(digits)
    assert (thick > 0).sum() > 1.3 * (digits > 0).sum() and torch.all(thick >= digits)

    chained = Domain.parse("digits@inverted+thick")
    assert chained.transforms == ("inverted", "thick") and str(chained) == "digits@inverted+thick"
    assert torch.equal(chained.apply(digits), Domain.parse("digits@thick").apply(-digits))


def test_unknown_transforms_and_bad_domains_are_explained():
    with pytest.raises(GankitError, match="unknown domain transform 'sepia'; choose one of: "
                                          "low-light, inverted, blur, thick"):
        Domain.parse("digits@sepia")
    with pytest.raises(GankitError, match="names no dataset"):
        Domain.parse("@blur")


def test_unpaired_domains_come_from_disjoint_halves(digits):
    a, b = load_pair("digits", "digits@inverted", paired=False, seed=0)
    assert len(a) + len(b) == len(digits) and abs(len(a) - len(b)) <= 1
    originals_of_b = {tuple(row) for row in (-b.images).flatten(1).tolist()}
    assert not any(tuple(row) in originals_of_b for row in a.images.flatten(1).tolist())
    assert a.name == "digits" and b.name == "digits@inverted"

    pa, pb = load_pair("digits", "digits@inverted", paired=True)
    assert torch.equal(pb.images, -pa.images)  # paired: row i is the same image in both


def test_paired_methods_refuse_unpaired_data_and_sizes_must_match(tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((16, 16), 40 * i, dtype=np.uint8)).save(folder / f"{i}.png")
    with pytest.raises(GankitError, match="a paired method needs pairs"):
        load_pair("digits", f"folder:{folder}", paired=True)
    with pytest.raises(GankitError, match=r"has \(1, 8, 8\) images but .* pass --image-size"):
        load_pair("digits", f"folder:{folder}", paired=False)
    a, b = load_pair("digits", f"folder:{folder}", paired=False, image_size=12)
    assert a.image_shape == b.image_shape == (1, 12, 12)


def test_cycle_loss_of_identity_translators_is_zero(digits):
    assert cycle_loss(nn.Identity(), nn.Identity(), digits, -digits).item() == 0.0
    flip = lambda x: -x  # noqa: E731 - an exact inverse pair is cycle-consistent too
    assert cycle_loss(flip, flip, digits, digits).item() == 0.0
    assert cycle_loss(flip, nn.Identity(), digits, digits).item() > 0.1


@pytest.mark.parametrize("method, key", [("cyclegan", "cycle"), ("pix2pix", "l1")])
def test_a_few_training_steps_lower_the_translation_loss(tmp_path, method, key):
    config = TranslateConfig(a="digits", b="digits@inverted", method=method, steps=201,
                             batch_size=32, lr=1e-3, width=8, blocks=1, log_every=1)
    model = train_translator(config, tmp_path / method, progress=False)
    log = [json.loads(line) for line in (tmp_path / method / "metrics.jsonl").read_text()
           .splitlines()]
    assert log[0]["step"] == 1 and log[-1]["step"] == 201
    assert log[-1][key] < 0.5 * log[0][key]
    loaded, meta = load_translator(tmp_path / method, "cpu")
    sample = load_dataset("digits", "test").images[:5]
    assert torch.allclose(loaded.translate(sample), model.to("cpu").translate(sample),
                          atol=1e-6)
    assert meta["a"] == "digits" and meta["b"] == "digits@inverted"


def test_classical_corrections_brighten_dark_images(digits):
    dark = Domain.parse("digits@low-light").apply(digits)
    target = _unit(digits).mean().item()
    for name in ("equalize", "clahe", "gamma", "nlmeans+gamma", "tv+clahe", "bilateral+gamma"):
        fixed = correct(name, dark, target)
        assert fixed.shape == dark.shape and fixed.min() >= -1 and fixed.max() <= 1
        assert _unit(fixed).mean() > _unit(dark).mean() + 0.05, name
    assert abs(_unit(correct("gamma", dark, target)).mean().item() - target) < 0.1
    assert torch.equal(correct("none", dark, target), dark)


def test_denoisers_remove_noise_and_unsharp_undoes_some_blur():
    torch.manual_seed(0)
    # 28x28: on 8x8 digits there are too few pixels to estimate the noise level
    clean = load_dataset("fashion-mnist", "train").images[:40]
    noisy = (clean + 0.2 * torch.randn(clean.shape)).clamp(-1, 1)
    error = {name: (correct(name, noisy, 0.5) - clean).pow(2).mean().item()
             for name in ("none", "nlmeans", "tv", "bilateral")}
    for name in ("nlmeans", "tv", "bilateral"):
        assert error[name] < 0.9 * error["none"], (name, error)
    blurred = Domain.parse("digits@blur").apply(clean)
    sharpened = correct("unsharp", blurred, 0.5)
    edges = lambda x: (x[..., 1:] - x[..., :-1]).abs().mean()  # noqa: E731
    assert edges(sharpened) > 1.1 * edges(blurred)


@pytest.mark.parametrize("spec, message", [
    ("gamma+sharpen", "unknown correction step 'sharpen'; choose one of: equalize"),
    ("tv+", "correction 'tv+' has an empty step"),
])
def test_bad_correction_names_say_what_exists(spec, message):
    with pytest.raises(GankitError, match=re.escape(message)):
        parse_correction(spec)


def test_translate_commands_end_to_end(tmp_path, capsys):
    run, p2p = tmp_path / "cyc", tmp_path / "p2p"
    assert main(["translate", "train", "--a", "digits", "--b", "digits@low-light", "--steps",
                 "3", "--width", "4", "--out", str(run), "--no-progress"]) == 0
    assert (run / "samples.png").is_file() and (run / "config.yaml").is_file()
    assert main(["translate", "apply", str(run), "--images", "digits@low-light", "--direction",
                 "b2a", "--n", "5"]) == 0
    out = run / "translated" / "b2a"
    assert len(list(out.glob("translated_*.png"))) == 5 and (out / "grid.png").is_file()

    assert main(["translate", "train", "--method", "pix2pix", "--a", "digits", "--b",
                 "digits@blur", "--steps", "2", "--width", "4", "--out", str(p2p),
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["translate", "apply", str(p2p), "--images", "digits", "--direction",
                 "b2a"]) == 1
    assert "a pix2pix translator only goes a2b" in capsys.readouterr().err
    assert main(["translate", "train", "--method", "munit", "--a", "digits", "--b",
                 "digits@blur", "--out", str(tmp_path / "x")]) == 1
    assert "unknown translation method 'munit'; choose one of: cyclegan, pix2pix" in \
        capsys.readouterr().err


def test_the_translation_verdict_chooses_on_validation_and_pairs_the_test_gain():
    from gankit.translate.verdict import translation_verdict

    n = 400
    paths = {
        "none": {"kind": "non-GAN", "val": [True] * 60 + [False] * 40,
                 "test": [True] * 300 + [False] * 100},
        "gamma": {"kind": "non-GAN", "val": [True] * 70 + [False] * 30,  # best by validation
                  "test": [True] * 280 + [False] * 120},
        "cyclegan": {"kind": "GAN", "val": [True] * 65 + [False] * 35,
                     "test": [True] * 340 + [False] * 60},
        "oracle": {"kind": "oracle", "val": [True] * 100, "test": [True] * n},  # never chosen
    }
    v = translation_verdict("digits", "low-light", paths)
    assert v["best_nongan"] == "gamma" and v["best_gan"] == "cyclegan"  # not "none" by test
    assert v["gain"] == pytest.approx(0.15) and v["gain_ci95"][0] > 0 and v["goal_met"]
    assert v["sentence"].startswith("digits low-light: the best GAN path (cyclegan, 85.00%) "
                                    "minus the best non-GAN path (gamma, 70.00%) is +15.00 ")
    assert v["sentence"].endswith("the GAN helps.")
    paths["cyclegan"]["test"] = paths["gamma"]["test"][::-1]  # same accuracy, other images
    assert "does not measurably help" in translation_verdict("d", "blur", paths)["sentence"]
