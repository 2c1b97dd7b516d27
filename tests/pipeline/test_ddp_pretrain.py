"""Data-parallel smoke pretraining with two CPU processes (Lightning DDP, gloo)."""

from __future__ import annotations

import csv

import pytest
import torch
import yaml

from tests.pipeline.conftest import run

pytestmark = pytest.mark.slow


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
