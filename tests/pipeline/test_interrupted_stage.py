"""A pretraining stage killed mid-run and started again ends exactly where an uninterrupted one
does, with one loss curve over every step and one W&B run."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.pipeline.conftest import run
from tests.wandb_records import history_column, run_header

pytestmark = pytest.mark.slow

STAGE = [sys.executable, "-m", "pipeline.pretrain", "--variant", "vanilla"]
RESUME = Path("checkpoints") / "pretrain@vanilla.ckpt"
MODEL = Path("models") / "vanilla" / "pretrain.ckpt"
METRICS = Path("metrics") / "pretrain" / "vanilla.json"
CURVE = Path("plots") / "pretrain" / "vanilla.csv"


def start_and_interrupt(repo: Path, signum: int) -> subprocess.CompletedProcess:
    """Start the stage, wait for its first resume checkpoint, then send `signum`."""
    process = subprocess.Popen(
        STAGE, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not (repo / RESUME).exists():
        assert process.poll() is None, "the stage ended before its first resume checkpoint"
        assert time.monotonic() < deadline, "no resume checkpoint within 120 s"
        time.sleep(0.02)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(STAGE, process.returncode, stdout, stderr)


def curve_steps(repo: Path) -> list[int]:
    with open(repo / CURVE, encoding="utf-8") as handle:
        return [int(row["step"]) for row in csv.DictReader(handle)]


def wandb_logs(repo: Path) -> list[Path]:
    """The offline W&B runs in the order they were started (their folders are named by time)."""
    return sorted(repo.glob("wandb/offline-run-*/*.wandb"), key=lambda p: p.parent.name)


def finished_state(repo: Path) -> tuple[dict[str, torch.Tensor], dict]:
    weights = torch.load(repo / MODEL, weights_only=True)["state_dict"]
    metrics = json.loads((repo / METRICS).read_text())
    return weights, metrics


def test_killed_and_terminated_runs_resume_to_the_same_result(repo_copy: Path) -> None:
    run(
        [
            "python",
            "tools/compose_params.py",
            "experiment=smoke",
            "pretrain.epochs=16",
            "pretrain.decay_epochs=16",
            "resume.every_n_steps=5",
        ],
        repo_copy,
    )
    run(["python", "-m", "pipeline.prepare"], repo_copy)
    run(STAGE, repo_copy)
    assert not (repo_copy / RESUME).exists()  # removed once training finished
    whole_weights, whole_metrics = finished_state(repo_copy)
    assert whole_metrics["resumed_at_step"] == 0
    steps = whole_metrics["steps"]
    assert curve_steps(repo_copy) == list(range(1, steps + 1))
    os.remove(repo_copy / MODEL)

    # SIGKILL: no chance to clean up; the last periodic checkpoint is what survives
    killed = start_and_interrupt(repo_copy, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert not (repo_copy / MODEL).exists()  # no output from a killed run
    resumed = run(STAGE, repo_copy)
    weights, metrics = finished_state(repo_copy)
    assert metrics["resumed_at_step"] > 0 and metrics["resumed_at_step"] % 5 == 0
    assert "[pretrain-vanilla]" in resumed.stdout
    assert "not resumable" not in resumed.stderr  # the batches resume at their position
    assert weights.keys() == whole_weights.keys()
    assert all(torch.equal(weights[k], whole_weights[k]) for k in weights)
    assert metrics["final_loss"] == whole_metrics["final_loss"]
    assert metrics["tokens"] == whole_metrics["tokens"]
    # one curve over every step exactly once, and the resumed run continues the same W&B run
    assert curve_steps(repo_copy) == list(range(1, steps + 1))
    killed_log, resumed_log = wandb_logs(repo_copy)[-2:]
    # a killed run may not have flushed its records: its file name carries the id
    assert killed_log.name == resumed_log.name == f"run-{run_header(resumed_log)['id']}.wandb"
    resumed_steps = history_column(resumed_log, "trainer/global_step")
    assert resumed_steps == list(range(metrics["resumed_at_step"] + 1, steps + 1))
    os.remove(repo_copy / MODEL)

    # SIGTERM: the state after the current step is saved and the stage says how to continue
    terminated = start_and_interrupt(repo_copy, signal.SIGTERM)
    assert terminated.returncode == 128 + signal.SIGTERM  # 143, the state saved
    assert "Traceback" not in terminated.stderr
    assert (
        "SIGTERM received" in terminated.stderr
        and "run the same command again" in terminated.stderr
    )
    assert (repo_copy / RESUME).exists() and not (repo_copy / MODEL).exists()
    run(STAGE, repo_copy)
    weights, metrics = finished_state(repo_copy)
    assert metrics["resumed_at_step"] > 0
    assert all(torch.equal(weights[k], whole_weights[k]) for k in weights)
    assert metrics["final_loss"] == whole_metrics["final_loss"]
    assert curve_steps(repo_copy) == list(range(1, steps + 1))
    terminated_log, resumed_log = wandb_logs(repo_copy)[-2:]
    assert run_header(terminated_log)["id"] == run_header(resumed_log)["id"]
    # prepare, whole, killed, its resumption, terminated, its resumption
    assert len(wandb_logs(repo_copy)) == 6
    # SIGTERM saves the state after the step it stopped at: W&B holds each step exactly once
    logged = history_column(terminated_log, "trainer/global_step") + history_column(
        resumed_log, "trainer/global_step"
    )
    assert logged == list(range(1, steps + 1))
