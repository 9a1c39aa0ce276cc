"""Exact resume, safe checkpoints, Ctrl-C and divergence handling."""

import errno
import os
import signal

import pytest
import torch

from gankit.errors import DivergenceError, GankitError
from gankit.io import atomic_write, load_state, save_state
from gankit.train import GANTrainer, load_generator, make_config

from state_compare import assert_same_state, tensors

# A small conditional DCGAN with EMA, R1 and DiffAugment: all the state a resume restores.
CONFIG = {"model": "dcgan", "width": 8, "conditional": True, "r1": 1.0, "ema": 0.9,
          "diffaugment": "color,translation,cutout",
          "batch_size": 16, "log_every": 2, "sample_every": 3, "checkpoint_every": 100}


def _trainer(tmp_path, data, name, **overrides):
    config = make_config({**CONFIG, **overrides})
    return GANTrainer(config, tmp_path / name, data=data, progress=False, tensorboard=False)


def _inject(trainer, name, value, when):
    """Make `trainer` report `name` = `value` for the updates where `when(step)` holds."""
    original = trainer.train_step

    def step():
        out = original()
        if when(trainer.step):
            out[name] = torch.tensor(value)
        return out

    trainer.train_step = step


def test_resume_is_bit_for_bit_equal_to_an_unbroken_run(tmp_path, tiny_images):
    straight = _trainer(tmp_path, tiny_images, "straight", steps=8)
    straight.fit()

    _trainer(tmp_path, tiny_images, "split", steps=4).fit()
    resumed = GANTrainer.resume(tmp_path / "split", {"steps": 8}, data=tiny_images,
                                progress=False, tensorboard=False)
    assert resumed.step == 4
    resumed.fit()

    expected, got = load_state(straight.run.checkpoint), load_state(resumed.run.checkpoint)
    for state in (expected, got):
        state["config"].pop("steps")
    assert_same_state(expected, got)
    steps = [line.count('"step"') for line in (tmp_path / "split" / "metrics.jsonl").open()]
    assert len(steps) == 4  # rows at steps 2, 4, 6, 8: none lost, none repeated


def test_the_r3gan_objective_resumes_bit_for_bit_and_pairs_real_with_fake(tmp_path,
                                                                           tiny_images,
                                                                           monkeypatch):
    from gankit.losses import GANLoss

    r3gan = {"model": "r3gan", "loss": "relativistic", "r2": 1.0}
    straight = _trainer(tmp_path, tiny_images, "straight", steps=6, **r3gan)
    seen, original = [], GANLoss.generator

    def generator(self, fake, real=None):
        seen.append(real is not None and real.shape == fake.shape)
        return original(self, fake, real)

    with monkeypatch.context() as patch:
        patch.setattr(GANLoss, "generator", generator)
        straight.fit()
    assert len(seen) == 6 and all(seen)  # every G step paired its fakes with real logits
    _trainer(tmp_path, tiny_images, "split", steps=3, **r3gan).fit()
    resumed = GANTrainer.resume(tmp_path / "split", {"steps": 6}, data=tiny_images,
                                progress=False, tensorboard=False)
    resumed.fit()
    expected, got = load_state(straight.run.checkpoint), load_state(resumed.run.checkpoint)
    for state in (expected, got):
        state["config"].pop("steps")
    assert_same_state(expected, got)


def test_resume_refuses_to_change_the_model(tmp_path, tiny_images):
    _trainer(tmp_path, tiny_images, "run", steps=2).fit()
    with pytest.raises(GankitError, match="cannot change model when resuming"):
        GANTrainer.resume(tmp_path / "run", {"model": "mlp"}, data=tiny_images)


def test_ctrl_c_stops_at_a_whole_step_and_the_run_resumes(tmp_path, tiny_images):
    trainer = _trainer(tmp_path, tiny_images, "run", steps=8)
    original_step = trainer.train_step

    def step_then_interrupt():
        out = original_step()
        if trainer.step == 2:  # the third step is under way
            os.kill(os.getpid(), signal.SIGINT)
        return out

    trainer.train_step = step_then_interrupt
    summary = trainer.fit()
    assert summary.stopped_by == "interrupt" and summary.steps == 3
    assert load_state(trainer.run.checkpoint, parts=["step"])["step"] == 3

    resumed = GANTrainer.resume(tmp_path / "run", data=tiny_images, progress=False,
                                tensorboard=False)
    resumed.fit()
    straight = _trainer(tmp_path, tiny_images, "straight", steps=8)
    straight.fit()
    assert_same_state(load_state(straight.run.checkpoint, parts=["weights"]),
                       load_state(resumed.run.checkpoint, parts=["weights"]))


def test_a_second_ctrl_c_during_the_checkpoint_write_lets_the_write_finish(
        tmp_path, tiny_images, capsys):
    trainer = _trainer(tmp_path, tiny_images, "run", steps=8)
    original_step, original_save = trainer.train_step, trainer.save_checkpoint

    def step_then_interrupt():
        out = original_step()
        if trainer.step == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return out

    def interrupted_save():
        os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, as the write starts
        return original_save()

    trainer.train_step, trainer.save_checkpoint = step_then_interrupt, interrupted_save
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    assert "finishing the checkpoint write, then stopping" in capsys.readouterr().err
    assert load_state(trainer.run.checkpoint, parts=["step"])["step"] == 3


def test_divergence_stops_and_keeps_the_last_good_checkpoint(tmp_path, tiny_images):
    trainer = _trainer(tmp_path, tiny_images, "run", steps=10, checkpoint_every=2)
    _inject(trainer, "loss_d", float("nan"), lambda step: step >= 4)
    with pytest.raises(DivergenceError, match=r"diverged by step 6 \(loss_d=nan\).*checkpoint"):
        trainer.fit()
    assert load_state(trainer.run.checkpoint, parts=["step"])["step"] == 4


def test_non_finite_weights_are_never_checkpointed(tmp_path, tiny_images):
    # The losses stay finite (logged every 100 steps); the update at step 4 breaks a weight.
    trainer = _trainer(tmp_path, tiny_images, "run", steps=10, checkpoint_every=1,
                       log_every=100)
    original_step = trainer.train_step

    def break_a_weight():
        out = original_step()
        if trainer.step == 3:  # the update that makes step 4
            with torch.no_grad():
                next(trainer.G.parameters()).view(-1)[0] = float("nan")
        return out

    trainer.train_step = break_a_weight
    with pytest.raises(DivergenceError, match=r"diverged by step 4 \(non-finite values in "
                                              r"generator.*last good checkpoint is"):
        trainer.fit()
    state = load_state(trainer.run.checkpoint)
    assert state["step"] == 3
    floats = [t for t in tensors(state) if t.is_floating_point()]
    assert floats and all(bool(torch.isfinite(t).all()) for t in floats)
    resumed = GANTrainer.resume(trainer.run.path, {"steps": 5}, data=tiny_images,
                                progress=False, tensorboard=False)
    assert resumed.fit().steps == 5


def test_a_loss_that_grows_by_orders_of_magnitude_warns_once(tmp_path, tiny_images, capsys):
    # Without recovery (--rollbacks 0): a finite loss never stops a run, it warns.
    trainer = _trainer(tmp_path, tiny_images, "run", steps=6, log_every=1, rollbacks=0)
    _inject(trainer, "loss_d", 7.6e13, lambda step: step >= 3)
    trainer.fit()
    err = capsys.readouterr().err
    assert err.count("warning: loss_d grew from") == 1
    assert "to 7.6e+13 by step 4: training is unstable" in err


def test_a_hand_edited_config_is_refused_on_resume_and_shown_in_the_report(tmp_path,
                                                                          tiny_images):
    from gankit.report import render_report

    trainer = _trainer(tmp_path, tiny_images, "run", steps=2)
    trainer.fit()
    config = trainer.run.config
    config.write_text(config.read_text().replace("steps: 2", "steps: 9"))  # resumable
    GANTrainer.resume(trainer.run.path, {"steps": 3}, data=tiny_images, progress=False)
    lr = f"lr_g: {trainer.config.lr_g}"
    config.write_text(config.read_text().replace(lr, "lr_g: 0.5"))
    with pytest.raises(GankitError, match=r"config.yaml was edited by hand \(lr_g: 0.5 in "
                                          r"config.yaml, .* in the checkpoint\); the "
                                          r"checkpoint's settings are the run's"):
        GANTrainer.resume(trainer.run.path, {"steps": 3}, data=tiny_images)
    page = render_report([trainer.run.path])
    assert "config.yaml was edited after training and does not describe the weights" in page
    assert "lr_g: 0.5 in config.yaml" in page


def test_the_newest_earlier_checkpoints_are_kept_to_roll_back_to(tmp_path, tiny_images):
    trainer = _trainer(tmp_path, tiny_images, "run", steps=6, checkpoint_every=1,
                       keep_checkpoints=2)
    trainer.fit()
    history = sorted(p.name for p in trainer.run.history.iterdir())
    assert history == ["step-00000004.safetensors", "step-00000005.safetensors"]
    assert load_state(trainer.run.history / history[0], parts=["step"])["step"] == 4
    assert load_state(trainer.run.checkpoint, parts=["step"])["step"] == 6


def test_truncated_checkpoint_names_the_file(tmp_path, tiny_images):
    trainer = _trainer(tmp_path, tiny_images, "run", steps=2)
    trainer.fit()
    data = trainer.run.checkpoint.read_bytes()
    trainer.run.checkpoint.write_bytes(data[: len(data) // 2])
    with pytest.raises(GankitError, match=r"checkpoint .*checkpoint.safetensors is corrupt"):
        load_generator(trainer.run.path)
    trainer.run.checkpoint.write_bytes(b"garbage")
    with pytest.raises(GankitError, match="corrupt or truncated"):
        GANTrainer.resume(trainer.run.path, data=tiny_images)


def test_a_failed_write_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "checkpoint.safetensors"
    atomic_write(target, b"old")

    def crash(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(GankitError, match=r"cannot write .*checkpoint.safetensors: No space "
                                          r"left on device; free some space"):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.safetensors"]


def test_loaded_generator_reproduces_the_trainers_ema_samples(tmp_path, tiny_images):
    trainer = _trainer(tmp_path, tiny_images, "run", steps=3)
    trainer.fit()
    trained = load_generator(trainer.run.path, device="cpu")
    assert trained.step == 3 and trained.classes == ("a", "b", "c")
    with torch.no_grad():
        expected = trainer.sampling_generator()(trainer.fixed_z, trainer.fixed_labels)
        got = trained.generator(trainer.fixed_z, trainer.fixed_labels)
    torch.testing.assert_close(got, expected)


def test_lr_decay_follows_the_budget_so_a_resume_needs_no_state(tmp_path, tiny_images):
    trainer = _trainer(tmp_path, tiny_images, "run", steps=8, lr_decay=0.5)
    scales, step = [], trainer.train_step

    def recording_step():
        scales.append(trainer.opt_g.param_groups[0]["lr"] / trainer.config.lr_g)
        return step()

    trainer.train_step = recording_step
    trainer.fit()
    assert scales == pytest.approx([1, 1, 1, 1, 1, 0.75, 0.5, 0.25])

    # A minutes budget decays on the clock: 45 s into 1 minute is 3/4 of the budget.
    timed = _trainer(tmp_path, tiny_images, "timed", steps=10**6, minutes=1.0, lr_decay=0.5)
    timed._decay_learning_rates(elapsed=45.0)
    assert timed.opt_d.param_groups[0]["lr"] == pytest.approx(0.5 * timed.config.lr_d)
    with pytest.raises(GankitError, match=r"--lr-decay is a share of the budget in \[0, 1\]"):
        make_config({"lr_decay": 1.5})


def _events(trainer):
    import json

    rows = [json.loads(line) for line in trainer.run.metrics.read_text().splitlines()]
    return [r for r in rows if "event" in r]


def test_a_nan_rolls_back_to_the_checkpoint_exactly_and_training_goes_on(tmp_path,
                                                                         tiny_images):
    trainer = _trainer(tmp_path, tiny_images, "run", steps=10, checkpoint_every=2)
    seen = []  # the update that makes step 5, the first time only
    _inject(trainer, "loss_d", float("nan"),
            lambda step: step == 4 and not seen and not seen.append(step))
    original_restore = trainer.restore_checkpoint

    def restore():
        step = original_restore()
        # as it is now, before the learning rates are lowered and training goes on
        save_state(tmp_path / "restored.safetensors", trainer.state_dict())
        return step

    trainer.restore_checkpoint = restore
    summary = trainer.fit()
    assert summary.steps == 10
    [event] = _events(trainer)
    assert event == {"step": 4, "event": "rollback", "detected_at": 6, "reason": "loss_d=nan",
                     "lr_scale": 0.5, "rollback": 1}
    on_disk = load_state(tmp_path / "run" / "history" / "step-00000004.safetensors")
    # the exact checkpointed state, random streams and batch order included
    assert_same_state(on_disk, load_state(tmp_path / "restored.safetensors"))
    final = load_state(trainer.run.checkpoint)
    assert final["step"] == 10 and final["training"]["lr_scale"] == 0.5
    assert final["training"]["opt_g"]["param_groups"][0]["lr"] == pytest.approx(
        0.5 * trainer.config.lr_g)
    steps = [r["step"] for r in map(__import__("json").loads,
                                    trainer.run.metrics.read_text().splitlines())]
    assert steps == [2, 4, 4, 6, 8, 10]  # the rows of the rolled-back steps are replaced
    from gankit.report import render_report

    page = render_report([trainer.run.path])
    assert "training events (metrics.jsonl)" in page and "<td>loss_d=nan</td>" in page


def test_rollbacks_are_bounded_then_the_run_stops_naming_what_was_seen(tmp_path, tiny_images):
    trainer = _trainer(tmp_path, tiny_images, "run", steps=20, checkpoint_every=2)
    _inject(trainer, "loss_g", 3.0e12, lambda step: step >= 4)
    with pytest.raises(DivergenceError, match=r"diverged by step 6 \(loss_g grew from .* to "
                                              r"3e\+12\) after 2 rollbacks; the last good"):
        trainer.fit()
    events = _events(trainer)
    assert [e["lr_scale"] for e in events] == [0.5, 0.25]
    assert all(e["step"] == 4 and "loss_g grew from" in e["reason"] for e in events)


def test_the_collapse_detector_fires_on_one_image_and_not_on_a_healthy_generator(tmp_path,
                                                                               tiny_images):
    trainer = _trainer(tmp_path, tiny_images, "run", steps=20, conditional=False)
    trainer.fit()
    scalars = {"loss_d": 1.0, "loss_g": 1.0, "d_real": 0.6, "d_fake": 0.4}
    assert trainer.health(scalars) is None
    assert trainer.health_state["spread_peak"] > 0

    class OneImage(torch.nn.Module):
        def forward(self, z, labels=None):
            return torch.zeros(len(z), *tiny_images.image_shape)

    trainer.G = OneImage()
    reason = trainer.health(scalars)
    assert reason.startswith("mode collapse: the fixed-noise images are 0.0% as spread out")


def test_a_discriminator_that_wins_outright_is_seen_after_three_intervals(tmp_path,
                                                                         tiny_images):
    trainer = _trainer(tmp_path, tiny_images, "run", steps=2, loss="nonsaturating")
    won = {"loss_d": 0.01, "loss_g": 6.0, "d_real": 0.999, "d_fake": 0.001}
    assert trainer.health(won) is None and trainer.health(won) is None
    assert "discriminator wins outright" in trainer.health(won)
    assert trainer.health({**won, "d_fake": 0.3}) is None  # the streak is broken


def test_a_gan_checkpoint_in_the_flat_layout_of_earlier_versions_loads_and_resumes(
        tmp_path, tiny_images):
    import shutil

    trainer = _trainer(tmp_path, tiny_images, "run", steps=3)
    trainer.fit()
    state = load_state(trainer.run.checkpoint)
    training = state["training"]
    flat = {"step": state["step"], "config": state["config"], "meta": state["meta"],
            **state["weights"], **{k: training[k] for k in ("opt_g", "opt_d", "batches_drawn",
                                                            "lr_scale", "health")},
            "rng": {"noise": training["noise_rng"], "torch": training["torch_rng"]}}
    old = tmp_path / "old"
    shutil.copytree(trainer.run.path, old)
    save_state(old / "checkpoint.safetensors", flat)
    assert_same_state(load_generator(old).generator.state_dict(),
                      load_generator(trainer.run.path).generator.state_dict())
    for run in (trainer.run.path, old):
        GANTrainer.resume(run, {"steps": 5}, data=tiny_images, progress=False,
                          tensorboard=False).fit()
    resumed, legacy = (load_state(run / "checkpoint.safetensors") for run in (trainer.run.path,
                                                                              old))
    assert legacy["kind"] == "gan" and legacy["step"] == 5
    assert_same_state(resumed, legacy)


def test_resuming_from_another_kind_of_checkpoint_is_one_clear_line(tmp_path, tiny_images):
    trainer = _trainer(tmp_path, tiny_images, "run", steps=2)
    trainer.fit()
    state = load_state(trainer.run.checkpoint)
    save_state(trainer.run.checkpoint, {**state, "kind": "completion"})
    with pytest.raises(GankitError, match="is not a GAN run's checkpoint; train one with"):
        GANTrainer.resume(trainer.run.path, data=tiny_images, progress=False, tensorboard=False)


def test_lazy_regularisation_penalises_every_nth_d_step_at_n_times_the_weight(
        tmp_path, tiny_images, monkeypatch):
    import gankit.train.trainer as trainer_module

    calls = []
    real_r1 = trainer_module.r1_penalty
    monkeypatch.setattr(trainer_module, "r1_penalty",
                        lambda *a, **k: calls.append(1) or real_r1(*a, **k))
    lazy = _trainer(tmp_path, tiny_images, "lazy", steps=1, r1=1.0, reg_every=3, d_steps=2)
    every = _trainer(tmp_path, tiny_images, "every", steps=1, r1=3.0, d_steps=2)
    lazy.train_step()
    every.train_step()
    assert len(calls) == 1 + 2  # lazy: d updates 0 (penalised) and 1; every: both
    # With one D update a step, the first is the same objective in both: the same D follows.
    lazy1 = _trainer(tmp_path, tiny_images, "lazy1", steps=1, r1=1.0, reg_every=3)
    every1 = _trainer(tmp_path, tiny_images, "every1", steps=1, r1=3.0)
    lazy1.train_step()
    every1.train_step()
    for a, b in zip(lazy1.D.parameters(), every1.D.parameters(), strict=True):
        assert torch.equal(a, b)
    calls.clear()
    for _ in range(6):  # as the loop does: the step counts the updates done before this one
        lazy1.step += 1
        lazy1.train_step()
    assert len(calls) == 2  # of updates 1..6, updates 3 and 6

