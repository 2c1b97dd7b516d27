"""A Hydra multirun: one W&B offline run per stage and job that says what ran, a comparison
table, and a failed job that costs the sweep nothing but itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from tests.pipeline.conftest import run
from tests.wandb_records import check_stage_records

pytestmark = pytest.mark.slow

STAGES_PER_JOB = 11  # prepare, baseline, pretrain, 2 finetune, 2 evaluate, 3 analyses, report


def test_multirun_records_every_stage_and_compares_the_jobs(repo_copy):
    run(
        [
            "python",
            "-m",
            "pipeline.experiment",
            "-m",
            "experiment=smoke",
            "model=vanilla,perceiver",
            "seed=1",
            "hydra.sweep.dir=multirun/test",
        ],
        repo_copy,
    )
    sweep = repo_copy / "multirun" / "test"
    reports = sorted(sweep.glob("*/reports/summary.json"))
    assert len(reports) == 2
    comparison = json.loads((sweep / "comparison.json").read_text())
    table, failed = comparison["rows"], comparison["failed"]
    assert failed == []
    assert {
        ("vanilla", "pretrained"),
        ("vanilla", "scratch"),
        ("perceiver", "pretrained"),
        ("perceiver", "scratch"),
    } <= {(r["model"], r["init"]) for r in table}
    text = (sweep / "comparison.md").read_text()
    assert "mean dev accuracy" in text and text.startswith("Every job: experiment=smoke\n")
    assert {r["setting"] for r in table} == {"default"}
    assert (sweep / "comparison.html").read_text().count("<tr>") == len(table) + 1
    for summary in reports:
        job = summary.parent.parent
        for name in ("attention", "complexity", "hallucination"):
            assert (job / "metrics" / "analysis" / f"{name}.json").is_file()
        page = (job / "reports" / "index.html").read_text()
        assert page.count("<img") == 9 and 'class="missing"' not in page

    logs = sorted((repo_copy / "wandb").glob("offline-run-*/*.wandb"))
    assert len(logs) == 2 * STAGES_PER_JOB
    headers = check_stage_records(logs, setting="experiment=smoke", seed=1)
    assert Counter(h["job_type"] for h in headers) == {
        "prepare": 2,
        "baseline": 2,
        "pretrain": 2,
        "finetune": 4,
        "evaluate": 4,
        "analyze_attention": 2,
        "analyze_complexity": 2,
        "analyze_hallucination": 2,
        "report": 2,
    }
    for header in headers:
        job = header["config"]["job"]
        assert job in (0, 1) and header["name"].endswith(f"-s1-j{job}")


def test_a_failed_job_is_listed_and_the_finished_ones_are_compared(repo_copy):
    command = [
        sys.executable,
        "-m",
        "pipeline.experiment",
        "-m",
        "experiment=smoke",
        "logger=none",
        "pretrain.batch_size=0,32",  # the first job's settings are impossible
        "hydra.sweep.dir=multirun/failing",
    ]
    env = {
        **os.environ,
        "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}",
    }
    done = subprocess.run(
        command, cwd=repo_copy, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode != 0 and "1 of the sweep's jobs failed" in done.stderr
    sweep = repo_copy / "multirun" / "failing"
    comparison = json.loads((sweep / "comparison.json").read_text())
    (failure,) = comparison["failed"]
    assert failure["job"] == "0" and "pretrain.batch_size=0" in failure["overrides"]
    assert "batch_size" in failure["error"]
    finished = {(r["model"], r["init"], r["runs"]) for r in comparison["rows"] if r["init"] != "-"}
    assert finished == {("vanilla", "scratch", 1), ("vanilla", "pretrained", 1)}
    assert "Failed jobs" in (sweep / "comparison.md").read_text()
    assert "Failed jobs" in (sweep / "comparison.html").read_text()
