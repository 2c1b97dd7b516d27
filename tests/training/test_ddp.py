"""Data-parallel training and metric syncing with two CPU processes (gloo)."""

from __future__ import annotations

import csv
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import yaml

from knowledge_probe.evaluation import ExactMatch
from tests.pipeline.conftest import run

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


def test_smoke_pretraining_with_two_ddp_processes_learns(repo_copy):
    run(
        [
            "python",
            "tools/compose_params.py",
            "experiment=smoke",
            "logger=none",
            "trainer=ddp",
            "pretrain.epochs=6",
        ],
        repo_copy,
    )
    params = yaml.safe_load((repo_copy / "params.yaml").read_text())
    assert params["trainer"]["strategy"] == "ddp" and params["trainer"]["devices"] == 2
    run(["python", "-m", "pipeline.prepare"], repo_copy)
    result = run(["python", "-m", "pipeline.pretrain", "--variant", "vanilla"], repo_copy)
    assert result.stdout.count("[pretrain-vanilla]") == 1, "only rank 0 reports and writes"
    with open(repo_copy / "plots" / "pretrain" / "vanilla.csv") as handle:
        losses = [float(row["loss"]) for row in csv.DictReader(handle)]
    assert losses[-1] < losses[0] - 0.3
    assert (repo_copy / "models" / "vanilla" / "pretrain.ckpt").is_file()
    assert (
        torch.load(repo_copy / "models" / "vanilla" / "pretrain.ckpt", weights_only=True)["meta"][
            "tokens"
        ]
        > 0
    )
