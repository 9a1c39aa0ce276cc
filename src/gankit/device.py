"""Device and seeding decided in one place."""

from __future__ import annotations

import torch

from gankit.errors import GankitError


def select_device(preference: str = "auto") -> torch.device:
    """`auto` picks CUDA when present, else the CPU; `cpu`, `cuda`, `cuda:N` are taken as given."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(preference)
    except RuntimeError:
        raise GankitError(f"unknown device {preference!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GankitError("--device cuda was asked for but no CUDA GPU is visible; "
                          "use --device cpu")
    return device


def seeded_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A private random stream, so that sampling noise never depends on global RNG use elsewhere."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen
