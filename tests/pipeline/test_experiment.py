"""A two-job Hydra multirun: two W&B offline runs, two reports and one comparison table."""

from __future__ import annotations

import json

import pytest

from tests.pipeline.conftest import run

pytestmark = pytest.mark.slow


def test_multirun_writes_one_wandb_run_per_job_and_a_comparison(repo_copy):
    run(
        [
            "python",
            "-m",
            "pipeline.experiment",
            "-m",
            "experiment=smoke",
            "model=vanilla,perceiver",
            "hydra.sweep.dir=multirun/test",
        ],
        repo_copy,
    )
    sweep = repo_copy / "multirun" / "test"
    reports = sorted(sweep.glob("*/reports/summary.json"))
    assert len(reports) == 2
    table = json.loads((sweep / "comparison.json").read_text())
    models = {(r["model"], r["init"]) for r in table}
    assert {
        ("vanilla", "pretrained"),
        ("vanilla", "scratch"),
        ("perceiver", "pretrained"),
        ("perceiver", "scratch"),
    } <= models
    assert "mean dev accuracy" in (sweep / "comparison.md").read_text()

    runs = sorted((repo_copy / "wandb").glob("offline-run-*"))
    assert len(runs) == 2
    for run_dir in runs:
        files = {p.name for p in run_dir.rglob("*")}
        assert any(name.endswith(".wandb") for name in files), files
        config = (run_dir / "files" / "config.yaml").read_text()
        assert "pretrain" in config and "experiment_name" in config
        summary = json.loads((run_dir / "files" / "wandb-summary.json").read_text())
        assert any(k.startswith("dev/") and k.endswith("/accuracy") for k in summary), (
            summary.keys()
        )
        assert any(k.endswith("/tokens_per_sec") for k in summary)
