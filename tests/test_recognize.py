"""The recogniser: learning, augmentation, storage, reports, extra images, `gankit classify`."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.data import ImageDataset, load_dataset
from gankit.errors import GankitError
from gankit.recognize import (
    ClassifierConfig,
    SmallCNN,
    Supplement,
    accuracy,
    flip_allowed,
    inference_copy,
    load_extra,
    load_recogniser,
    predict_logits,
    recognition_report,
    save_recogniser,
    shift_and_flip,
    strong_augment,
    train_classifier,
)
from gankit.recognize.augment import degrade
from gankit.train import GANTrainer, make_config


def test_the_recogniser_overfits_a_tiny_batch(tiny_images):
    tiny = tiny_images.select(torch.arange(24))  # random pixels, labels 0, 1, 2 in turn
    model = train_classifier(tiny, ClassifierConfig(epochs=150, batch_size=24, lr=3e-3,
                                                    weight_decay=0.0, width=8))
    assert accuracy(model, tiny) == 1.0


def test_a_supplement_is_learnt_with_its_soft_targets_only_when_weighted(tiny_images):
    real = tiny_images.select(torch.arange(24))
    extra = torch.rand(24, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    targets = torch.tensor([0.0, 0.1, 0.9]).expand(24, 3)  # "mostly c" for every extra image
    config = ClassifierConfig(epochs=150, batch_size=24, lr=3e-3, weight_decay=0.0, width=8)

    def trained(weight: float) -> torch.Tensor:
        model = train_classifier(real, config, supplement=Supplement(extra, targets, weight))
        return predict_logits(model, extra).softmax(dim=1).mean(dim=0)

    learnt, ignored = trained(1.0), trained(0.0)
    assert learnt[2] == pytest.approx(0.9, abs=0.05) and learnt[1] == pytest.approx(0.1, abs=0.05)
    assert ignored[2] < 0.7  # weight 0: the extra images are only seen, never fitted
    with pytest.raises(GankitError, match="does not fit tiny"):
        train_classifier(real, config, supplement=Supplement(extra, targets[:, :2]))
    with pytest.raises(GankitError, match="targets and 5 labels does not fit tiny"):
        train_classifier(real, config, supplement=Supplement(
            extra, targets, labels=torch.zeros(5, dtype=torch.long), label_share=0.5))


def test_each_update_draws_the_supplements_batch_size(tiny_images):
    real = tiny_images.select(torch.arange(24))
    extra = torch.rand(30, 1, 8, 8, generator=torch.Generator().manual_seed(2)) * 2 - 1
    targets = torch.full((30, 3), 1 / 3)
    config = ClassifierConfig(steps=5, batch_size=12, width=8)
    drawn: list[int] = []

    class Counted(Supplement):
        def loss(self, logits: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
            assert len(logits) == len(index)  # the synthetic rows of the forward pass
            drawn.append(len(index))
            return super().loss(logits, index)

    train_classifier(real, config, supplement=Counted(extra, targets, batch_size=4))
    train_classifier(real, config, supplement=Counted(extra, targets))
    assert drawn == [4] * 5 + [12] * 5  # its own size, else the real batch's
    with pytest.raises(GankitError, match="0 a batch"):
        train_classifier(real, config, supplement=Supplement(extra, targets, batch_size=0))


def test_a_supplement_at_a_temperature_is_hintons_distillation_loss():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]])
    targets = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1]])
    images = torch.zeros(2, 1, 2, 2)
    soft = Supplement(images, targets, temperature=4.0)
    log_student = (logits / 4.0).log_softmax(dim=1)
    expected = 16.0 * -(targets * log_student).sum(dim=1).mean()
    assert soft.loss(logits, torch.arange(2)) == pytest.approx(expected.item())
    # a share of hard labels, learnt at temperature 1
    mixed = Supplement(images, targets, temperature=4.0, labels=torch.tensor([0, 2]),
                       label_share=0.25)
    hard = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2]))
    assert mixed.loss(logits, torch.arange(2)) == pytest.approx(
        0.25 * hard.item() + 0.75 * expected.item())
    # the loss is read for the supplement rows a batch drew, in their order
    assert mixed.loss(logits.flip(0), torch.tensor([1, 0])) == pytest.approx(
        0.25 * torch.nn.functional.cross_entropy(logits.flip(0), torch.tensor([2, 0])).item()
        + 0.75 * 16.0 * -(targets.flip(0) * log_student.flip(0)).sum(dim=1).mean().item())


def test_shift_and_flip_moves_pixels_and_keeps_the_rest():
    images = torch.full((64, 1, 9, 9), -1.0)
    images[:, 0, 4, 4] = 1.0  # one bright pixel in the centre
    gen = torch.Generator().manual_seed(0)
    moved = shift_and_flip(images, gen, max_shift=2)
    positions = torch.nonzero(moved[:, 0] == 1.0)[:, 1:]
    assert len(positions) == 64  # the pixel is never lost: shifts stay inside the image
    offsets = positions - 4
    assert offsets.abs().max() == 2 and len({tuple(o) for o in offsets.tolist()}) > 10
    assert (moved == -1.0).sum() == 64 * 80  # the background stays background

    same = shift_and_flip(images, torch.Generator().manual_seed(0), max_shift=2)
    assert torch.equal(moved, same)  # seeded
    assert torch.equal(shift_and_flip(images, gen, max_shift=0), images)


def test_flips_mirror_about_half_the_images():
    images = torch.linspace(-1, 1, 5).repeat(200, 1, 5, 1)  # a left-to-right ramp
    flipped = shift_and_flip(images, torch.Generator().manual_seed(1), max_shift=0, flip=True)
    mirrored = (flipped == images.flip(-1)).flatten(1).all(dim=1)
    kept = (flipped == images).flatten(1).all(dim=1)
    assert torch.all(mirrored ^ kept) and 70 < int(mirrored.sum()) < 130


def test_flip_is_the_users_call_and_auto_mirrors_only_known_mirror_safe_data():
    assert flip_allowed("fashion-mnist") and flip_allowed("fashion-mnist", "auto")
    assert not flip_allowed("digits") and not flip_allowed("mnist")
    assert not flip_allowed("folder:/photos")  # a folder is never mirrored unasked
    assert flip_allowed("folder:/photos", "on") and flip_allowed("digits", "on")
    assert not flip_allowed("fashion-mnist", "off")
    with pytest.raises(GankitError, match="unknown --flip 'yes'; choose one of: auto, on, off"):
        flip_allowed("digits", "yes")


def test_flip_off_never_mirrors_in_classical_or_strong_augmentation(monkeypatch):
    # an image whose left half is bright: a mirror makes its right half the brighter
    images = torch.full((300, 1, 12, 12), -1.0)
    images[..., 1:6] = 1.0
    out = shift_and_flip(images, torch.Generator().manual_seed(0), flip=False)
    assert (out[..., :6].sum(dim=(1, 2, 3)) > out[..., 6:].sum(dim=(1, 2, 3))).all()
    mirrored = shift_and_flip(images, torch.Generator().manual_seed(0), flip=True)
    lean = mirrored[..., :6].sum(dim=(1, 2, 3)) < mirrored[..., 6:].sum(dim=(1, 2, 3))
    assert 100 < int(lean.sum()) < 200
    # RandAugment's photometric ops (solarize) can darken the bright half, so for strong
    # augmentation count the mirrors themselves: none without flip, none from torchvision
    import gankit.recognize.augment as augment
    calls = []
    real_mirror = augment.mirror_half
    monkeypatch.setattr(augment, "mirror_half", lambda x, g: calls.append(1) or real_mirror(x, g))
    monkeypatch.setattr(torch.Tensor, "flip", lambda *a, **k: pytest.fail("a mirror"))
    strong_augment(images, torch.Generator().manual_seed(0), flip=False)
    assert calls == []
    monkeypatch.undo()
    assert torch.equal(strong_augment(images, torch.Generator().manual_seed(0)),
                       strong_augment(images, torch.Generator().manual_seed(0), flip=False))


def test_strong_augmentation_is_seeded_in_range_and_changes_images():
    images = load_dataset("digits", "train").images[:64]
    first = strong_augment(images, torch.Generator().manual_seed(3))
    again = strong_augment(images, torch.Generator().manual_seed(3))
    other = strong_augment(images, torch.Generator().manual_seed(4))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert first.shape == images.shape and first.min() >= -1 and first.max() <= 1
    assert (first - images).abs().flatten(1).amax(dim=1).gt(0.1).float().mean() > 0.9
    torch.manual_seed(0)
    state = torch.get_rng_state()
    strong_augment(images, torch.Generator().manual_seed(3))
    assert torch.equal(torch.get_rng_state(), state)  # torch's own generator is left alone


def test_degrade_blurs_darkens_and_adds_noise_to_about_half_the_images_each():
    images = load_dataset("fashion-mnist", "train").images[:400]
    made = degrade(images, torch.Generator().manual_seed(0), flip=False)
    assert torch.equal(made, degrade(images, torch.Generator().manual_seed(0), flip=False))
    assert made.shape == images.shape and made.min() >= -1 and made.max() <= 1
    unit, before = (made + 1) / 2, (shift_and_flip(images, torch.Generator().manual_seed(0))
                                    + 1) / 2
    darker = unit.mean(dim=(1, 2, 3)) < 0.8 * before.mean(dim=(1, 2, 3))
    assert 0.25 < darker.float().mean() < 0.6  # exposure drawn for half, gain < 0.8 for 3/4
    # Noise (and blur, near the edges) lights up the black background of some images (either
    # drawn: 3/4); the rest keep it black.
    background = before == 0
    noisy = ((unit > 0.02) & background).flatten(1).sum(1) > 0.05 * background.flatten(1).sum(1)
    assert 0.45 < noisy.float().mean() < 0.85


def test_bf16_autocast_changes_the_forward_pass_but_keeps_fp32_weights(tiny_images):
    tiny = tiny_images.select(torch.arange(24))
    fp32, bf16 = (train_classifier(tiny, ClassifierConfig(steps=5, batch_size=8, amp=amp),
                                   device="cpu") for amp in ("off", "on"))
    assert all(p.dtype == torch.float32 for p in bf16.parameters())
    assert not torch.equal(predict_logits(fp32, tiny.images), predict_logits(bf16, tiny.images))
    with pytest.raises(GankitError, match="amp must be one of auto, on, off, got 'fp8'"):
        train_classifier(tiny, ClassifierConfig(amp="fp8"))


def test_the_inference_copy_folds_batch_norm_and_keeps_the_function():
    torch.manual_seed(0)
    model = SmallCNN((1, 12, 12), 3)
    for norm in model.modules():  # statistics other than the identity, so folding matters
        if isinstance(norm, torch.nn.BatchNorm2d):
            norm.running_mean.uniform_(-0.5, 0.5)
            norm.running_var.uniform_(0.5, 2.0)
            norm.weight.data.uniform_(0.5, 1.5)
    model.train()
    copy = inference_copy(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in copy.modules())
    assert not any(p.requires_grad for p in copy.parameters())
    # The original is untouched: still training, batch norms and gradients in place.
    assert model.training and all(p.requires_grad for p in model.parameters())
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 4
    x = torch.rand(5, 1, 12, 12, requires_grad=True)
    expected = model.eval()(x)
    got = copy(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    grad_expected, = torch.autograd.grad(expected.sum(), x)
    grad_got, = torch.autograd.grad(got.sum(), x)
    torch.testing.assert_close(grad_got, grad_expected, rtol=1e-4, atol=1e-5)


def test_unknown_augmentation_lists_the_choices(tiny_images):
    with pytest.raises(GankitError, match="unknown augmentation 'cutmix'.*classical"):
        train_classifier(tiny_images, ClassifierConfig(augment="cutmix"))


def test_a_stored_recogniser_round_trips_and_a_damaged_one_is_named(tmp_path, tiny_images):
    model = SmallCNN((1, 8, 8), 3, width=8).eval()
    path = tmp_path / "r.safetensors"
    save_recogniser(path, model, ("a", "b", "c"), {"test_accuracy": 0.5})
    stored = load_recogniser(path)
    assert stored.classes == ("a", "b", "c") and stored.info == {"test_accuracy": 0.5}
    assert torch.equal(predict_logits(stored.model, tiny_images.images),
                       predict_logits(model, tiny_images.images))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(GankitError, match="r.safetensors is not a readable gankit recogniser"):
        load_recogniser(path)


def test_report_counts_the_confusion_matrix():
    class Fixed(torch.nn.Module):  # predicts class (pixel value % 3)
        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(1))  # gives the model a device

        def forward(self, x):
            return torch.nn.functional.one_hot(x[:, 0, 0, 0].long() % 3, 3).float()

    images = torch.arange(6, dtype=torch.float32).view(6, 1, 1, 1)
    data = ImageDataset("toy", "test", images, torch.tensor([0, 1, 2, 0, 1, 1]),
                        ("a", "b", "c"))
    report = recognition_report(Fixed(), data)
    # predictions 0 1 2 0 1 2 against truth 0 1 2 0 1 1
    assert report.confusion == [[2, 0, 0], [0, 2, 1], [0, 0, 1]]
    assert report.accuracy == pytest.approx(5 / 6)
    assert report.per_class == pytest.approx({"a": 1.0, "b": 2 / 3, "c": 1.0})


@pytest.fixture(scope="module")
def conditional_digits_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("gan") / "run"
    config = make_config({"data": "digits", "conditional": True, "steps": 4, "batch_size": 16,
                          "width": 8})
    GANTrainer(config, run, progress=False, tensorboard=False).fit()
    return run


def test_extra_images_from_a_conditional_run_are_balanced_and_labelled(conditional_digits_run):
    digits = load_dataset("digits", "train", per_class=5)
    extra = load_extra(conditional_digits_run, digits, per_class=3)
    assert extra.images.shape == (30, 1, 8, 8) and extra.classes == digits.classes
    assert extra.class_counts() == [3] * 10
    assert extra.images.min() >= -1 and extra.images.max() <= 1


def test_extra_from_an_unconditional_run_or_other_classes_is_refused(tmp_path,
                                                                    conditional_digits_run):
    run = tmp_path / "uncond"
    config = make_config({"data": "digits", "steps": 2, "batch_size": 16, "width": 8})
    GANTrainer(config, run, progress=False, tensorboard=False).fit()
    digits = load_dataset("digits", "train", per_class=5)
    with pytest.raises(GankitError, match="trained unconditionally"):
        load_extra(run, digits, per_class=2)
    fashion_like = ImageDataset("fm", "train", digits.images, digits.labels,
                                tuple(f"c{k}" for k in range(10)))
    with pytest.raises(GankitError, match="was trained on classes"):
        load_extra(conditional_digits_run, fashion_like, per_class=2)


def _write_folder(root, names, size=8):
    for k, name in enumerate(names):
        (root / name).mkdir(parents=True)
        for i in range(2):
            pixels = np.full((size, size), 20 * k + i, dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")


def test_extra_folder_classes_are_mapped_by_name_and_strangers_refused(tmp_path):
    digits = load_dataset("digits", "train", per_class=5)
    good = tmp_path / "good"
    _write_folder(good, [digits.classes[7], digits.classes[2]])
    extra = load_extra(good, digits, per_class=99)
    assert sorted(extra.labels.tolist()) == [2, 2, 7, 7]
    bad = tmp_path / "bad"
    _write_folder(bad, [digits.classes[1], "giraffe"])
    with pytest.raises(GankitError, match=r"classes \['giraffe'\] that digits does not have"):
        load_extra(bad, digits, per_class=1)
    with pytest.raises(GankitError, match="neither a gankit run directory nor a folder"):
        load_extra(tmp_path / "missing", digits, per_class=1)


def test_classify_train_and_eval_end_to_end(tmp_path, conditional_digits_run, capsys):
    run = tmp_path / "clf"
    assert main(["classify", "train", "--data", "digits", "--per-class", "20", "--epochs", "3",
                 "--width", "8", "--augment", "classical", "--extra",
                 str(conditional_digits_run), "--out", str(run), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "digits/test: accuracy" in out
    for name in ("recogniser.safetensors", "config.yaml", "report.json",
                 "confusion_digits_test.png"):
        assert (run / name).is_file(), name
    facts = load_recogniser(run / "recogniser.safetensors").info
    assert (facts["real_images"], facts["extra_images"]) == (200, 200)
    assert facts["config"]["augment"] == "classical"

    assert main(["classify", "eval", str(run), "--split", "train"]) == 0
    reports = json.loads((run / "report.json").read_text())
    assert set(reports) == {"digits/test", "digits/train"}
    test = reports["digits/test"]
    assert sum(map(sum, test["confusion"])) == test["n"] == len(load_dataset("digits", "test"))
    assert 0.1 < test["accuracy"] <= 1

    assert main(["classify", "train", "--data", "digits", "--out", str(run)]) == 1
    assert "already holds a recogniser" in capsys.readouterr().err
    assert main(["classify", "eval", str(tmp_path)]) == 1
    assert "no recogniser.safetensors" in capsys.readouterr().err


def test_classify_rejects_too_large_per_class_and_unlabelled_folders(tmp_path, capsys):
    assert main(["classify", "train", "--data", "digits", "--per-class", "1000",
                 "--out", str(tmp_path / "x")]) == 1
    assert "larger than the smallest class" in capsys.readouterr().err
    plain = tmp_path / "plain"
    plain.mkdir()
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(plain / "a.png")
    assert main(["classify", "train", "--data", f"folder:{plain}",
                 "--out", str(tmp_path / "y")]) == 1
    assert "has no labels" in capsys.readouterr().err


def test_classify_batch_larger_than_the_data_shrinks_with_a_note(tmp_path, capsys):
    assert main(["classify", "train", "--data", "digits", "--per-class", "3", "--steps", "2",
                 "--batch-size", "64", "--out", str(tmp_path / "x")]) == 0
    assert ("note: --batch-size 64 is more than the 30 images of digits; using batches of 30"
            in capsys.readouterr().out)
    assert json.loads((tmp_path / "x" / "run.json").read_text())["kind"] == "classifier"
