"""Work that narrows torch's threads gives them back: later jobs of an in-process sweep
still train on every core."""

from __future__ import annotations

import torch

from knowledge_probe.analysis.threads import torch_threads


def test_thread_count_is_restored() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with torch_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with torch_threads(0):  # 0: leave as is
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
