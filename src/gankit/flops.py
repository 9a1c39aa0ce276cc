"""Counting the floating-point work a computation does, and the machine's measured peak, for
model FLOPs utilisation (MFU: achieved FLOP/s over the peak; Chowdhery et al. 2022, PaLM)."""

from __future__ import annotations

import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry


class FlopCount(TorchDispatchMode):
    """Sums the FLOPs of every operator PyTorch's FLOP counter knows (matmuls, convolutions,
    forward and backward). torch's FlopCounterMode itself cannot run autograd.grad on an
    input tensor, which is what the gradient attacks do."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        out = func(*args, **(kwargs or {}))
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += count(*args, **(kwargs or {}), out_val=out)
        return out


def peak_matmul_flops(dtype: torch.dtype = torch.float32, device: str = "cpu",
                      size: int = 2048, seconds: float = 3.0) -> float:
    """The best FLOP/s of square matmuls of `size` in `dtype` over about `seconds`: the
    measured peak MFU is read against (a vendor's datasheet peak is rarely reachable)."""
    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    best, deadline = 0.0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        if device != "cpu":
            torch.cuda.synchronize()
        started = time.perf_counter()
        a @ b
        if device != "cpu":
            torch.cuda.synchronize()
        best = max(best, 2 * size**3 / (time.perf_counter() - started))
    return best
