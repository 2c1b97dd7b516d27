"""Training batches that are a pure function of (seed, epoch, batch index), so a run can resume.

A resumed run must see exactly the batches the interrupted one would have seen. The order of an
epoch comes from a generator seeded with (seed, epoch); the random draws inside a batch (span
corruption) from one seeded with (seed, epoch, batch). Nothing reads the global random state,
which is left to dropout (and saved with the resume checkpoint).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Protocol

import torch


class BatchSource(Protocol):
    def __len__(self) -> int: ...

    def batch(
        self, indices: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


def _generator(*keys: int) -> torch.Generator:
    seed = 0
    for key in keys:  # a simple, stable mix of the keys (hash() of tuples is not stable)
        seed = (seed * 1_000_003 + int(key)) % (2**63 - 1)
    return torch.Generator().manual_seed(seed)


class ResumableBatches:
    """Iterate `source` in batches, one epoch per `iter()`, from (`start_epoch`, `skip`) on.

    The start comes from a resume checkpoint (see `ResumeCheckpoint`); every later epoch starts
    from its first batch.

    With `world_size` > 1 each rank takes every world_size-th batch of the same epoch order
    (the order is padded by wrapping around so that every rank has the same number of batches).
    """

    def __init__(
        self,
        source: BatchSource,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        start_epoch: int = 0,
        skip: int = 0,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.source, self.batch_size, self.shuffle, self.seed = source, batch_size, shuffle, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.skip = start_epoch, skip

    def __len__(self) -> int:
        return math.ceil(math.ceil(len(self.source) / self.batch_size) / self.world_size)

    def order(self, epoch: int) -> torch.Tensor:
        n = len(self.source)
        if not self.shuffle:
            return torch.arange(n)
        return torch.randperm(n, generator=_generator(self.seed, epoch))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch; the first one after a resume starts `skip` batches in."""
        epoch, start = self.epoch, self.skip
        self.epoch, self.skip = epoch + 1, 0
        batches = list(torch.split(self.order(epoch), self.batch_size))
        total = len(self) * self.world_size
        batches += batches[: total - len(batches)]  # wrap around for equal shares per rank
        mine = batches[self.rank :: self.world_size]
        for position in range(start, len(mine)):
            yield self.source.batch(mine[position], _generator(self.seed, epoch, position))
