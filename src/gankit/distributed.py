"""Multi-process training through torch.distributed.

Launch with torchrun (`torchrun --nproc_per_node=K -m gankit train ...`; multi-node: the same
with torchrun's --nnodes/--node-rank/--rdzv-endpoint). torchrun sets RANK, WORLD_SIZE and
LOCAL_RANK; gankit then joins the process group (NCCL on CUDA, gloo on the CPU), wraps the
networks in DistributedDataParallel, gives each rank its strided share of every global batch,
averages logged values over ranks, and lets rank 0 alone write files. Without those variables
everything runs in one process, unchanged.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from gankit.device import select_device
from gankit.errors import GankitError


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str = "auto") -> tuple[Dist, torch.device]:
    """This process's place in the job and its device (cuda:LOCAL_RANK under torchrun)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    target = select_device(device)
    if world_size == 1:
        return Dist(), target
    try:
        rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    except KeyError as err:
        raise GankitError(f"WORLD_SIZE is {world_size} but {err.args[0]} is not set; launch "
                          "with torchrun") from None
    if target.type == "cuda":
        target = torch.device("cuda", local_rank)
        torch.cuda.set_device(target)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if target.type == "cuda" else "gloo")
    return Dist(rank, world_size), target


def leave_distributed() -> None:
    """Leave the process group, all ranks together, once the job is done.

    The group must be destroyed while the interpreter is fully alive: a gloo group still held
    by a DDP wrapper when Python shuts down can abort the process (SIGABRT). Call it after the
    job's modules are out of scope, so that collecting them drops their hold on the group.
    """
    if not dist.is_initialized():
        return
    gc.collect()
    dist.barrier()  # no rank tears down while another still talks to it
    dist.destroy_process_group()


def wrap(module: nn.Module, where: Dist, device: torch.device) -> nn.Module:
    """`module` under DistributedDataParallel when the job has several processes."""
    if not where.enabled:
        return module
    return DistributedDataParallel(module, device_ids=[device] if device.type == "cuda" else None)


def mean_over_ranks(values: dict[str, torch.Tensor], where: Dist) -> dict[str, torch.Tensor]:
    """Each value averaged over all ranks (one all-reduce)."""
    if not where.enabled or not values:
        return values
    stacked = torch.stack([v.detach().float().reshape(()) for v in values.values()])
    dist.all_reduce(stacked)
    return dict(zip(values, stacked / where.world_size, strict=True))


def any_rank(flag: bool, where: Dist, device: torch.device) -> bool:
    """True on every rank when it is true on any (so that all stop at the same step)."""
    if not where.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())
