"""A pretraining stage killed mid-run and started again ends exactly where an uninterrupted one does."""

from __future__ import annotations

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

pytestmark = pytest.mark.slow

STAGE = [sys.executable, "-m", "pipeline.pretrain", "--variant", "vanilla"]
RESUME = Path("checkpoints") / "pretrain_vanilla.ckpt"
MODEL = Path("models") / "vanilla" / "pretrain.ckpt"
METRICS = Path("metrics") / "pretrain" / "vanilla.json"


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
            "logger=none",
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
    os.remove(repo_copy / MODEL)

    # SIGKILL: no chance to clean up; the last periodic checkpoint is what survives
    killed = start_and_interrupt(repo_copy, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert not (repo_copy / MODEL).exists()  # no output from a killed run
    resumed = run(STAGE, repo_copy)
    weights, metrics = finished_state(repo_copy)
    assert metrics["resumed_at_step"] > 0 and metrics["resumed_at_step"] % 5 == 0
    assert "[pretrain-vanilla]" in resumed.stdout
    assert weights.keys() == whole_weights.keys()
    assert all(torch.equal(weights[k], whole_weights[k]) for k in weights)
    assert metrics["final_loss"] == whole_metrics["final_loss"]
    assert metrics["tokens"] == whole_metrics["tokens"]
    os.remove(repo_copy / MODEL)

    # SIGTERM: the state after the current step is saved and the stage says how to continue
    terminated = start_and_interrupt(repo_copy, signal.SIGTERM)
    assert terminated.returncode != 0
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
