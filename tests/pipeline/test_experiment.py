"""A two-job Hydra multirun: two W&B offline runs, two reports and one comparison table."""

from __future__ import annotations

import json

import pytest

from tests.pipeline.conftest import run
from tests.wandb_records import run_contents

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
    comparison = (sweep / "comparison.md").read_text()
    assert "mean dev accuracy" in comparison
    assert comparison.startswith("Every job: experiment=smoke\n")
    assert {r["setting"] for r in table} == {"default"}
    assert (sweep / "comparison.html").read_text().count("<tr>") == len(table) + 1
    for summary in reports:
        job = summary.parent.parent
        for name in ("attention", "complexity", "hallucination"):
            assert (job / "metrics" / "analysis" / f"{name}.json").is_file()
        page = (job / "reports" / "index.html").read_text()
        assert page.count("<img") == 9 and 'class="missing"' not in page

    runs = sorted((repo_copy / "wandb").glob("offline-run-*/*.wandb"))
    assert len(runs) == 2
    for log, variant in zip(runs, ("vanilla", "perceiver"), strict=True):
        contents = run_contents(log)
        assert {"seed", "model", "pretrain", "finetune", "evaluate", "experiment_name"} <= contents[
            "config"
        ]
        assert {
            f"pretrain_{variant}/loss",
            f"pretrain_{variant}/lr",
            f"pretrain_{variant}/tokens_per_sec",
        } <= contents["history"]
        assert f"finetune_{variant}_scratch/loss" in contents["history"]
        assert {
            f"dev/{variant}-scratch/accuracy",
            f"dev/{variant}-pretrained/accuracy",
        } <= contents["summary"]
        assert {
            "prepared-data:dataset",
            f"{variant}-pretrain:model",
            f"{variant}-pretrained-finetune:model",
            f"{variant}-pretrained-predictions:predictions",
        } <= contents["artifacts"]
        assert any(
            a.endswith(":run_table") and "dev_predictions" in a for a in contents["artifacts"]
        )
