"""The GAN-augmentation experiment: data discipline, statistics and its outputs."""

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
    gan_gains,
    run_experiment,
    seed_data,
    supplement,
)
from gankit.recognize import ClassifierConfig, load_recogniser
from gankit.stats import summarize


def _rows(data):
    return {bytes(image.numpy().tobytes()) for image in data.images}


def test_each_seed_trains_on_a_balanced_train_subset_and_never_on_test_images():
    full, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    config = AugmentConfig(data="digits", per_class=7)
    first, again, other = (seed_data(config, s, full, test) for s in (0, 0, 1))
    assert first.train.class_counts() == [7] * 10
    assert first.train_index.equal(again.train_index)  # deterministic per seed
    assert not first.train_index.equal(other.train_index)
    assert first.train_index.max() < len(full) and len(set(first.train_index.tolist())) == 70
    assert not _rows(first.train) & _rows(first.test)  # disjoint from every test image
    assert len(first.test) == len(test)


class _Fixed(torch.nn.Module):
    """A 'recogniser' that predicts the same logits for every image."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor(logits))

    def forward(self, images):
        return self.logits.expand(len(images), -1)


def test_synthetic_targets_blend_the_gan_label_with_the_teachers_mean_softmax():
    images = torch.zeros(2, 1, 4, 4)
    synthetic = ImageDataset("gan", "train", images, torch.tensor([0, 1]), ("a", "b"))
    teachers = [_Fixed([0.0, 0.0]), _Fixed([math.log(3.0), 0.0])]  # softmax 1/2 and 3/4 on "a"
    extra = supplement(AugmentConfig(teacher_share=0.4, synthetic_weight=0.3, synthetic_batch=7,
                                     teacher_temperature=1.0), "real+classical+gan",
                       synthetic, teachers)
    mean = torch.tensor([0.625, 0.375])
    assert extra.targets == pytest.approx(mean.expand(2, 2)) and extra.weight == 0.3
    assert extra.batch_size == 7
    assert extra.labels.tolist() == [0, 1] and extra.label_share == pytest.approx(0.6)
    # at temperature 1 the loss is the cross-entropy with the blended target
    logits = torch.tensor([[0.3, -1.2], [2.0, 0.5]])
    blend = 0.6 * torch.eye(2) + 0.4 * mean
    expected = torch.nn.functional.cross_entropy(logits, blend)
    assert extra.loss(logits, torch.arange(2)) == pytest.approx(expected.item())


def test_teacher_temperature_softens_the_teachers_softmax():
    synthetic = ImageDataset("gan", "train", torch.zeros(1, 1, 4, 4), torch.tensor([1]),
                             ("a", "b"))
    teacher = [_Fixed([math.log(9.0), 0.0])]  # softmax 0.9 on "a"; at temperature 2, 0.75
    soft = supplement(AugmentConfig(teacher_share=1.0, teacher_temperature=2.0), "real+gan",
                      synthetic, teacher)
    assert soft.targets == pytest.approx(torch.tensor([[0.75, 0.25]]))
    assert soft.temperature == 1.0  # "soft-targets": the student's logits as they are
    hinton = supplement(AugmentConfig(teacher_share=1.0, teacher_temperature=2.0,
                                      distillation="hinton"), "real+gan", synthetic, teacher)
    assert hinton.temperature == 2.0 and torch.equal(hinton.targets, soft.targets)


class _LeftHeavy(torch.nn.Module):
    """A 'recogniser' that says "a" for images brighter in their left half, else "b"."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(50.0))  # near one-hot

    def forward(self, images):
        half = images.shape[-1] // 2
        lean = images[..., :half].sum(dim=(1, 2, 3)) - images[..., half:].sum(dim=(1, 2, 3))
        return torch.stack([lean.sign(), -lean.sign()], dim=1) * self.scale


def test_classical_teacher_views_average_the_mirror_only_with_classical_augmentation():
    images = -torch.ones(1, 1, 8, 8)
    images[..., 3] = 1.0  # a bright column left of centre: shifted 2 right, it is right of it
    synthetic = ImageDataset("gan", "train", images, torch.tensor([0]), ("a", "b"))
    config = AugmentConfig(data="fashion-mnist", teacher_share=1.0, teacher_temperature=1.0,
                           teacher_views="classical")
    # views: itself, down, up (a), right (b), left (a), mirror (b) -> 4/6 on "a"
    views = supplement(config, "real+classical+gan", synthetic, [_LeftHeavy()])
    assert views.targets == pytest.approx(torch.tensor([[4 / 6, 2 / 6]]), abs=1e-6)
    # real + GAN has no classical augmentation, so its teacher sees the image alone
    alone = supplement(config, "real+gan", synthetic, [_LeftHeavy()])
    assert alone.targets == pytest.approx(torch.tensor([[1.0, 0.0]]), abs=1e-6)
    with pytest.raises(GankitError, match="unknown --teacher-views 'all'; choose from: single"):
        run_experiment(replace(config, teacher_views="all"), "unused")


def test_summary_gives_the_student_t_interval():
    s = summarize([80.0, 82.0, 84.0])
    assert s.mean == 82.0 and s.std == 2.0
    half = 4.302652729911275 * 2.0 / math.sqrt(3)  # t(0.975, 2)
    assert s.ci95 == pytest.approx((82.0 - half, 82.0 + half))
    assert summarize([5.0]).ci95 == (5.0, 5.0)


def test_gan_gains_pair_each_gan_condition_with_its_baseline_on_the_same_seed():
    def seed(real, classical, gan, both):
        return {"accuracy": {"real": real, "real+classical": classical, "real+gan": gan,
                             "real+classical+gan": both}}

    # Seeds differ by 10 points in every condition; the paired gains do not.
    gains = gan_gains([seed(70.0, 71.0, 72.0, 74.0), seed(80.0, 81.0, 83.0, 84.0),
                       seed(90.0, 91.0, 94.0, 94.0)])
    assert gains["real+gan"]["mean"] == pytest.approx(3.0)
    assert gains["real+gan"]["std"] == pytest.approx(1.0)
    assert gains["real+classical+gan"] == summarize([3.0, 3.0, 3.0]).to_dict()


@pytest.mark.slow
def test_a_miniature_experiment_writes_json_table_plot_and_grids(tmp_path, capsys):
    out = tmp_path / "aug"
    assert main(["augment", "--data", "digits", "--per-class", "5", "--seeds", "2",
                 "--gan-steps", "3", "--gan-lr", "3e-4", "--classifier-steps", "4", "--filter",
                 "--ratio", "2", "--out", str(out), "--no-progress"]) == 0
    gan_config = yaml.safe_load((out / "seed0" / "gan" / "config.yaml").read_text())
    assert gan_config["lr_g"] == gan_config["lr_d"] == 3e-4 and gan_config["conditional"]
    result = json.loads((out / "augment.json").read_text())
    assert list(result["conditions"]) == list(CONDITIONS)
    for summary in result["conditions"].values():
        assert summary["n"] == 2 and summary["ci95"][0] <= summary["mean"] <= summary["ci95"][1]
    for seed in result["seeds"]:
        assert seed["train_images"] == 50 and seed["synthetic_images"] == 100
        assert set(seed["accuracy"]) == set(CONDITIONS)
    assert result["seeds"][0]["train_index_sha"] != result["seeds"][1]["train_index_sha"]
    assert result["gains"] == json.loads(json.dumps(gan_gains(result["seeds"])))
    table = (out / "augment.md").read_text()
    assert "real+classical+gan" in table and "paired by seed" in table
    assert Image.open(out / "augment.png").size[0] > 200
    side = 2 * (10 * (8 + 2) + 2)  # 10 x 10 images of 8 px, 2 px padding, scale 2
    assert Image.open(out / "seed0" / "synthetic.png").size == (side, side)
    assert "real+gan" in capsys.readouterr().out


@pytest.mark.slow
def test_an_interrupted_experiment_reruns_only_its_unfinished_tasks(tmp_path):
    tiny = AugmentConfig(data="digits", per_class=5, seeds=1, gan_steps=2, synthetic_ratio=1,
                         classifier=ClassifierConfig(steps=2), device="cpu", workers=1)
    out = tmp_path / "aug"
    first = run_experiment(tiny, out)
    seed0 = out / "seed0"
    kept = {f: f.stat().st_mtime_ns for f in (seed0 / "gan" / "checkpoint.safetensors",
                                            seed0 / "synthetic.safetensors",
                                            seed0 / "real.safetensors")}
    # cut off before its last recogniser: that one and the record are missing
    (seed0 / "real+classical+gan.safetensors").unlink()
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
            a, b = (load_recogniser(tmp_path / run / f"seed{seed}" / f"{condition}.safetensors")
                    .model.state_dict() for run in "ps")
            assert all(torch.equal(a[k], b[k]) for k in a), (seed, condition)


def test_bad_experiment_input_is_named(tmp_path, capsys):
    assert main(["augment", "--data", "digits", "--per-class", "500", "--seeds", "1",
                 "--out", str(tmp_path / "x")]) == 1
    assert "larger than the smallest class" in capsys.readouterr().err
    plain = tmp_path / "plain"
    plain.mkdir()
    Image.new("L", (8, 8)).save(plain / "a.png")
    with pytest.raises(GankitError, match="no labels, so a class-conditional GAN"):
        run_experiment(AugmentConfig(data=f"folder:{plain}", seeds=1), tmp_path / "y")
    with pytest.raises(GankitError, match="--teacher-share is a share between 0 and 1"):
        run_experiment(AugmentConfig(data="digits", teacher_share=1.5), tmp_path / "z")
    with pytest.raises(GankitError, match="--synthetic-batch must be at least 1, got 0"):
        run_experiment(AugmentConfig(data="digits", synthetic_batch=0), tmp_path / "b")
    with pytest.raises(GankitError, match="--teacher-temperature must be positive, got 0"):
        run_experiment(AugmentConfig(data="digits", teacher_temperature=0), tmp_path / "k")
    with pytest.raises(GankitError, match="unknown --distillation .kd.; choose from: soft-t"):
        run_experiment(AugmentConfig(data="digits", distillation="kd"), tmp_path / "d")
    with pytest.raises(GankitError, match="--workers must be at least 1, got 0"):
        run_experiment(AugmentConfig(data="digits", workers=0), tmp_path / "w")
    with pytest.raises(GankitError, match="unknown --teacher .oracle.; choose from: same, "):
        run_experiment(AugmentConfig(data="digits", teacher="oracle"), tmp_path / "t")
