"""Speed-up switches: what `auto` means on each device, bad values, and that the bf16 and
channels-last paths train (exercised on the CPU whatever its default)."""

import json

import pytest
import torch

from gankit.errors import GankitError
from gankit.io import load_state
from gankit.train import GANTrainer, make_config
from gankit.train.speed import Frozen, Speedups, resolve, step_module


@pytest.mark.parametrize("amx, avx512_bf16", [(False, False), (True, False), (False, True)])
def test_auto_turns_bf16_on_only_for_a_cpu_with_bf16_units_and_the_rest_off(monkeypatch, amx,
                                                                            avx512_bf16):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    cpu = torch.device("cpu")
    native = amx or avx512_bf16
    assert resolve(cpu) == resolve(cpu, amp="on" if native else "off", channels_last="off",
                                   pin_memory="off")
    on = resolve(cpu, amp="on", channels_last="on", pin_memory="on", compile=True)
    assert on.amp and on.channels_last and on.compile
    assert not on.pin_memory  # page-locked memory only helps copies to a GPU


def test_bad_switch_values_are_refused():
    with pytest.raises(GankitError, match="--amp must be one of auto, on, off, got 'fast'"):
        make_config({"amp": "fast"})
    with pytest.raises(GankitError, match="--channels-last must be one of"):
        make_config({"channels_last": "yes"})


def test_bf16_autocast_and_channels_last_train_with_fp32_losses_and_weights(tmp_path):
    config = make_config({"data": "digits", "model": "dcgan", "width": 8, "steps": 4,
                          "batch_size": 16, "log_every": 1, "amp": "on",
                          "channels_last": "on", "device": "cpu"})
    trainer = GANTrainer(config, tmp_path / "run", progress=False, tensorboard=False)
    assert trainer.speed.amp and trainer.speed.channels_last
    trainer.fit()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text()
            .splitlines()]
    assert len(rows) == 4 and all(torch.isfinite(torch.tensor(r["loss_d"])) for r in rows)
    weights = load_state(tmp_path / "run" / "checkpoint.safetensors")["weights"]["generator"]
    assert all(w.dtype in (torch.float32, torch.int64) for w in weights.values())


def test_step_module_runs_bf16_inside_returns_fp32_and_compiles_when_asked():
    from gankit.distributed import Dist

    cpu, net, seen = torch.device("cpu"), torch.nn.Linear(4, 3), []
    net.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    x = torch.randn(2, 4)
    assert step_module(net, Dist(), cpu, Speedups(amp=True))(x).dtype == torch.float32
    assert step_module(net, Dist(), cpu, Speedups())(x).dtype == torch.float32
    assert seen == [torch.bfloat16, torch.float32]  # what the network itself computed in
    compiled = step_module(net, Dist(), cpu, Speedups(compile=True))
    assert isinstance(compiled.module, torch._dynamo.eval_frame.OptimizedModule)


def test_frozen_passes_the_input_gradient_computes_no_weight_gradient_and_restores_flags():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))
    net[2].bias.requires_grad_(False)  # a flag that was off stays off
    x = torch.randn(3, 4, requires_grad=True)
    net(x).sum().backward()
    expected, x.grad = x.grad.clone(), None
    net.zero_grad(set_to_none=True)
    out = Frozen(net)(x)
    assert all(p.requires_grad for p in net.parameters() if p is not net[2].bias)
    assert not net[2].bias.requires_grad
    out.sum().backward()  # after the flags came back: still no weight gradient
    torch.testing.assert_close(x.grad, expected)
    assert all(p.grad is None for p in net.parameters())


def test_the_generators_update_computes_no_discriminator_weight_gradient(tmp_path):
    config = make_config({"data": "digits", "model": "dcgan", "width": 8, "batch_size": 16,
                          "device": "cpu"})
    trainer = GANTrainer(config, tmp_path / "run", progress=False, tensorboard=False)
    computed = []
    for p in trainer.D.parameters():
        p.register_hook(lambda grad: computed.append(1))
    trainer.train_step()
    assert len(computed) == len(list(trainer.D.parameters()))  # the D step's, once each


@pytest.mark.parametrize(("options", "passes"), [
    ({"d_steps": 2, "reuse_fakes": False}, 3), ({"d_steps": 2, "reuse_fakes": True}, 2),
    ({"reuse_fakes": True, "mode_seeking": 1.0}, 2),  # mode seeking draws G's pairs itself
])
def test_reused_fakes_save_one_generator_pass_per_step(tmp_path, options, passes):
    config = make_config({"data": "digits", "model": "dcgan", "width": 8, "batch_size": 16,
                          "device": "cpu", **options})
    trainer = GANTrainer(config, tmp_path / "run", progress=False, tensorboard=False)
    seen = []
    trainer.G.register_forward_hook(lambda module, inputs, output: seen.append(
        torch.is_grad_enabled()))
    trainer.train_step()
    assert len(seen) == passes and seen[-1]  # G's update differentiates its last pass
