"""A deterministic, resumable stream of mini-batch indices."""

from __future__ import annotations

import torch

from gankit.errors import GankitError


def batch_within(batch_size: int, size: int, what: str) -> int:
    """`batch_size`, or `size` with a note where `what` holds fewer images than a batch: the
    applications train on whatever data they are given (a few images a class included), so
    their batch shrinks to the data where the GAN trainer's refuses."""
    if batch_size <= size:
        return batch_size
    print(f"note: --batch-size {batch_size} is more than the {size} images of {what}; "
          f"using batches of {size}", flush=True)
    return size


class BatchStream:
    """Epoch e is a fresh permutation seeded by (seed, e); the last incomplete batch is dropped.

    The whole state is the number of batches drawn, so a resumed run sees exactly the batches
    an unbroken run would. With `world_size > 1` each rank takes its strided share of every
    global batch, as torch's DistributedSampler does with a shared seed.
    """

    def __init__(self, size: int, batch_size: int, seed: int, rank: int = 0,
                 world_size: int = 1) -> None:
        if batch_size > size:
            raise GankitError(f"batch size {batch_size} is larger than the dataset ({size} "
                              f"images); use --batch-size {size} or less")
        if batch_size % world_size:
            raise GankitError(f"batch size {batch_size} is not divisible by the world size "
                              f"{world_size}; pick a multiple of {world_size}")
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.batches_per_epoch = size // batch_size
        self.drawn = 0
        self._epoch = -1
        self._order = torch.empty(0, dtype=torch.int64)

    def next(self) -> torch.Tensor:
        epoch, position = divmod(self.drawn, self.batches_per_epoch)
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._order, self._epoch = torch.randperm(self.size, generator=gen), epoch
        self.drawn += 1
        start = position * self.batch_size
        return self._order[start : start + self.batch_size][self.rank :: self.world_size]
