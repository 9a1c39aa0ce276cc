"""The run directory: where one run's config, weights, logs and images live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gankit.device import select_device
from gankit.errors import GankitError
from gankit.models import Discriminator, Generator, build_gan
from gankit.train.config import TrainConfig, make_config
from gankit.train.method_run import read_checkpoint


@dataclass(frozen=True)
class RunDir:
    """Paths inside one run directory."""

    path: Path

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.safetensors"

    @property
    def history(self) -> Path:
        """Earlier checkpoints, history/step-NNNNNNNN.safetensors, the newest few."""
        return self.path / "history"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    def require_checkpoint(self) -> Path:
        if not self.path.is_dir():
            raise GankitError(f"run directory {self.path} does not exist")
        if not self.checkpoint.is_file():
            from gankit.runs import MANIFEST, require_kind

            if (self.path / MANIFEST).is_file():  # another kind of run says what it is
                require_kind(self.path, "gan")
            raise GankitError(f"{self.path} has no checkpoint.safetensors; is it a gankit run "
                              "directory, and did its training save a checkpoint?")
        return self.checkpoint


@dataclass(frozen=True)
class TrainedGenerator:
    generator: Generator
    config: TrainConfig
    classes: tuple[str, ...]
    step: int


def load_generator(run_dir: str | Path, *, ema: bool = True,
                   device: str = "auto") -> TrainedGenerator:
    """The trained generator of a run, in eval mode (its EMA weights when it kept them)."""
    return _load_run(run_dir, ema, device, with_discriminator=False)[0]


def load_gan(run_dir: str | Path, *, ema: bool = True,
             device: str = "auto") -> tuple[TrainedGenerator, Discriminator]:
    """The trained generator and discriminator of a run, both in eval mode."""
    trained, discriminator = _load_run(run_dir, ema, device, with_discriminator=True)
    assert discriminator is not None
    return trained, discriminator


def _load_run(run_dir: str | Path, ema: bool, device: str,
              with_discriminator: bool) -> tuple[TrainedGenerator, Discriminator | None]:
    run = RunDir(run_dir)
    state = read_checkpoint(run.require_checkpoint(), parts=("step", "config", "meta", "weights"))
    config = make_config(state["config"], source=str(run.checkpoint))
    meta = state["meta"]
    generator, discriminator = build_gan(
        config.model, tuple(meta["image_shape"]), z_dim=config.z_dim,
        num_classes=len(meta["classes"]) if config.conditional else 0, width=config.width)
    weights = state["weights"]
    try:
        generator.load_state_dict(weights["generator_ema" if ema and "generator_ema" in weights
                                          else "generator"])
        if with_discriminator:
            discriminator.load_state_dict(weights["discriminator"])
    except RuntimeError as err:
        raise GankitError(f"weights in {run.checkpoint} do not fit the {config.model} "
                          f"architecture: {str(err).splitlines()[0]}") from None
    target = select_device(device)
    generator.to(target).eval()
    trained = TrainedGenerator(generator, config, tuple(meta["classes"]), int(state["step"]))
    if not with_discriminator:
        return trained, None
    for p in discriminator.parameters():
        p.requires_grad_(False)  # a fixed critic: gradients flow to its input only
    return trained, discriminator.to(target).eval()

