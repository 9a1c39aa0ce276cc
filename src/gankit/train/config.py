"""The typed training configuration, its named recipes, and YAML round-trips."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gankit.errors import GankitError
from gankit.io import read_yaml
from gankit.options import (
    amp_option,
    check_ranges,
    checkpoint_every_option,
    compile_option,
    device_option,
    minutes_option,
    option,
    rollbacks_option,
    scalar_type,
    seed_option,
    switch_option,
)
from gankit.registry import Registry
from gankit.train.diffaugment import parse_policy


@dataclass
class TrainConfig:
    """Everything that defines a GAN training run. Saved as `config.yaml` in the run directory."""

    recipe: str = option("named preset applied before the other options", "default")
    # data
    data: str = option("dataset name (gankit datasets) or folder:PATH", "fashion-mnist")
    data_root: str | None = option("folder holding the dataset files (searched first)")
    image_size: int | None = option("resize images to N x N (default: the data's own size)", low=8,
                                   high=256)
    per_class: int | None = option("train on N images of each class only (deterministic subset)",
                                  low=1, high=1_000_000)
    holdout: int = option("training images kept out of training (the same ones for every seed) "
                          "to score on with gankit eval --reference-split val; 0 = none", 0,
                          low=0, high=10**8)
    # model
    model: str = option("architecture (gankit models)", "dcgan")
    width: int | None = option("channels / hidden units (default: the architecture's)", low=1,
                              high=1024)
    z_dim: int = option("latent dimensions", 100, low=1, high=4096)
    conditional: bool = option("condition G and D on class labels", False)
    # objective
    loss: str = option("GAN loss (gankit models lists them)", "hinge")
    r1: float = option("R1 penalty weight gamma on real images (0 = off)", 0.0, low=0,
                       high=1e4)
    r2: float = option("R2 penalty weight gamma on generated images (0 = off)", 0.0, low=0,
                       high=1e4)
    reg_every: int = option("apply R1/R2 every N discriminator updates at N times the weight "
                            "(lazy regularisation, Karras et al. 2020)", 1, low=1, high=1000)
    mode_seeking: float = option("mode-seeking weight lambda against within-class collapse "
                               "(Mao et al. 2019; 0 = off)", 0.0, low=0, high=100)
    diffaugment: str = option("DiffAugment transforms D sees on real and fake images, e.g. "
                            "color,translation,cutout (empty = off)", "")
    top_k: float = option("top-k training (Sinha et al. 2020): G's loss keeps only the share of "
                          "its batch that D rates most real, from 1 decaying by 0.99 an epoch "
                          "to this floor (1 = off)", 1.0, above=0, high=1)
    # optimisation
    steps: int = option("generator updates to train for", 10000, low=1, high=10**9)
    epochs: float | None = option("train for this many passes over the data instead of --steps",
                                 above=0, high=1e5)
    minutes: float | None = minutes_option()
    batch_size: int = option("images per batch", 64, low=1, high=8192)
    d_steps: int = option("discriminator updates per generator update", 1, low=1, high=100)
    reuse_fakes: bool = option("the generator's update reuses the last discriminator update's "
                               "generated batch (its latents and labels) instead of drawing a "
                               "new one: one generator forward pass fewer per step (not with "
                               "--mode-seeking, whose latent pairs G's update draws itself)",
                               False)
    lr_g: float = option("generator Adam learning rate", 2e-4, above=0, high=1)
    lr_d: float = option("discriminator Adam learning rate", 2e-4, above=0, high=1)
    beta1: float = option("Adam beta1 for both networks", 0.5, low=0, below=1)
    beta2: float = option("Adam beta2 for both networks", 0.999, low=0, below=1)
    ema: float = option("generator EMA decay for sampling (0 = off)", 0.999, low=0, below=1)
    lr_decay: float = option("last share of the budget (steps or minutes, whichever runs out "
                           "first) over which both learning rates fall linearly to 0 (0 = off)",
                           0.0, low=0, high=1)
    # bookkeeping
    seed: int = seed_option("random seed for data order, noise and initial weights")
    log_every: int = option("steps between logged scalars", 50, low=1, high=10**9)
    sample_every: int = option("steps between sample grids", 500, low=1, high=10**9)
    checkpoint_every: int = checkpoint_every_option(1000)
    keep_checkpoints: int = option("earlier checkpoints kept in RUN/history, to roll back to",
                                   3, low=0, high=1000)
    rollbacks: int = rollbacks_option("a non-finite or exploding loss or a collapse")
    device: str = device_option()
    # speed: auto = on for CUDA (amp: also on CPUs with bf16 units, speed.py); none changes what is
    # computed but amp
    amp: str = amp_option()
    channels_last: str = switch_option("NHWC memory order for conv nets (auto: on for CUDA)")
    compile: bool = compile_option()
    pin_memory: str = switch_option("page-locked dataset for faster GPU copies (auto: on for "
                                    "CUDA)")

    def total_steps(self, dataset_size: int) -> int:
        if self.epochs is None:
            return self.steps
        return max(1, math.ceil(self.epochs * dataset_size / (self.batch_size * self.d_steps)))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


RECIPES: Registry[dict[str, Any]] = Registry("recipe")
# The default's settings came from bench/gan_screen.py's rounds and bench/gan_quality.py's 30-minute
# runs (docs/benchmarks.md, "What the default recipe's changes bought", says which rounds read the
# test split before the screen moved to validation).
RECIPES.add("default", {"model": "dcgan", "width": 32, "loss": "hinge", "ema": 0.9999,
                        "lr_g": 1.2e-3, "lr_d": 1.2e-3, "beta1": 0.0, "beta2": 0.99,
                        "reuse_fakes": True},
            "gankit's default: half-width DCGAN nets (fast on CPU), hinge loss, Adam 1.2e-3 "
            "(0, 0.99), generator EMA, G's update on D's generated batch")
RECIPES.add("dcgan", {"model": "dcgan", "loss": "nonsaturating", "ema": 0.0,
                      "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "batch_size": 64},
            "textbook DCGAN (Radford et al. 2016): BCE, Adam 2e-4, beta1 0.5, batch 64, no EMA")
RECIPES.add("original", {"model": "mlp", "loss": "minimax", "ema": 0.0, "z_dim": 100},
            "the original GAN: MLP nets and the minimax (saturating) loss")
RECIPES.add("sngan", {"model": "resnet", "loss": "hinge", "lr_g": 2e-4, "lr_d": 2e-4,
                      "beta1": 0.0, "beta2": 0.9, "d_steps": 2},
            "ResNet SNGAN (Miyato et al. 2018): hinge, Adam(0, 0.9), 2 D steps, EMA")
# R3GAN's CIFAR-10 settings (Huang et al. 2024, table 7: Adam 2e-4 (0, 0.99), gamma 0.05, EMA).
RECIPES.add("r3gan", {"model": "r3gan", "width": 32, "loss": "relativistic", "r1": 0.05,
                      "r2": 0.05, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.0, "beta2": 0.99,
                      "ema": 0.999},
            "R3GAN (Huang et al. 2024): RpGAN loss with R1 and R2, modernised ResNet without "
            "normalisation, Adam(0, 0.99), generator EMA")

FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _coerce(name: str, value: Any, source: str) -> Any:
    if name not in FIELDS:
        raise GankitError(f"unknown option {name!r} in {source}; valid options: "
                          f"{', '.join(FIELDS)}")
    if value is None:
        return None
    kind = scalar_type(TrainConfig, name)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise GankitError(f"option {name!r} in {source} must be {kind.__name__}, got {value!r}")
    return value


def make_config(overrides: dict[str, Any] | None = None, *, source: str = "options",
                file: str | Path | None = None) -> TrainConfig:
    """Defaults < the recipe's values < a config file < explicit overrides."""
    layers: list[tuple[dict[str, Any], str]] = []
    if file is not None:
        layers.append((read_config_file(file), str(file)))
    layers.append((dict(overrides or {}), source))
    recipe = next((layer["recipe"] for layer, _ in reversed(layers) if "recipe" in layer),
                  "default")
    values: dict[str, Any] = {"recipe": recipe, **RECIPES.get(recipe)}
    for layer, where in layers:
        values.update({k: _coerce(k, v, where) for k, v in layer.items()})
    config = TrainConfig(**values)
    validate(config)
    return config


def validate(config: TrainConfig) -> None:
    if not 0 <= config.lr_decay <= 1:
        raise GankitError(f"--lr-decay is a share of the budget in [0, 1], got {config.lr_decay}")
    check_ranges(config)
    if config.mode_seeking and config.batch_size < 2:
        raise GankitError("--mode-seeking compares pairs of samples: use --batch-size 2 or more")
    parse_policy(config.diffaugment)  # unknown transforms list the choices


def read_config_file(path: str | Path) -> dict[str, Any]:
    values = read_yaml(path, "config file")
    if not isinstance(values, dict):
        raise GankitError(f"config file {path} must hold a mapping of option: value")
    return values


def config_yaml(config: TrainConfig) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
