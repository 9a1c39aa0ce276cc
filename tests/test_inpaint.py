"""Image completion: masks cover what they say, known pixels survive exactly, bad masks."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.errors import GankitError
from gankit.inpaint import (
    LatentSearch,
    biharmonic,
    complete_latent,
    importance_weights,
    make_masks,
    mean_fill,
)
from gankit.io import load_state
from gankit.train import GANTrainer, load_gan, make_config


def test_each_mask_kind_covers_its_documented_area():
    center = make_masks("center", 3, 28, 28)
    assert center.shape == (3, 1, 28, 28) and center.sum(dim=(1, 2, 3)).tolist() == [196] * 3
    assert center[0, 0, 7:21, 7:21].all() and center[0, 0, 6, :].sum() == 0
    half = make_masks("half", 2, 28, 28)
    assert half[:, :, 14:].all() and not half[:, :, :14].any()
    boxes = make_masks("box", 200, 28, 28, seed=1)
    share = boxes.mean(dim=(1, 2, 3))
    assert share.min() >= 25 / 784 and share.max() <= 3 * 121 / 784  # 1..3 boxes of 5..11 px
    strokes = make_masks("strokes", 200, 28, 28, seed=1)
    share = strokes.mean(dim=(1, 2, 3))
    assert 0.03 < share.mean() < 0.5 and share.std() > 0
    assert torch.equal(strokes, make_masks("strokes", 200, 28, 28, seed=1))
    assert not torch.equal(strokes, make_masks("strokes", 200, 28, 28, seed=2))


def _png(path, pixels):
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(path)
    return str(path)


def test_bad_masks_are_named(tmp_path):
    good = np.zeros((8, 8))
    good[2:5, 2:5] = 255
    assert make_masks(_png(tmp_path / "good.png", good), 2, 8, 8).sum() == 2 * 9
    with pytest.raises(GankitError, match="is 8x8 but the images are 28x28"):
        make_masks(_png(tmp_path / "small.png", good), 1, 28, 28)
    grey = good.copy()
    grey[0, 0] = 128
    with pytest.raises(GankitError, match="not binary"):
        make_masks(_png(tmp_path / "grey.png", grey), 1, 8, 8)
    with pytest.raises(GankitError, match="hides nothing"):
        make_masks(_png(tmp_path / "empty.png", np.zeros((8, 8))), 1, 8, 8)
    with pytest.raises(GankitError, match="hides the whole image"):
        make_masks(_png(tmp_path / "full.png", np.full((8, 8), 255)), 1, 8, 8)
    with pytest.raises(GankitError, match="unknown mask 'circle'; choose one of: center"):
        make_masks("circle", 1, 8, 8)


@pytest.mark.parametrize("method", [mean_fill, biharmonic])
def test_baselines_keep_known_pixels_bit_for_bit(method):
    images = torch.rand(4, 1, 12, 12, generator=torch.Generator().manual_seed(0)) * 2 - 1
    mask = make_masks("box", 4, 12, 12, seed=3)
    out = method(images, mask)
    known = mask.expand_as(images) == 0
    assert torch.equal(out[known], images[known])
    assert not torch.equal(out[~known], images[~known])


def test_biharmonic_restores_a_smooth_image_better_than_mean_fill():
    ramp = torch.linspace(-1, 1, 16).repeat(1, 1, 16, 1)  # left-to-right gradient
    mask = make_masks("center", 1, 16, 16)
    hole = mask.bool()
    err = {f.__name__: (f(ramp, mask) - ramp)[hole].abs().mean() for f in (mean_fill, biharmonic)}
    assert err["biharmonic"] < 0.05 < err["mean_fill"]


def test_importance_weights_favour_the_hole_border():
    mask = make_masks("center", 1, 16, 16)
    w = importance_weights(mask, 5)
    assert (w[mask.bool()] == 0).all()
    assert w[0, 0, 3, 8] > 0 and w[0, 0, 0, 0] == 0  # near the hole vs far corner


def test_latent_search_keeps_known_pixels_and_fits_the_context(tmp_path):
    run = tmp_path / "gan"
    config = make_config({"data": "digits", "steps": 30, "batch_size": 32, "width": 8})
    GANTrainer(config, run, progress=False, tensorboard=False).fit()
    trained, D = load_gan(run)
    with torch.no_grad():  # a target the generator can make, with its centre cut out
        images = trained.generator(torch.randn(3, trained.generator.z_dim))
    mask = make_masks("center", 3, 8, 8)
    short = complete_latent(trained, D, images, mask, LatentSearch(restarts=2, steps=1))
    longer = complete_latent(trained, D, images, mask, LatentSearch(restarts=2, steps=150))
    known = mask.expand_as(images) == 0
    assert torch.equal(longer[known], images[known])
    hole = ~known
    assert (longer - images)[hole].abs().mean() < (short - images)[hole].abs().mean()

    cond = tmp_path / "cond"
    GANTrainer(make_config({**config.to_dict(), "conditional": True, "steps": 2}), cond,
               progress=False, tensorboard=False).fit()
    trained_c, D_c = load_gan(cond)
    with pytest.raises(GankitError, match="latent completion needs an unconditional GAN"):
        complete_latent(trained_c, D_c, images, mask)


def test_inpaint_cli_writes_completions_and_a_grid(tmp_path, capsys):
    from gankit.cli import main

    run = tmp_path / "gan"
    GANTrainer(make_config({"data": "digits", "steps": 4, "batch_size": 16, "width": 8}), run,
               progress=False, tensorboard=False).fit()
    out = tmp_path / "filled"
    assert main(["inpaint", str(run), "--images", "digits", "--mask", "half", "--method",
                 "latent", "--n", "3", "--out", str(out)]) == 0
    assert "completed 3 images with latent" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [
        "completed_0000.png", "completed_0001.png", "completed_0002.png", "grid.png"]
    assert Image.open(out / "grid.png").size == (2 * (3 * 10 + 2), 2 * (3 * 10 + 2))

    assert main(["inpaint", str(run), "--images", "digits", "--method", "magic"]) == 1
    assert "unknown inpainting method 'magic'; choose one of: latent" in capsys.readouterr().err
    small = np.zeros((4, 4), dtype=np.uint8)
    small[1, 1] = 255
    mask_png = _png(tmp_path / "m.png", small)
    assert main(["inpaint", str(run), "--images", "digits", "--mask", mask_png]) == 1
    assert "is 4x4 but the images are 8x8" in capsys.readouterr().err


def _stripes(n: int, seed: int) -> torch.Tensor:
    """Vertical sine stripes with random phase and frequency: the hole is predictable from
    the context, but not from the mean."""
    gen = torch.Generator().manual_seed(seed)
    phase = torch.rand(n, 1, 1, 1, generator=gen) * 6.28
    freq = 0.5 + torch.rand(n, 1, 1, 1, generator=gen)
    x = torch.arange(12.0).view(1, 1, 1, 12)
    return torch.sin(freq * x + phase).expand(n, 1, 12, 12).contiguous()


def test_the_completion_model_beats_mean_fill_after_a_few_steps(tmp_path):
    from gankit.data import ImageDataset
    from gankit.inpaint.cgan import (
        CompletionConfig,
        complete_cgan,
        load_completion,
        train_completion,
    )

    train = ImageDataset("stripes", "train", _stripes(512, 0), torch.full((512,), -1), ())
    config = CompletionConfig(data="stripes", width=8, steps=150, batch_size=32, lr=2e-3)
    run = train_completion(config, tmp_path / "cgan", data=train, progress=False)
    model = load_completion(run)
    test = _stripes(64, 1)
    mask = make_masks("center", 64, 12, 12)
    hole = mask.expand_as(test).bool()
    completed = complete_cgan(model, test, mask)
    assert torch.equal(completed[~hole], test[~hole])
    err_cgan = (completed - test)[hole].abs().mean()
    err_mean = (mean_fill(test, mask) - test)[hole].abs().mean()
    assert err_cgan < 0.7 * err_mean
    assert (run / "samples.png").is_file() and (run / "config.yaml").is_file()


def test_inpaint_train_cli_route_and_a_foreign_run(tmp_path, capsys):
    from gankit.cli import main

    out = tmp_path / "cgan"
    assert main(["inpaint", "train", "--data", "digits", "--steps", "2", "--width", "4",
                 "--out", str(out), "--no-progress"]) == 0
    assert main(["inpaint", str(out), "--images", "digits", "--method", "cgan", "--n", "2",
                 "--out", str(tmp_path / "done")]) == 0
    assert (tmp_path / "done" / "grid.png").is_file()
    assert main(["inpaint", str(tmp_path), "--images", "digits"]) == 1
    assert "neither a GAN run" in capsys.readouterr().err
    assert main(["inpaint", str(out), "--images", "digits", "--method", "latent"]) == 1
    assert "is a completion run: use it with --method cgan" in capsys.readouterr().err
    assert main(["sample", str(out)]) == 1  # a GAN command names what the run is instead
    assert "is a completion run; this needs a GAN run" in capsys.readouterr().err


def test_quality_measures_have_their_textbook_values():
    from gankit.inpaint.quality import l1, psnr, ssim

    original = torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    mask = make_masks("center", 4, 16, 16)
    off = original + 0.2 * mask  # 0.1 off on the [0, 1] scale, inside the hole only
    assert psnr(off, original, mask) == pytest.approx(20.0, abs=1e-4)  # MSE 0.01
    assert psnr(off, original, 1 - mask) > 100  # outside the hole: identical
    assert l1(off, original, mask) == pytest.approx(0.1, abs=1e-6)
    assert ssim(original, original, mask) == pytest.approx(1.0)
    assert ssim(-original, original, mask) < 0.5


def test_adversarial_warmup_trains_g_exactly_as_the_l2_ablation_until_it_ends(tmp_path):
    from gankit.data import ImageDataset
    from gankit.inpaint.cgan import CompletionConfig, load_completion, train_completion

    train = ImageDataset("stripes", "train", _stripes(128, 0), torch.full((128,), -1), ())
    base = CompletionConfig(data="stripes", width=4, steps=6, batch_size=16, amp="off")

    def generator(name: str, **changes) -> dict[str, torch.Tensor]:
        run = train_completion(replace(base, **changes), tmp_path / name, data=train,
                               progress=False)
        return load_completion(run).state_dict()

    l2 = generator("l2", adv_weight=0.0)
    warm = generator("warm", adv_weight=1.0, adv_warmup=1.0)  # D learns, G never hears it
    joined = generator("joined", adv_weight=1.0, adv_warmup=0.5)
    assert all(torch.equal(l2[k], warm[k]) for k in l2)
    assert not all(torch.equal(l2[k], joined[k]) for k in l2)

    def kept(name: str) -> set[str]:
        return set(load_state(tmp_path / name / "completion.safetensors")["training"])

    assert {"discriminator", "opt_d"} <= kept("warm")
    assert not {"discriminator", "opt_d"} & kept("l2")  # L2 alone builds no discriminator


def test_a_noise_channel_gives_seeded_different_fills_and_keeps_the_context(tmp_path):
    from gankit.data import ImageDataset
    from gankit.inpaint.cgan import (
        CompletionConfig,
        complete_cgan,
        load_completion,
        train_completion,
    )

    train = ImageDataset("stripes", "train", _stripes(64, 0), torch.full((64,), -1), ())
    config = CompletionConfig(data="stripes", width=4, steps=3, batch_size=16, noise=True)
    model = load_completion(train_completion(config, tmp_path / "n", data=train,
                                             progress=False))
    test, mask = _stripes(8, 1), make_masks("half", 8, 12, 12)
    first, again, other = (complete_cgan(model, test, mask, seed=s) for s in (0, 0, 1))
    hole = mask.expand_as(test).bool()
    assert torch.equal(first, again) and torch.equal(first[~hole], test[~hole])
    assert not torch.equal(first[hole], other[hole])
    with pytest.raises(ValueError, match="takes a noise channel"):
        model(test, mask)


def test_the_completion_verdict_picks_on_validation_per_goal_and_pairs_the_gan_term():
    from gankit.inpaint.verdict import completion_sentence, completion_verdict

    def m(psnr, fid, acc, speed):
        return {"psnr_hole": psnr, "domain_fid": fid, "accuracy": acc, "precision": 0.5,
                "images_per_s": speed}

    methods = {
        "biharmonic": {"val": [m(12.0, 9.0, 0.80, 500)], "test": [m(12.1, 9.1, 0.80, 500)]},
        "cgan-l2": {"val": [m(16.0, 6.0, 0.85, 150), m(16.2, 6.2, 0.86, 150)],
                    "test": [m(16.1, 6.1, 0.85, 150), m(16.3, 6.3, 0.84, 150)]},
        "cgan": {"val": [m(15.6, 3.0, 0.84, 200), m(15.8, 3.2, 0.83, 200)],
                 "test": [m(25.0, 3.1, 0.83, 200), m(25.0, 3.3, 0.82, 200)]},
    }
    v = completion_verdict(methods, ["cgan"])
    assert v["best_for_psnr"]["method"] == "cgan-l2"  # by validation, though cgan wins on test
    assert v["best_for_realism"]["method"] == "cgan" and v["best_for_accuracy"]["method"] == \
        "cgan-l2"
    assert v["best_for_speed"]["method"] == "cgan"  # the fastest within 1 dB of the best
    methods["cgan"]["val"] = [dict(r, images_per_s=155) for r in methods["cgan"]["val"]]
    tie = completion_verdict(methods, ["cgan"])["best_for_speed"]["method"]
    assert tie == "cgan-l2"  # 155 vs 150 images/s is one speed: the simpler model wins
    assert v["best_for_psnr"]["test"]["mean"] == pytest.approx(16.2)
    effect = v["gan_term_vs_l2"]["cgan"]["domain_fid"]  # paired by seed: -3.0 both times
    assert effect["mean"] == pytest.approx(-3.0) and effect["std"] == pytest.approx(0, abs=1e-9)
    said = completion_sentence("digits", "center", v)
    assert said.startswith("digits center: pick for psnr cgan-l2 (16.20 [")
    assert "cgan vs cgan-l2: FID -3.00 [-3.00, -3.00] (more real), PSNR +8.80 dB" in said
