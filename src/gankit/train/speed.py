"""Speed-ups, resolved once per run from the config and the device.

- amp: bf16 autocast for the networks' forward passes (bf16 keeps fp32's exponent range, so
  GAN losses need no loss scaling); the losses themselves are computed in fp32 from fp32
  logits. `auto` = on where bf16 matrices multiply in hardware (`native_bf16`): CUDA devices
  with bf16 support and CPUs with AMX tiles or AVX512-BF16 instructions; off on other CPUs,
  where bf16 runs far slower than fp32 (docs/design.md has the measurements).
- channels_last: NHWC memory order for convolutional networks, which cuDNN's tensor-core
  kernels prefer; `auto` = on for CUDA.
- compile: torch.compile on the training networks (off unless asked: the first steps pay
  for compilation, which a short run does not recoup).
- pin_memory: page-locked copy of the in-memory dataset so host-to-GPU batch copies overlap
  computation; `auto` = on for CUDA.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from gankit.distributed import Dist, wrap


@dataclass(frozen=True)
class Speedups:
    amp: bool = False
    channels_last: bool = False
    compile: bool = False
    pin_memory: bool = False

    def autocast(self, device: torch.device) -> AbstractContextManager:
        if not self.amp:
            return nullcontext()
        return torch.autocast(device.type, dtype=torch.bfloat16)

    def images(self, images: torch.Tensor) -> torch.Tensor:
        return images.contiguous(memory_format=torch.channels_last) if (
            self.channels_last and images.dim() == 4) else images

    def prepare(self, module: torch.nn.Module) -> torch.nn.Module:
        return module.to(memory_format=torch.channels_last) if self.channels_last else module


class Accelerated(nn.Module):
    """A network's update-time forward: under bf16 autocast when `speed.amp`, its output back
    in fp32, so that every loss is computed in fp32 whatever the network ran in."""

    def __init__(self, module: nn.Module, speed: Speedups, device: torch.device) -> None:
        super().__init__()
        self.module, self.speed, self.device = module, speed, device

    def forward(self, *args: object, **kwargs: object) -> torch.Tensor:
        with self.speed.autocast(self.device):
            out = self.module(*args, **kwargs)
        return out.float() if self.speed.amp else out


class Frozen(nn.Module):
    """`module` called with its parameters' gradients off for the forward pass (their flags
    restored after it): autograd then records no edge to the weights, so the backward of a
    loss through a discriminator (a generator's update) or a fixed generator (a latent search)
    computes the gradients of the input alone, not the weights' that would be thrown away."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, *args: object, **kwargs: object) -> torch.Tensor:
        flags = [p.requires_grad for p in self.module.parameters()]
        self.module.requires_grad_(False)
        try:
            return self.module(*args, **kwargs)
        finally:
            for p, flag in zip(self.module.parameters(), flags, strict=True):
                p.requires_grad_(flag)


def step_module(module: nn.Module, where: Dist, device: torch.device,
                speed: Speedups) -> nn.Module:
    """What an update calls: `module` through DDP when several processes train, compiled when
    asked, in bf16 autocast when on. `module` itself stays plain for saving and sampling."""
    stepped = wrap(module, where, device)
    return Accelerated(torch.compile(stepped) if speed.compile else stepped, speed, device)


def critic_module(module: nn.Module, device: torch.device, speed: Speedups) -> nn.Module:
    """What a generator's update calls a discriminator through: `Frozen`, compiled when asked,
    in bf16 autocast when on. Never under DDP: with no weight gradients there is nothing of
    the discriminator's to all-reduce."""
    return Accelerated(Frozen(torch.compile(module) if speed.compile else module), speed, device)


def _switch(value: str, default: bool) -> bool:
    return default if value == "auto" else value == "on"


def native_bf16(device: torch.device) -> bool:
    """Whether `device` multiplies bf16 matrices in hardware: a CUDA GPU with bf16, or a
    CPU with AMX tiles or AVX512-BF16 dot products (torch has no public query for either)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and (torch.cpu._is_amx_tile_supported()
                                     or torch.cpu._is_avx512_bf16_supported())


def resolve(device: torch.device, *, amp: str = "auto", channels_last: str = "auto",
            compile: bool = False, pin_memory: str = "auto") -> Speedups:
    """The speed-ups to use; the switches are auto, on or off (checked by the config)."""
    cuda = device.type == "cuda"
    return Speedups(amp=_switch(amp, native_bf16(device)),
                    channels_last=_switch(channels_last, cuda),
                    compile=compile, pin_memory=_switch(pin_memory, cuda) and cuda)
