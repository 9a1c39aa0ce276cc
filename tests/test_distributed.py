"""DistributedDataParallel training on the CPU (gloo): K processes with the global batch split
between them train exactly like one process with the whole batch, rank 0 alone writes
checkpoints, and resuming under DDP matches resuming without."""

import json
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from gankit.distributed import leave_distributed
from gankit.errors import GankitError
from gankit.io import load_state
from gankit.train import GANTrainer, make_config
from gankit.train.batches import BatchStream

CONFIG = {"model": "mlp", "loss": "minimax", "width": 32, "data": "digits", "batch_size": 32,
          "ema": 0.99, "log_every": 1, "checkpoint_every": 3, "sample_every": 1000,
          "seed": 0, "device": "cpu",
          # fp32: the runs must agree to float tolerance, which bf16 rounding (on by default
          # where the CPU has AMX) exceeds when the batch is split
          "amp": "off"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str, steps: int, resume: bool,
            record: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    import gankit.train.method_run as trainer_module  # where checkpoints are written

    write = trainer_module.save_state

    def recording_save(path, state, **options):  # which rank writes which step
        with open(record, "a") as f:
            f.write(f"{rank} {state['step']}\n")
        write(path, state, **options)

    trainer_module.save_state = recording_save
    _fit(out, steps, resume)
    leave_distributed()  # the trainer, out of scope now, no longer holds the group


def _fit(out: str, steps: int, resume: bool) -> None:
    if resume:
        trainer = GANTrainer.resume(out, {"steps": steps}, progress=False, tensorboard=False)
    else:
        trainer = GANTrainer(make_config({**CONFIG, "steps": steps}), out, progress=False,
                             tensorboard=False)
    trainer.fit()


def _ddp(out, steps, resume=False, record=None, world=2):
    mp.spawn(_worker, args=(world, _free_port(), str(out), steps, resume,
                            str(record or out.parent / "saves.txt")), nprocs=world)


def _weights(run):
    state = load_state(run / "checkpoint.safetensors")
    weights = state["weights"]
    return state["step"], {**{f"G.{k}": v for k, v in weights["generator"].items()},
                           **{f"D.{k}": v for k, v in weights["discriminator"].items()},
                           **{f"E.{k}": v for k, v in weights["generator_ema"].items()}}


def _losses(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return torch.tensor([[r["loss_d"], r["loss_g"]] for r in rows])


def _assert_same_training(a, b):
    step_a, wa = _weights(a)
    step_b, wb = _weights(b)
    assert step_a == step_b
    for name in wa:
        assert torch.allclose(wa[name], wb[name], atol=1e-5, rtol=1e-4), name


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "run"
    GANTrainer(make_config({**CONFIG, "steps": 6}), out, progress=False,
               tensorboard=False).fit()
    return out


def test_two_gloo_processes_with_half_batches_match_one_with_the_whole(single, tmp_path):
    record = tmp_path / "saves.txt"
    _ddp(tmp_path / "ddp", 6, record=record)
    _assert_same_training(single, tmp_path / "ddp")
    assert torch.allclose(_losses(single), _losses(tmp_path / "ddp"), atol=1e-5, rtol=1e-4)
    # Checkpoints at steps 3 and 6, each written once, by rank 0 only.
    assert record.read_text().split("\n")[:-1] == ["0 3", "0 6"]


def test_resuming_under_ddp_equals_training_without_a_break(single, tmp_path):
    _ddp(tmp_path / "ddp", 3)
    _ddp(tmp_path / "ddp", 6, resume=True)
    _assert_same_training(single, tmp_path / "ddp")


def test_a_world_size_that_does_not_divide_the_batch_is_refused():
    with pytest.raises(GankitError, match="batch size 33 is not divisible by the world size 2"):
        BatchStream(100, 33, seed=0, rank=0, world_size=2)


def _classify_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from gankit.data import load_dataset
    from gankit.recognize import ClassifierConfig, train_classifier, train_recogniser_run

    config = ClassifierConfig(steps=30, batch_size=64, width=8)
    model = train_classifier(load_dataset("digits", "train"), config, device="cpu")
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.save(weights, f"{out}-weights{rank}.pt")
    train_recogniser_run(out, "digits", config, device="cpu", progress=False)
    leave_distributed()
    assert not dist.is_initialized()


def test_classify_trains_under_ddp_with_ranks_in_step_and_rank_0_writing(tmp_path):
    out = tmp_path / "clf"
    mp.spawn(_classify_worker, args=(2, _free_port(), str(out)), nprocs=2)
    w0 = torch.load(f"{out}-weights0.pt", weights_only=True)
    w1 = torch.load(f"{out}-weights1.pt", weights_only=True)
    assert torch.equal(w0, w1)  # DDP kept the replicas identical
    assert (out / "recogniser.safetensors").is_file() and (out / "report.json").is_file()


def _image_to_image_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from gankit.adversarial import AdvGANConfig, train_advgan
    from gankit.data import load_dataset
    from gankit.inpaint.cgan import CompletionConfig, train_completion
    from gankit.recognize.model import SmallCNN
    from gankit.translate import TranslateConfig, train_translator

    model = train_translator(TranslateConfig(a="digits", b="digits@inverted", steps=4,
                                             batch_size=8, width=4, blocks=1,
                                             device="cpu"), f"{out}/translate",
                             progress=False)
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.save(weights, f"{out}/translator-weights{rank}.pt")
    train_completion(CompletionConfig(data="digits", steps=3, batch_size=8, width=4,
                                      device="cpu"), f"{out}/completion", progress=False)
    digits = load_dataset("digits", "train")
    torch.manual_seed(0)
    victim = SmallCNN(digits.image_shape, digits.num_classes, 4).eval()
    attack = train_advgan(victim, digits, AdvGANConfig(steps=3, batch_size=8, width=4,
                                                       blocks=1, device="cpu"),
                          f"{out}/advgan", progress=False)
    weights = torch.cat([p.detach().flatten() for p in attack.generator.parameters()])
    torch.save(weights, f"{out}/advgan-weights{rank}.pt")
    leave_distributed()


def test_translation_completion_and_advgan_train_under_ddp(tmp_path):
    mp.spawn(_image_to_image_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2)
    for name in ("translator", "advgan"):
        w0 = torch.load(tmp_path / f"{name}-weights0.pt", weights_only=True)
        w1 = torch.load(tmp_path / f"{name}-weights1.pt", weights_only=True)
        assert torch.equal(w0, w1), name
    assert (tmp_path / "translate" / "translator.safetensors").is_file()
    assert (tmp_path / "completion" / "completion.safetensors").is_file()
    assert (tmp_path / "advgan" / "advgan.safetensors").is_file()


def test_resuming_a_checkpoint_of_another_architecture_is_refused(tmp_path):
    from gankit.io import save_state

    small, wide = tmp_path / "small", tmp_path / "wide"
    for run, width in ((small, 16), (wide, 32)):
        GANTrainer(make_config({**CONFIG, "width": width, "steps": 1}), run, progress=False,
                   tensorboard=False).fit()
    state = load_state(small / "checkpoint.safetensors")
    state["weights"]["generator"] = load_state(wide / "checkpoint.safetensors")["weights"][
        "generator"]
    save_state(small / "checkpoint.safetensors", state)  # config says 16, weights are 32 wide
    with pytest.raises(GankitError, match="do not fit the mlp architecture of its config"):
        GANTrainer.resume(small, progress=False, tensorboard=False)
