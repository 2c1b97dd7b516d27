"""The exact-match metric syncs across two CPU processes (gloo)."""

from __future__ import annotations

import os
import socket

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp

from knowledge_probe.evaluation import ExactMatch

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _count_shard(rank: int, world: int, port: int, golds: list[str], out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        metric = ExactMatch()
        shard = golds[rank::world]  # each process scores its own questions
        predictions = [g if i % 3 == 0 else "London" for i, g in enumerate(shard)]
        metric.update(predictions, shard)
        result = metric.compute()  # syncs across processes
        out[rank] = (int(result["correct"]), int(result["total"]))
    finally:
        dist.destroy_process_group()


def test_exact_match_counts_every_question_once_across_processes():
    golds = [f"place{i}" for i in range(101)]
    expected_correct = sum(len(range(0, len(golds[r::2]), 3)) for r in range(2))
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_count_shard, args=(2, _free_port(), golds, out), nprocs=2, join=True)
        assert dict(out) == {0: (expected_correct, 101), 1: (expected_correct, 101)}
