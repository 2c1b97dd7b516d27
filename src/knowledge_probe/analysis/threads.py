"""A number of CPU threads for one measurement, given back afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Use `count` CPU threads (0: leave as is), restoring the previous number afterwards, so
    that later work in the same process (the next jobs of a sweep) still uses every core."""
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
