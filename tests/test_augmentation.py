"""The GAN-augmentation experiment: data discipline, baselines, the verdict and its outputs."""

import json
import math
from dataclasses import replace

import pytest
import torch
import yaml
from PIL import Image

from gankit.cli import main
from gankit.data import ImageDataset, load_dataset
from gankit.errors import GankitError
from gankit.experiments.augmentation import (
    CONDITIONS,
    AugmentConfig,
    augmented_copies,
    condition_summaries,
    run_experiment,
    seed_data,
    supplement,
)
from gankit.experiments.verdict import best_by_validation, markdown_table, sentence, verdict
from gankit.recognize import ClassifierConfig, load_recogniser
from gankit.stats import paired_gain_ci95, summarize


def _rows(data):
    return {bytes(image.numpy().tobytes()) for image in data.images}


def test_validation_is_held_out_per_class_disjoint_from_fit_and_from_test():
    full, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    config = AugmentConfig(data="digits", per_class=10, validation_share=0.3)
    first, again, other = (seed_data(config, s, full, test) for s in (0, 0, 1))
    assert first.fit.class_counts() == [7] * 10
    assert first.validation.class_counts() == [3] * 10
    assert first.fit_index.equal(again.fit_index)  # deterministic per seed
    assert first.validation_index.equal(again.validation_index)
    assert not first.fit_index.equal(other.fit_index)
    fit, held = set(first.fit_index.tolist()), set(first.validation_index.tolist())
    assert len(fit) == 70 and len(held) == 30 and not fit & held
    assert not _rows(first.fit) & _rows(first.validation)
    assert not (_rows(first.fit) | _rows(first.validation)) & _rows(first.test)
    assert len(first.test) == len(test)


def test_the_distillation_controls_pool_is_augmented_copies_as_large_as_the_gans():
    full, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    config = AugmentConfig(data="digits", per_class=10, synthetic_ratio=3)
    data = seed_data(config, 0, full, test)
    pool = augmented_copies(config, data.fit, "classical", 0)
    assert len(pool) == 3 * len(data.fit) == 10 * config.pool_per_class()
    assert pool.labels.tolist() == data.fit.labels.repeat(3).tolist()
    assert not torch.equal(pool.images[: len(data.fit)], data.fit.images)  # shifted copies
    plain = augmented_copies(config, data.fit, "none", 0)
    assert torch.equal(plain.images[: len(data.fit)], data.fit.images)


class _Fixed(torch.nn.Module):
    """A 'recogniser' that predicts the same logits for every image."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor(logits))

    def forward(self, images):
        return self.logits.expand(len(images), -1)


def test_pool_targets_blend_the_label_with_the_teachers_mean_softmax():
    images = torch.zeros(2, 1, 4, 4)
    pool = ImageDataset("gan", "train", images, torch.tensor([0, 1]), ("a", "b"))
    teachers = [_Fixed([0.0, 0.0]), _Fixed([math.log(3.0), 0.0])]  # softmax 1/2 and 3/4 on "a"
    extra = supplement(AugmentConfig(teacher_share=0.4, synthetic_weight=0.3, synthetic_batch=7,
                                     teacher_temperature=1.0), pool, teachers)
    mean = torch.tensor([0.625, 0.375])
    assert extra.targets == pytest.approx(mean.expand(2, 2)) and extra.weight == 0.3
    assert extra.batch_size == 7
    assert extra.labels.tolist() == [0, 1] and extra.label_share == pytest.approx(0.6)
    # the loss is the cross-entropy with the blended target
    logits = torch.tensor([[0.3, -1.2], [2.0, 0.5]])
    blend = 0.6 * torch.eye(2) + 0.4 * mean
    expected = torch.nn.functional.cross_entropy(logits, blend)
    assert extra.loss(logits, torch.arange(2)) == pytest.approx(expected.item())


def test_teacher_temperature_softens_the_teachers_softmax():
    pool = ImageDataset("gan", "train", torch.zeros(1, 1, 4, 4), torch.tensor([1]), ("a", "b"))
    teacher = [_Fixed([math.log(9.0), 0.0])]  # softmax 0.9 on "a"; at temperature 2, 0.75
    soft = supplement(AugmentConfig(teacher_share=1.0, teacher_temperature=2.0), pool, teacher)
    assert soft.targets == pytest.approx(torch.tensor([[0.75, 0.25]]))
    assert soft.temperature == 1.0  # the student's logits as they are


def test_summary_gives_the_student_t_interval():
    s = summarize([80.0, 82.0, 84.0])
    assert s.mean == 82.0 and s.std == 2.0
    half = 4.302652729911275 * 2.0 / math.sqrt(3)  # t(0.975, 2)
    assert s.ci95 == pytest.approx((82.0 - half, 82.0 + half))
    assert summarize([5.0]).ci95 == (5.0, 5.0)


def test_paired_gain_interval_covers_the_gain_and_shrinks_with_more_items():
    rng = torch.Generator().manual_seed(0)
    worse = (torch.rand(4000, generator=rng) < 0.7).tolist()
    better = [w or bool(torch.rand(1, generator=rng) < 0.2) for w in worse]  # ~+6 points
    gain, (low, high) = paired_gain_ci95(better, worse)
    assert gain == pytest.approx(sum(better) / 4000 - sum(worse) / 4000)
    assert 0 < low < gain < high
    _, (low_small, high_small) = paired_gain_ci95(better[:400], worse[:400])
    assert high_small - low_small > 2 * (high - low)  # ~sqrt(10) wider
    assert paired_gain_ci95(worse, worse) == (0.0, (0.0, 0.0))
    with pytest.raises(ValueError, match="equally long"):
        paired_gain_ci95(better, worse[:10])


def _seed(test, validation):
    return {"accuracy": dict(zip(CONDITIONS, test, strict=True)),
            "validation": dict(zip(CONDITIONS, validation, strict=True))}


def test_the_verdict_chooses_by_validation_and_pairs_the_test_gain_by_seed():
    # columns: real, classical, strong, ensemble, distilled, longer, gan. On test, `longer` is
    # the best non-GAN condition; on validation `strong` is, so `strong` is the baseline.
    val = [80, 81, 85, 83, 84, 82, 86]
    seeds = [_seed([70, 71, 72, 71, 72, 75, 74], val), _seed([80, 81, 83, 82, 82, 85, 84], val),
             _seed([90, 91, 94, 92, 93, 96, 94], val)]
    assert best_by_validation(seeds, CONDITIONS[:6]) == "strong"
    v = verdict(seeds, "digits", 50)
    assert v["best_baseline"] == "strong" and v["best_gan"] == "gan"
    gains = [2.0, 1.0, 0.0]  # gan minus strong, seed by seed
    hand = summarize(gains)
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t(0.975, 2) * std / sqrt(n)
    assert v["gain"] == pytest.approx(1.0) and v["gain_std"] == pytest.approx(1.0)
    assert v["gain_ci95"] == pytest.approx([1.0 - half, 1.0 + half])
    assert v["gain_ci95"] == pytest.approx(list(hand.ci95))
    assert v["acc_best_baseline"] == pytest.approx(83.0) and v["acc_best_gan"] == 84.0
    assert v["gan_over_distilled"]["mean"] == pytest.approx(5 / 3)
    assert v["sentence"].startswith("GAN images did not beat strong") and "+1.00" in v["sentence"]
    # a tie on validation goes to the condition listed first (the plainer recipe)
    assert best_by_validation([_seed([0] * 7, [1] * 7)], CONDITIONS[:6]) == "real"


def condition_summaries_for_test(seeds):
    for s in seeds:
        s["seconds"] = s["pipeline_seconds"] = dict.fromkeys(CONDITIONS, 6.0)
    return condition_summaries(seeds)


def test_verdict_sentences_follow_the_interval():
    def gain(mean, lo, hi, n=5):
        return {"mean": mean, "ci95": (lo, hi), "n": n}

    assert sentence("digits", "strong", gain(1.2, 0.4, 2.0)) == (
        "GAN images add +1.20 points [+0.40, +2.00], 95% interval over 5 seeds over strong "
        "(shifts + RandAugment + random erasing) on digits")
    assert "they cost -1.00 points" in sentence("digits", "real", gain(-1.0, -1.5, -0.5))
    assert "includes zero" in sentence("digits", "real", gain(0.3, -0.5, 1.1))
    assert "single seed: no interval" in sentence("digits", "real", gain(0.3, 0.3, 0.3, n=1))
    one = {"config": {"data": "digits", "per_class": 5, "seeds": 1}, "validation_per_class": 1,
           "minutes": 0.1, "seeds": [_seed([90, 91, 92, 93, 94, 95, 96], [1] * 7)]}
    one["conditions"] = condition_summaries_for_test(one["seeds"])
    one["verdict"] = verdict(one["seeds"], "digits", 5)
    table = markdown_table(one)
    assert "(1 seed: no interval)" in table and "[90.00, 90.00]" not in table


@pytest.mark.slow
def test_a_miniature_experiment_runs_every_baseline_and_writes_its_verdict(tmp_path, capsys):
    out = tmp_path / "aug"
    assert main(["augment", "--data", "digits", "--per-class", "5", "--seeds", "2",
                 "--gan-steps", "3", "--gan-lr", "3e-4", "--classifier-steps", "4", "--filter",
                 "--ratio", "2", "--out", str(out), "--no-progress"]) == 0
    gan_config = yaml.safe_load((out / "seed0" / "generator" / "config.yaml").read_text())
    assert gan_config["lr_g"] == gan_config["lr_d"] == 3e-4 and gan_config["conditional"]
    result = json.loads((out / "augment.json").read_text())
    assert list(result["conditions"]) == list(CONDITIONS)
    for summary in result["conditions"].values():
        for split in ("validation", "test"):
            s = summary[split]
            assert s["n"] == 2 and s["ci95"][0] <= s["mean"] <= s["ci95"][1]
        assert summary["pipeline_minutes"] >= summary["minutes"] >= 0
    config = AugmentConfig(data="digits", per_class=5, gan_steps=3,
                           classifier=ClassifierConfig(steps=4))
    for seed in result["seeds"]:
        assert seed["train_images"] == 40 and seed["validation_images"] == 10
        assert seed["synthetic_images"] == 80  # 2 per fit image
        assert set(seed["accuracy"]) == set(seed["validation"]) == set(CONDITIONS)
        assert seed["steps"]["longer"] == config.longer_updates() == round(2 * 4 + 0.7 * 3)
        assert seed["steps"]["gan"] == seed["steps"]["strong"] == 4
        assert seed["flip"] is False  # digits are never mirrored
        teachers = {"real": "none", "classical": "classical", "strong": "strong"}
        best = max(teachers, key=lambda t: (seed["validation"][t], -list(teachers).index(t)))
        assert seed["student_augment"] == teachers[best]  # chosen on validation
    assert result["seeds"][0]["train_index_sha"] != result["seeds"][1]["train_index_sha"]
    assert result["verdict"] == json.loads(json.dumps(verdict(result["seeds"], "digits", 5)))
    table = (out / "augment.md").read_text()
    assert result["verdict"]["sentence"] in table and "chosen by validation" in table
    strong_row = next(r for r in table.splitlines() if r.startswith("| strong |"))
    diffs = [s["accuracy"]["strong"] - s["accuracy"]["real"] for s in result["seeds"]]
    assert f"| {sum(diffs) / 2:+.2f} [" in strong_row  # strong minus real, paired by seed
    assert Image.open(out / "augment.png").size[0] > 200
    # 10 rows of 8 images of 8 px (2 px padding), drawn larger, with class names on the left
    width, height = Image.open(out / "seed0" / "synthetic.png").size
    assert width > 8 * (8 + 2) + 2 + 100 and height > 10 * (8 + 2) + 2
    printed = capsys.readouterr().out
    assert "distilled" in printed and result["verdict"]["sentence"] in printed
    from gankit.io import load_state
    from gankit.recognize import load_recogniser, predict_logits

    pool = load_state(out / "seed0" / "synthetic.safetensors", parts=("images", "labels"))
    real = load_recogniser(out / "seed0" / "real.safetensors").model
    read = predict_logits(real, pool["images"]).argmax(dim=1)
    counts = result["seeds"][0]["pool_read_as"]["counts"]
    assert [sum(row) for row in counts] == [8] * 10  # every image the GAN made, by its class
    assert counts[3][5] == int(((pool["labels"] == 3) & (read == 5)).sum())
    assert sum(counts[c][c] for c in range(10)) == int((read == pool["labels"]).sum())
    assert main(["report", str(out)]) == 0  # the report carries the verdict too
    page = (out / "report.html").read_text()
    assert result["verdict"]["sentence"] in page
    assert "GAN pool read by the real-data recogniser, % of each asked class (2 seeds" in page


@pytest.mark.slow
def test_an_interrupted_experiment_reruns_only_its_unfinished_tasks(tmp_path):
    tiny = AugmentConfig(data="digits", per_class=5, seeds=1, gan_steps=2, synthetic_ratio=1,
                         classifier=ClassifierConfig(steps=2), device="cpu", workers=1)
    out = tmp_path / "aug"
    first = run_experiment(tiny, out)
    seed0 = out / "seed0"
    kept = {f: f.stat().st_mtime_ns for f in (seed0 / "generator" / "checkpoint.safetensors",
                                            seed0 / "synthetic.safetensors",
                                            seed0 / "real.safetensors")}
    # cut off before its last recogniser: that one and the record are missing
    (seed0 / "gan.safetensors").unlink()
    (seed0 / "seed.json").unlink()
    (out / "seed1").mkdir()
    (out / "seed1" / "leftover.txt").write_text("an attempt with unknown settings")
    resumed = run_experiment(replace(tiny, seeds=2), out)
    assert resumed["reused_seeds"] == []
    assert resumed["seeds"][0]["accuracy"] == first["seeds"][0]["accuracy"]
    assert {f: f.stat().st_mtime_ns for f in kept} == kept  # not trained again
    assert not (out / "seed1" / "leftover.txt").exists()
    assert resumed["seeds"][1]["train_index_sha"] != first["seeds"][0]["train_index_sha"]
    again = run_experiment(replace(tiny, seeds=2, workers=2), out)  # workers decide nothing
    assert again["reused_seeds"] == [0, 1] and again["seeds"] == resumed["seeds"]
    changed = run_experiment(replace(tiny, seeds=2, teacher_temperature=2.0), out)
    assert changed["reused_seeds"] == []  # other settings: every seed runs again
    assert all(f.stat().st_mtime_ns != t for f, t in kept.items())


@pytest.mark.slow
def test_side_by_side_workers_train_exactly_what_one_process_does(tmp_path):
    tiny = AugmentConfig(data="digits", per_class=5, seeds=2, gan_steps=3, synthetic_ratio=1,
                         classifier=ClassifierConfig(steps=3), device="cpu")
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        parallel = run_experiment(replace(tiny, workers=2), tmp_path / "p")  # a thread each
        torch.set_num_threads(1)
        serial = run_experiment(replace(tiny, workers=1), tmp_path / "s")
    finally:
        torch.set_num_threads(threads)
    assert parallel["config"]["workers"] == 2
    assert [s["threads"] for s in parallel["seeds"]] == [[1], [1]]
    assert parallel["seeds"][1]["accuracy"] == serial["seeds"][1]["accuracy"]
    for seed in range(2):
        for condition in CONDITIONS:
            if condition == "ensemble":  # trains nothing
                continue
            a, b = (load_recogniser(tmp_path / run / f"seed{seed}" / f"{condition}.safetensors")
                    .model.state_dict() for run in "ps")
            assert all(torch.equal(a[k], b[k]) for k in a), (seed, condition)


def test_bad_experiment_input_is_named(tmp_path, capsys):
    assert main(["augment", "--data", "digits", "--per-class", "500", "--seeds", "1",
                 "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "larger than the smallest class" in err
    assert "use --per-class 133 or less" in err
    plain = tmp_path / "plain"  # a folder without class sub-folders
    for split in ("train", "test"):
        (plain / split).mkdir(parents=True)
        Image.new("L", (8, 8)).save(plain / split / "a.png")
    assert main(["augment", "--data", f"folder:{plain}", "--seeds", "1",
                 "--out", str(tmp_path / "y")]) == 1
    assert "no labels, so a class-conditional GAN" in capsys.readouterr().err
    uneven = tmp_path / "uneven"  # class "b" has fewer images than asked
    for split, counts in (("train", {"a": 6, "b": 3}), ("test", {"a": 2, "b": 2})):
        for cls, n in counts.items():
            (uneven / split / cls).mkdir(parents=True)
            for i in range(n):
                Image.new("L", (8, 8), color=40 * i).save(uneven / split / cls / f"{i}.png")
    assert main(["augment", "--data", f"folder:{uneven}", "--per-class", "5", "--seeds", "1",
                 "--out", str(tmp_path / "u")]) == 1
    assert "--per-class 5 is larger than the smallest class" in capsys.readouterr().err
    assert not (tmp_path / "u").exists()  # nothing written for a refused experiment
    for config, message in [
            (AugmentConfig(data="digits", per_class=1), "--per-class 1 leaves no image per "
             "class to train on once 1 are held out for validation; use --per-class 2 or more"),
            (AugmentConfig(data="digits", validation_share=1.0), "--validation-share is a share"),
            (AugmentConfig(data="digits", flip="yes"), "unknown --flip 'yes'; choose one of"),
            (AugmentConfig(data="digits", teacher_share=1.5), "--teacher-share is a share betw"),
            (AugmentConfig(data="digits", synthetic_batch=0), "--synthetic-batch must be at "),
            (AugmentConfig(data="digits", teacher_temperature=0), "--teacher-temperature must"),
            (AugmentConfig(data="digits", workers=0), "--workers must be at least 1, got 0"),
            (AugmentConfig(data="digits", classifier=ClassifierConfig(steps=None)),
             "--classifier-steps must be at least 1")]:
        with pytest.raises(GankitError, match=message.replace("(", ".")):
            run_experiment(config, tmp_path / "z")
