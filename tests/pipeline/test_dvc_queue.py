"""Queued DVC experiments, run in DVC's temporary workspaces, keep their W&B records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pipeline.conftest import run
from tests.wandb_records import run_header

pytestmark = pytest.mark.slow


def experiments_so_far(repo: Path) -> list | None:
    """`dvc exp show --json` while queue workers run; None when the listing raced a worker that
    was creating or removing its temporary workspace (it then fails or stalls), to be asked again."""
    try:
        done = subprocess.run(
            ["dvc", "exp", "show", "--json"],
            cwd=repo,
            env={
                **os.environ,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        return None
    # a worker's workspace or its run file vanished between DVC listing it and reading it
    if done.returncode and any(
        race in done.stderr for race in ("does not exist", "No such file or directory")
    ):
        time.sleep(5)
        return None
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


# a queued experiment that runs three stages: prepare, then finetuning and evaluating one model
QUEUED_MODEL = "vanilla-scratch"
QUEUED_TARGET = f"evaluate@{QUEUED_MODEL}"
QUEUED_STAGES = 3


def accuracy(experiment: dict) -> float | None:
    """The queued model's dev accuracy as `dvc exp show --json` lists it, None while unreadable."""
    revision = (experiment.get("revs") or [{}])[0].get("data") or {}
    metrics = (revision.get("metrics") or {}).get(f"metrics/eval/{QUEUED_MODEL}.json") or {}
    return (metrics.get("data") or {}).get("accuracy")


def test_queued_experiments_keep_their_wandb_runs(repo_copy):
    """Queued experiments run in DVC's temporary workspaces; their offline W&B runs must land in
    the repository itself and name their experiment."""
    for seed in (0, 1):
        run(
            ["dvc", "exp", "run", "--queue", "-S", "experiment=smoke", "-S", f"seed={seed}"]
            + [QUEUED_TARGET],
            repo_copy,
        )
    # the workers it starts outlive it and keep captured pipes open: let them write nowhere
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(
        ["dvc", "queue", "start", "-j", "2"],
        cwd=repo_copy,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=120,
    )
    deadline = time.monotonic() + 900
    while True:
        shown = experiments_so_far(repo_copy)
        if shown is None:
            assert time.monotonic() < deadline, "dvc exp show kept failing"
            continue
        experiments = [e for row in shown for e in row.get("experiments") or []]
        states = {e["name"]: (e.get("executor") or {}).get("state") for e in experiments}
        failed = [name for name, state in states.items() if state == "failed"]
        assert not failed, run(["dvc", "queue", "logs", failed[0]], repo_copy).stdout[-3000:]
        # a listing taken as a worker finishes may show it done before its metrics are readable
        accuracies = [accuracy(e) for e in experiments]
        done = len(states) == 2 and set(states.values()) == {"success"}
        if done and None not in accuracies:
            break
        assert time.monotonic() < deadline, f"not finished: {states}, accuracies {accuracies}"
        time.sleep(5)
    names = set(states)
    # `dvc exp show` lists both, with their accuracies
    assert all(0 <= a <= 1 for a in accuracies)
    logs = sorted(repo_copy.glob("wandb/offline-run-*/*.wandb"))
    assert len(logs) == 2 * QUEUED_STAGES
    recorded: dict[str, set[int]] = {}
    for log in logs:
        config = run_header(log)["config"]
        recorded.setdefault(config["dvc_experiment"], set()).add(config["seed"])
    # each experiment's runs name it, and each experiment ran one seed
    assert set(recorded) == names
    assert sorted(seed for seeds in recorded.values() for seed in seeds) == [0, 1]
