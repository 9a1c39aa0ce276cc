"""Adversarial images: FGSM/PGD maths and invariants, agreement with ART, AdvGAN, hardening,
Defense-GAN, bad inputs and the CLI."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from gankit.adversarial import (
    AdvGANConfig,
    AttackSpec,
    Budget,
    PGDConfig,
    Projection,
    PurifiedClassifier,
    attack_images,
    fgsm,
    margin_loss,
    measure_attack,
    project,
    train_advgan,
)
from gankit.adversarial.api import check_inputs, costed_attack
from gankit.adversarial.autoattack import AutoAttackConfig
from gankit.adversarial.verdict import robustness_verdict
from gankit.cli import main
from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.models import build_gan
from gankit.recognize import ClassifierConfig, accuracy, train_classifier


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train"), load_dataset("digits", "test")


@pytest.fixture(scope="module")
def digits_model(digits):
    torch.manual_seed(0)
    # fp32 on every machine (bf16 autocast is on where the CPU has AMX): the ART comparison's
    # 1-point tolerance was set on this model
    return train_classifier(digits[0], ClassifierConfig(epochs=15, width=16, seed=0, amp="off"))


@pytest.fixture(scope="module")
def advgan(digits, digits_model, tmp_path_factory):
    config = AdvGANConfig(eps=0.1, steps=300, batch_size=64, width=8, blocks=1)
    return train_advgan(digits_model, digits[0], config, tmp_path_factory.mktemp("advgan"),
                        progress=False)


def test_fgsm_on_a_linear_model_is_the_analytic_sign_gradient_step():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x = torch.rand(5, 1, 4, 4) - 0.5  # far enough from +-1 that nothing is clipped
    y = torch.tensor([0, 1, 2, 0, 1])
    W = model[1].weight.detach()
    p = torch.softmax(model(x), dim=1).detach()
    gradient = ((p - torch.nn.functional.one_hot(y, 3)) @ W).view_as(x)  # d CE / d x
    eps = 0.05  # on the [0, 1] scale: a step of 0.1 in gankit's [-1, 1]
    assert torch.allclose(fgsm(model, x, y, Budget(eps, "linf")), x + 0.1 * gradient.sign())
    unit = gradient / gradient.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    assert torch.allclose(fgsm(model, x, y, Budget(eps, "l2")), x + 0.1 * unit, atol=1e-6)
    # Targeted: descend the target's cross-entropy instead.
    towards = ((p - torch.nn.functional.one_hot(torch.full_like(y, 2), 3)) @ W).view_as(x)
    assert torch.allclose(fgsm(model, x, y, Budget(eps), target=2), x - 0.1 * towards.sign())


def test_attack_cost_counts_every_pass_and_flop_of_the_images_attacked():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x, y = torch.rand(5, 1, 4, 4) - 0.5, torch.tensor([0, 1, 2, 0, 1])
    forward = 2 * 16 * 3  # multiply-adds of one image through the linear layer
    gradient = 2 * forward  # forward, then backward to the input only (no weight gradients)

    def pgd_cost(images: torch.Tensor, labels: torch.Tensor, spec: AttackSpec) -> tuple[int, int]:
        c = costed_attack(model, images, labels, "pgd", spec)[1]
        return c.passes, c.flops

    fgsm_cost = costed_attack(model, x, y, "fgsm", AttackSpec(Budget(0.1)))[1]
    assert (fgsm_cost.passes, fgsm_cost.flops) == (5 * 2, 5 * gradient)
    # PGD: every restart for an image it cannot fool, one for an image already misclassified.
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.copy_(torch.tensor([1.0, 0.0, 0.0]))
    pgd_spec = AttackSpec(Budget(0.1), pgd=PGDConfig(steps=7, restarts=2))
    one = x[:1]
    assert pgd_cost(one, torch.tensor([0]), pgd_spec) == (2 * (7 * 2 + 1), 2 * (7 * gradient
                                                                         + forward))
    assert pgd_cost(one, torch.tensor([1]), pgd_spec) == (7 * 2 + 1, 7 * gradient + forward)
    # Both images together cost their sum: no image stands for the other.
    both = costed_attack(model, x[:2], torch.tensor([0, 1]), "pgd", pgd_spec)[1]
    assert (both.passes, both.flops) == (3 * (7 * 2 + 1), 3 * (7 * gradient + forward))


def test_margin_loss_is_zero_once_the_goal_is_reached_with_confidence():
    logits = torch.tensor([[5.0, 1.0, 0.0], [1.0, 4.0, 0.0]])
    labels = torch.tensor([0, 0])
    assert margin_loss(logits, labels, None, 0.0).tolist() == [4.0, 0.0]
    assert margin_loss(logits, labels, None, 2.0).tolist() == [6.0, 0.0]  # 3 - 4 + 2 < 0
    assert margin_loss(logits, labels, 2, 0.0).tolist() == [5.0, 4.0]  # best other - target


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_is_at_least_as_strong_as_fgsm(digits, digits_model, norm):
    test = digits[1]
    eps = 0.1 if norm == "linf" else 1.0
    fgsm_images = attack_images(digits_model, test.images, test.labels, "fgsm",
                                AttackSpec(Budget(eps, norm)))
    pgd_images = attack_images(digits_model, test.images, test.labels, "pgd",
                               AttackSpec(Budget(eps, norm), pgd=PGDConfig(steps=20)))
    clean = accuracy(digits_model, test)
    after_fgsm = accuracy(digits_model, replace(test, images=fgsm_images))
    after_pgd = accuracy(digits_model, replace(test, images=pgd_images))
    assert clean > 0.85
    assert after_pgd <= after_fgsm < clean
    assert after_pgd < clean - 0.3


def test_every_attack_stays_inside_the_ball_and_the_pixel_range(digits, digits_model, advgan):
    test = digits[1]
    images = test.images.clone()
    images[:, :, :2] = 1.0  # pixels at the edges of the range, where clipping matters
    images[:, :, -2:] = -1.0
    cases = [("fgsm", Budget(0.1, "linf")), ("pgd", Budget(0.1, "linf")),
             ("fgsm", Budget(1.5, "l2")), ("pgd", Budget(1.5, "l2")),
             ("advgan", Budget(0.1, "linf"))]
    for method, budget in cases:
        spec = AttackSpec(budget, pgd=PGDConfig(steps=5, restarts=2), advgan=advgan)
        made = attack_images(digits_model, images, test.labels, method, spec)
        delta = (made - images).flatten(1) / 2  # back on the [0, 1] scale of the budget
        size = delta.abs().amax(dim=1) if budget.norm == "linf" else delta.norm(dim=1)
        assert size.max() <= budget.eps + 1e-5, (method, budget)
        assert made.min() >= -1.0 and made.max() <= 1.0, (method, budget)
        assert size.max() > 0.5 * budget.eps, (method, budget)  # and it did move them


def test_attacks_agree_with_the_adversarial_robustness_toolbox(digits, digits_model):
    art_evasion = pytest.importorskip("art.attacks.evasion")
    from art.estimators.classification import PyTorchClassifier

    data = digits[0]  # all 1437 training images: one point is ~14 images
    x, y = data.images, data.labels
    art_model = PyTorchClassifier(digits_model, nn.CrossEntropyLoss(), tuple(data.image_shape),
                                  nb_classes=10, clip_values=(-1.0, 1.0))

    def accuracy_of(images):
        with torch.no_grad():
            return (digits_model(torch.as_tensor(images)).argmax(1) == y).float().mean().item()

    ours = attack_images(digits_model, x, y, "fgsm", AttackSpec(Budget(0.1)))
    theirs = art_evasion.FastGradientMethod(art_model, eps=0.2, batch_size=500).generate(
        x.numpy(), y=np.eye(10)[y.numpy()])
    assert abs(accuracy_of(ours) - accuracy_of(theirs)) <= 0.01

    steps = 10
    ours = attack_images(digits_model, x, y, "pgd",
                         AttackSpec(Budget(0.1), pgd=PGDConfig(steps=steps)))
    art_pgd = art_evasion.ProjectedGradientDescentPyTorch(
        art_model, eps=0.2, eps_step=2 * 2.5 * 0.1 / steps, max_iter=steps, num_random_init=1,
        batch_size=500, verbose=False)
    # ART's random start moves its accuracy by ~0.5 point (std) from run to run, so one run could
    # sit a point from ours by chance; the mean of four seeded runs varies by a quarter point.
    theirs = []
    for seed in range(4):
        np.random.seed(seed)
        torch.manual_seed(seed)
        theirs.append(accuracy_of(art_pgd.generate(x.numpy(), y=np.eye(10)[y.numpy()])))
    assert abs(accuracy_of(ours) - float(np.mean(theirs))) <= 0.01


# AutoAttack at a tenth of its standard budgets: enough for an 8x8 recogniser, seconds of CPU.
SMALL_AUTOATTACK = AutoAttackConfig(iterations=20, targets=2, square_queries=300)


class RoundedInput(nn.Module):
    """A recogniser that quantises its input: its gradient is zero almost everywhere, the
    gradient masking that fools gradient attacks and not AutoAttack's Square."""

    def __init__(self, model):
        super().__init__()
        self.model, self.image_shape = model, model.image_shape

    def forward(self, x):
        return self.model(torch.round(x * 4) / 4)


def _accuracy_under(model, test, method, spec):
    made = attack_images(model, test.images, test.labels, method, spec)
    return accuracy(model, replace(test, images=made)), made


def test_autoattack_agrees_with_pgd_and_is_never_weaker_than_fgsm(digits, digits_model):
    pytest.importorskip("art")
    test = digits[1]
    strong = Budget(0.3)  # both should leave nothing standing on an undefended model
    pgd_acc, _ = _accuracy_under(digits_model, test, "pgd",
                                 AttackSpec(strong, pgd=PGDConfig(steps=20)))
    auto_acc, made = _accuracy_under(digits_model, test, "autoattack",
                                     AttackSpec(strong, auto=SMALL_AUTOATTACK))
    assert pgd_acc <= 0.02 and auto_acc <= 0.02
    assert (made - test.images).abs().amax() <= 2 * strong.eps + 1e-6
    assert made.min() >= -1 and made.max() <= 1

    budget = Budget(0.1)
    fgsm_acc, _ = _accuracy_under(digits_model, test, "fgsm", AttackSpec(budget))
    pgd_acc, _ = _accuracy_under(digits_model, test, "pgd",
                                 AttackSpec(budget, pgd=PGDConfig(steps=20)))
    auto_acc, made = _accuracy_under(digits_model, test, "autoattack",
                                     AttackSpec(budget, auto=SMALL_AUTOATTACK))
    assert auto_acc <= fgsm_acc and auto_acc <= pgd_acc + 0.01
    assert (made - test.images).abs().amax() <= 2 * budget.eps + 1e-6
    again, _ = _accuracy_under(digits_model, test, "autoattack",
                               AttackSpec(budget, auto=SMALL_AUTOATTACK))
    assert again == auto_acc  # seeded: the same images give the same verdict


def test_autoattack_sees_through_masked_gradients_that_stop_pgd(digits, digits_model):
    pytest.importorskip("art")
    test, masked = digits[1], RoundedInput(digits_model).eval()
    spec = AttackSpec(Budget(0.1), pgd=PGDConfig(steps=20), auto=SMALL_AUTOATTACK)
    clean = accuracy(masked, test)
    pgd_acc, _ = _accuracy_under(masked, test, "pgd", spec)
    auto_acc, _ = _accuracy_under(masked, test, "autoattack", spec)
    assert pgd_acc > clean - 0.05  # no gradient, no attack
    assert auto_acc < pgd_acc - 0.2  # Square needs none
    stages = spec.robust_after  # the gap is traced to the stage that made it
    assert list(stages) == ["clean", "apgd-ce", "apgd-t", "square"]
    assert stages["clean"] == round(clean * len(test))
    assert stages["square"] == round(auto_acc * len(test))
    assert stages["apgd-t"] > stages["clean"] - 0.05 * len(test)  # the gradient stages fail
    assert stages["square"] < stages["apgd-t"] - 0.2 * len(test)
    counted = AttackSpec(Budget(0.1), auto=SMALL_AUTOATTACK)
    report, _ = measure_attack(masked, test, "autoattack", counted)
    assert report.extra["robust_after"] == stages  # what the benchmark stores


def test_autoattack_refuses_a_target_and_l2(digits, digits_model):
    pytest.importorskip("art")
    test = digits[1]
    with pytest.raises(GankitError, match="autoattack is untargeted"):
        attack_images(digits_model, test.images[:2], test.labels[:2], "autoattack",
                      AttackSpec(target=3))
    with pytest.raises(GankitError, match="L-inf standard version; use --norm linf"):
        attack_images(digits_model, test.images[:2], test.labels[:2], "autoattack",
                      AttackSpec(Budget(1.0, "l2")))


def _result(method, accuracy, n=1000):
    return {"method": method, "norm": "linf", "eps": 0.1, "n": n, "target": None,
            "clean_accuracy": 0.87, "adversarial_accuracy": accuracy}


def test_robustness_verdict_is_computed_from_the_numbers():
    honest = robustness_verdict({"pgd": _result("pgd", 0.760), "aa": _result("autoattack", 0.752)})
    assert honest["strongest"] == "aa" and honest["robust_accuracy"] == 0.752
    assert abs(honest["pgd_minus_autoattack"] - 0.008) < 1e-9
    assert not honest["gradient_masking_suspected"]
    assert "leaves 75.2% of 1,000 images" in honest["sentence"]
    assert "0.8 points below the best PGD: no sign of gradient masking" in honest["sentence"]
    low, high = honest["robust_ci95"]
    assert low < 0.752 < high and 0.02 < high - low < 0.06  # Wilson, n = 1,000

    masked = robustness_verdict({"pgd": _result("pgd", 0.90), "aa": _result("autoattack", 0.40)})
    assert masked["gradient_masking_suspected"]
    assert "50.0 points below the best PGD: PGD overstates robustness" in masked["sentence"]
    traced = _result("autoattack", 0.40)
    traced["extra"] = {"robust_after": {"clean": 870, "apgd-ce": 866, "apgd-t": 860,
                                        "square": 400}}
    traced = robustness_verdict({"pgd": _result("pgd", 0.90), "aa": traced})
    assert ("stages left 870 (clean), 866 (apgd-ce), 860 (apgd-t), 400 (square) standing"
            in traced["sentence"])
    assert traced["gradient_masking_suspected"] and traced["autoattack_gap_source"] == "square"
    assert "Square stage broke 460 images" in traced["sentence"]
    by_loss = _result("autoattack", 0.760)  # PGD-AT's stored counts (2026-12-06)
    by_loss["extra"] = {"robust_after": {"clean": 868, "apgd-ce": 779, "apgd-t": 764,
                                         "square": 760}}
    by_loss = robustness_verdict({"pgd": _result("pgd", 0.777), "aa": by_loss})
    assert by_loss["pgd_minus_autoattack"] > 0.015
    assert by_loss["autoattack_gap_source"] == "gradient"
    assert not by_loss["gradient_masking_suspected"]
    assert "Square added only 4 images" in by_loss["sentence"]
    alone = robustness_verdict({"pgd": _result("pgd", 0.5)})
    assert "AutoAttack has not been run" in alone["sentence"]
    with pytest.raises(ValueError, match="different budgets or image counts"):
        robustness_verdict({"a": _result("pgd", 0.5), "b": _result("pgd", 0.5, n=10)})


def test_advgan_fools_the_model_more_often_than_noise_of_the_same_size(digits, digits_model,
                                                                       advgan):
    test = digits[1]
    report, made = measure_attack(digits_model, test, "advgan", AttackSpec(advgan=advgan))
    linf = (made - test.images).abs().flatten(1).amax(dim=1, keepdim=True).view(-1, 1, 1, 1)
    gen = torch.Generator().manual_seed(0)
    signs = torch.randint(0, 2, test.images.shape, generator=gen).float() * 2 - 1
    noisy = (test.images + signs * linf).clamp(-1, 1)  # random corners of the same L-inf ball
    noise_accuracy = accuracy(digits_model, replace(test, images=noisy))
    assert report.passes_per_image == 1
    assert 0 < report.flops_per_image < measure_attack(
        digits_model, test, "pgd", AttackSpec(pgd=PGDConfig(steps=40)))[0].flops_per_image
    assert report.adversarial_accuracy < noise_accuracy - 0.1
    assert report.success_rate > 0.1


def test_bad_attack_inputs_give_clear_errors(digits, digits_model):
    test = digits[1]
    with pytest.raises(GankitError, match=r"eps 0 is outside \(0, 1\]"):
        check_inputs(digits_model, test, AttackSpec(Budget(0.0)))
    with pytest.raises(GankitError, match=r"eps 1.5 is outside \(0, 1\]"):
        check_inputs(digits_model, test, AttackSpec(Budget(1.5)))
    with pytest.raises(GankitError, match="eps 9 is outside"):  # L2's widest is sqrt(64) = 8
        check_inputs(digits_model, test, AttackSpec(Budget(9.0, "l2")))
    with pytest.raises(GankitError, match="unknown norm 'l3'; choose one of: linf, l2"):
        check_inputs(digits_model, test, AttackSpec(Budget(0.1, "l3")))
    with pytest.raises(GankitError, match="target class 12 is outside the label set 0..9"):
        check_inputs(digits_model, test, AttackSpec(target=12))
    fashion_shaped = replace(test, name="x", images=torch.zeros(len(test), 1, 28, 28))
    with pytest.raises(GankitError, match=r"takes \(1, 8, 8\) images but x has \(1, 28, 28\)"):
        check_inputs(digits_model, fashion_shaped, AttackSpec())
    with pytest.raises(GankitError, match="method advgan needs a trained AdvGAN"):
        attack_images(digits_model, test.images[:2], test.labels[:2], "advgan", AttackSpec())
    with pytest.raises(GankitError, match="unknown attack method 'cw'; choose one of: fgsm"):
        attack_images(digits_model, test.images[:2], test.labels[:2], "cw", AttackSpec())


def test_defense_gan_projects_onto_the_generators_range_and_passes_gradients_straight():
    torch.manual_seed(0)
    G, _ = build_gan("dcgan", (1, 8, 8), z_dim=8, width=8)
    G.eval()
    with torch.no_grad():
        drawable = G(torch.randn(4, 8))
    elsewhere = torch.rand(4, 1, 8, 8) * 2 - 1
    search = Projection(restarts=4, steps=150, lr=0.05)
    near = (project(G, drawable, search) - drawable).pow(2).mean()
    far = (project(G, elsewhere, search) - elsewhere).pow(2).mean()
    assert near < 0.02 and near < 0.1 * far

    classifier = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    defended = PurifiedClassifier(classifier, G, Projection(restarts=2, steps=3))
    x = elsewhere.clone().requires_grad_(True)
    defended(x)[:, 1].sum().backward()
    expected = classifier[1].weight[1].detach().view(1, 1, 8, 8).expand_as(x)
    assert torch.allclose(x.grad, expected)  # BPDA: the projection's Jacobian taken as I


def test_hardening_makes_the_recogniser_more_robust(tmp_path):
    plain, hard = tmp_path / "plain", tmp_path / "hard"
    assert main(["classify", "train", "--data", "digits", "--epochs", "15", "--width", "16",
                 "--out", str(plain), "--no-progress"]) == 0
    assert main(["harden", str(plain), "--method", "fast", "--eps", "0.1", "--out", str(hard),
                 "--no-progress"]) == 0
    facts = (hard / "config.yaml").read_text()
    assert "method: fast" in facts and "eps: 0.1" in facts
    robust = {}
    for name, run in (("plain", plain), ("hard", hard)):
        assert main(["attack", str(run), "--method", "pgd", "--steps", "10", "--n", "400",
                     "--out", str(tmp_path / f"pgd-{name}")]) == 0
        robust[name] = json.loads((tmp_path / f"pgd-{name}" / "attack.json").read_text())
    assert robust["hard"]["adversarial_accuracy"] > robust["plain"]["adversarial_accuracy"] + 0.2
    assert robust["hard"]["clean_accuracy"] > 0.8


def test_attack_commands_end_to_end(tmp_path, capsys):
    clf, gan = tmp_path / "clf", tmp_path / "gan"
    assert main(["classify", "train", "--data", "digits", "--epochs", "3", "--width", "8",
                 "--out", str(clf), "--no-progress"]) == 0
    assert main(["attack", str(clf), "--method", "fgsm", "--n", "50"]) == 0
    out = clf / "attacks" / "fgsm-linf-eps0.1"
    report = json.loads((out / "attack.json").read_text())
    assert report["n"] == 50 and report["linf_max"] <= 0.1 + 1e-6
    assert (out / "grid.png").stat().st_size > 0
    assert "accuracy under attack" in capsys.readouterr().out
    assert main(["attack", str(clf), "--method", "autoattack", "--n", "10",
                 "--out", str(tmp_path / "aa")]) == 0
    auto = json.loads((tmp_path / "aa" / "attack.json").read_text())
    assert auto["method"] == "autoattack" and auto["n"] == 10
    assert auto["linf_max"] <= 0.1 + 1e-6 and 0 <= auto["adversarial_accuracy"] <= 1

    assert main(["attack", "train-advgan", str(clf), "--steps", "5", "--targeted", "3",
                 "--no-progress"]) == 0
    advgan = clf / "advgan" / "target3"
    assert (advgan / "samples.png").is_file()
    assert main(["attack", str(clf), "--method", "advgan", "--advgan", str(advgan),
                 "--targeted", "3", "--n", "20", "--out", str(tmp_path / "a")]) == 0
    assert json.loads((tmp_path / "a" / "attack.json").read_text())["target"] == 3
    assert main(["attack", str(clf), "--method", "advgan", "--advgan", str(advgan),
                 "--n", "20"]) == 1
    assert "trained for target 3, not None" in capsys.readouterr().err

    assert main(["train", "--data", "digits", "--model", "dcgan", "--steps", "5", "--out",
                 str(gan), "--no-progress"]) == 0
    assert main(["defend", str(clf), "--gan", str(gan), "--n", "4", "--restarts", "2",
                 "--projection-steps", "3", "--steps", "2", "--out", str(tmp_path / "d")]) == 0
    defense = json.loads((tmp_path / "d" / "defense.json").read_text())
    assert set(defense["accuracy"]) == {"clean", "transfer", "adaptive_bpda"}
    assert (tmp_path / "d" / "grid.png").is_file()


@pytest.mark.parametrize("argv, message", [
    (["--method", "cw"], "unknown attack method 'cw'"),
    (["--eps", "-0.1"], "eps -0.1 is outside (0, 1]"),
    (["--norm", "l1"], "unknown norm 'l1'; choose one of: linf, l2"),
    (["--targeted", "sneaker"], "unknown class 'sneaker'; choose one of: 0=0"),
])
def test_attack_cli_rejects_bad_input(tmp_path, capsys, argv, message):
    clf = tmp_path / "clf"
    assert main(["classify", "train", "--data", "digits", "--epochs", "0.2", "--width", "4",
                 "--out", str(clf), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["attack", str(clf), "--n", "5", *argv]) == 1
    assert message in capsys.readouterr().err
