"""The one loop and the one run format: every method stops at a whole step on Ctrl-C, resumes
bit-exactly, and loads from its run directory through `gankit.runs.load_run`."""

import json
import os
import signal

import pytest
import torch
import yaml

from gankit.adversarial.advgan import AdvGANConfig, AdvGANMethod, train_advgan
from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.inpaint.cgan import CompletionConfig, CompletionMethod, train_completion
from gankit.recognize import ClassifierConfig, train_classifier
from gankit.recognize.model import SmallCNN
from gankit.recognize.train import ClassifierMethod
from gankit.runs import load_run, run_kind
from gankit.translate import TranslateConfig, train_translator
from gankit.translate.translator import TranslatorMethod

from state_compare import assert_same_state, tensors

STEPS = 5
WEIGHTS = {"completion": "completion.safetensors", "completion-gan": "completion.safetensors",
           "translator": "translator.safetensors", "advgan": "advgan.safetensors"}
KINDS = ["completion", "completion-gan", "translator", "advgan"]


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train")


def _victim(digits):
    torch.manual_seed(0)
    return SmallCNN(digits.image_shape, digits.num_classes, 4).eval()


# name -> (the method's class, train(out, steps), the weights entry that the loader returns)
def _trainers(digits):
    return {
        "completion": (CompletionMethod, lambda out, steps, **speed: train_completion(
            CompletionConfig(data="digits", steps=steps, batch_size=8, width=4, device="cpu",
                             **speed), out, data=digits, progress=False)),
        "completion-gan": (CompletionMethod, lambda out, steps, **speed: train_completion(
            CompletionConfig(data="digits", steps=steps, batch_size=8, width=4, device="cpu",
                             adv_weight=0.1, **speed), out, data=digits, progress=False)),
        "translator": (TranslatorMethod, lambda out, steps, **speed: train_translator(
            TranslateConfig(a="digits", b="digits@inverted", steps=steps, batch_size=8,
                            width=4, blocks=1, device="cpu", **speed), out, progress=False)),
        "advgan": (AdvGANMethod, lambda out, steps, **speed: train_advgan(
            _victim(digits), digits, AdvGANConfig(steps=steps, batch_size=8, width=4, blocks=1,
                                                  device="cpu", **speed), out, progress=False)),
    }


def _interrupt_at_third_step(monkeypatch, cls):
    original = cls.train_step

    def step_then_interrupt(self):
        out = original(self)
        if self.step == 2:  # the third update is under way
            os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(cls, "train_step", step_then_interrupt)


def _weights(path):
    from gankit.io import load_state

    return load_state(path, parts=("step", "weights", "training"))


@pytest.mark.parametrize("kind", KINDS)
def test_each_method_resumes_bit_exactly_after_ctrl_c(tmp_path, monkeypatch, digits, kind):
    cls, train = _trainers(digits)[kind]
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(straight, STEPS)
    with monkeypatch.context() as patch:
        _interrupt_at_third_step(patch, cls)
        with pytest.raises(GankitError, match="stopped at step 3 of 5.* to continue"):
            train(split, STEPS)
    weights_file = WEIGHTS[kind]
    assert _weights(split / weights_file)["step"] == 3
    train(split, STEPS)  # the same command again continues the run
    assert_same_state(_weights(straight / weights_file), _weights(split / weights_file))
    rows = [json.loads(line)["step"] for line in (split / "metrics.jsonl").open()]
    assert rows == [STEPS]  # one interval: the interrupted one's rows were never past step 3

    kind = kind.removesuffix("-gan")
    assert run_kind(split) == kind
    loaded_kind, loaded = load_run(split, "cpu")
    assert loaded_kind == kind and loaded is not None
    with pytest.raises(GankitError, match=f"already holds a finished {kind} run"):
        train(split, STEPS)


@pytest.mark.parametrize("kind", KINDS)
def test_a_checkpoint_whose_weights_do_not_fit_is_refused_in_one_line(tmp_path, monkeypatch,
                                                                      digits, kind):
    from gankit.io import load_state, save_state

    cls, train = _trainers(digits)[kind]
    with monkeypatch.context() as patch:
        _interrupt_at_third_step(patch, cls)
        with pytest.raises(GankitError, match="stopped at step 3"):
            train(tmp_path, STEPS)
    path = tmp_path / WEIGHTS[kind]
    state = load_state(path)
    module = next(iter(state["weights"].values()))
    name = next(iter(module))
    module[name + "_orig"] = module.pop(name)  # as an older parameter naming would have it
    save_state(path, state)
    with pytest.raises(GankitError, match=f"weights in {path} do not fit .* cannot be resumed"):
        train(tmp_path, STEPS)


@pytest.mark.parametrize("kind", KINDS)
def test_each_method_rolls_back_from_a_nan_to_its_checkpoint_and_goes_on(tmp_path, monkeypatch,
                                                                         digits, kind):
    from gankit.errors import DivergenceError
    from gankit.io import load_state

    cls, train = _trainers(digits)[kind]
    original, seen = cls.train_step, []

    def nan_once_at_step_3(self):
        out = original(self)
        if self.step == 3 and not seen:
            seen.append(self.step)
            out["loss_g"] = torch.tensor(float("nan"))
        return out

    monkeypatch.setattr(cls, "train_step", nan_once_at_step_3)
    train(tmp_path / "once", 6, checkpoint_every=2, log_every=1)
    rows = [json.loads(line) for line in (tmp_path / "once" / "metrics.jsonl").open()]
    [event] = [r for r in rows if "event" in r]
    assert event == {"step": 2, "event": "rollback", "detected_at": 4,
                     "reason": "loss_g=nan", "lr_scale": 0.5, "rollback": 1}
    assert [r["step"] for r in rows if "event" not in r] == [1, 2, 3, 4, 5, 6]
    final = load_state(tmp_path / "once" / WEIGHTS[kind])
    assert final["step"] == 6 and final["training"]["lr_scale"] == 0.5
    configured = yaml.safe_load((tmp_path / "once" / "config.yaml").read_text())["lr"]
    # the completion model on L2 alone (its default) trains no discriminator and keeps none
    has_d = kind != "completion"
    assert ("opt_d" in final["training"]) == has_d
    optimisers = ("opt_g", "opt_d") if has_d else ("opt_g",)
    for opt in optimisers:
        lr = final["training"][opt]["param_groups"][0]["lr"]
        assert lr == pytest.approx(0.5 * configured)

    def nan_from_step_3(self):
        out = original(self)
        if self.step >= 2:
            out["loss_g"] = torch.tensor(float("nan"))
        return out

    monkeypatch.setattr(cls, "train_step", nan_from_step_3)
    with pytest.raises(DivergenceError, match=r"by step 3 \(loss_g=nan\) after 2 rollbacks"):
        train(tmp_path / "always", 6, checkpoint_every=2, log_every=1)
    with pytest.raises(DivergenceError, match=r"by step 3 \(loss_g=nan\); the last good"):
        train(tmp_path / "stop", 6, checkpoint_every=2, log_every=1, rollbacks=0)


def test_a_continued_run_must_keep_its_settings(tmp_path, digits):
    config = CompletionConfig(data="digits", steps=2, batch_size=8, width=4, device="cpu")
    train_completion(config, tmp_path, data=digits, progress=False)
    other = CompletionConfig(data="digits", steps=4, batch_size=8, width=8, device="cpu")
    with pytest.raises(GankitError, match=r"other settings \(width\)"):
        train_completion(other, tmp_path, data=digits, progress=False)
    with pytest.raises(GankitError, match="already holds a completion run; choose another --out"):
        train_translator(TranslateConfig(a="digits", b="digits@inverted", steps=2, width=4,
                                         blocks=1, batch_size=8), tmp_path, progress=False)


def test_the_recogniser_resumes_bit_exactly_after_ctrl_c(tmp_path, monkeypatch, digits):
    config = ClassifierConfig(steps=STEPS, batch_size=16, width=4, augment="strong")
    straight = train_classifier(digits, config, device="cpu")
    checkpoint = tmp_path / "training.safetensors"
    with monkeypatch.context() as patch:
        _interrupt_at_third_step(patch, ClassifierMethod)
        with pytest.raises(GankitError, match="stopped at update 3 of 5.*to continue"):
            train_classifier(digits, config, device="cpu", checkpoint=checkpoint)
    from gankit.io import load_state

    state = load_state(checkpoint)  # the one checkpoint layout every method writes
    assert {"kind", "step", "config", "meta", "weights", "training"} <= set(state)
    assert state["kind"] == "recogniser-training" and state["step"] == 3
    resumed = train_classifier(digits, config, device="cpu", checkpoint=checkpoint)
    assert_same_state(straight.state_dict(), resumed.state_dict())
    with pytest.raises(GankitError, match="other settings"):
        train_classifier(digits, ClassifierConfig(steps=STEPS, width=8), device="cpu",
                         checkpoint=checkpoint)
    other = _trainers(digits)["completion"][1](tmp_path / "cgan", 2) / "completion.safetensors"
    with pytest.raises(GankitError, match="is not a recogniser's training checkpoint"):
        train_classifier(digits, config, device="cpu", checkpoint=other)


def test_unknown_and_missing_run_kinds_get_one_clear_line(tmp_path):
    with pytest.raises(GankitError, match="not a gankit run directory .*no run.json"):
        run_kind(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"kind": "diffusion", "format": 1}))
    with pytest.raises(GankitError, match="kind 'diffusion', which this gankit does not know"):
        load_run(tmp_path)
    (tmp_path / "run.json").write_text("{")
    with pytest.raises(GankitError, match="damaged"):
        run_kind(tmp_path)


def test_a_missing_optional_dependency_names_the_extra_that_installs_it():
    from gankit.extras import require

    assert require("json", "report").dumps([1]) == "[1]"
    with pytest.raises(GankitError, match=r"comes with gankit's 'serve' extra: "
                                          r"pip install 'gankit\[serve\]'"):
        require("gankit_no_such_module", "serve")


def test_run_json_records_versions_hardware_and_keeps_its_start(tmp_path, monkeypatch):
    import gankit.record
    from gankit.runs import read_record, write_manifest

    times, gmtime = iter([0.0, 90.0]), gankit.record.time.gmtime
    monkeypatch.setattr(gankit.record.time, "gmtime",
                        lambda: gmtime(1_700_000_000 + next(times)))
    write_manifest(tmp_path, "gan")
    write_manifest(tmp_path, "gan")  # a later save
    record = read_record(tmp_path)
    assert record["torch"] == torch.__version__ and record["cores"] == os.cpu_count()
    assert record["started"] == "2023-11-14T22:13:20Z" and record["saved"] == "2023-11-14T22:14:50Z"
    assert run_kind(tmp_path) == "gan"
    (tmp_path / "run.json").write_text('{"kind": "gan", "format": 1}')  # from before records
    assert read_record(tmp_path) == {}


@pytest.mark.parametrize("kind", KINDS)
def test_each_method_trains_in_bf16_autocast_when_asked(tmp_path, digits, kind):
    train = _trainers(digits)[kind][1]
    weights = {}
    for amp in ("off", "on"):
        train(tmp_path / amp, 2, amp=amp)
        weights[amp] = _weights(tmp_path / amp / WEIGHTS[kind])["weights"]
    flat = {amp: torch.cat([t.flatten() for t in tensors(w)]) for amp, w in weights.items()}
    assert flat["on"].dtype == torch.float32 and torch.isfinite(flat["on"]).all()
    assert not torch.equal(flat["on"], flat["off"])  # the forward passes ran in bf16
    with pytest.raises(GankitError, match="--amp must be one of auto, on, off, got 'fp8'"):
        train(tmp_path / "bad", 2, amp="fp8")
