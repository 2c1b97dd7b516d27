"""Tracking never hurts the run: offline by default, bounded waits and a fallback when unreachable."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest

from knowledge_probe.tracking import Tracker, start_tracker
from knowledge_probe.tracking.wandb_run import run_directory
from tests.wandb_records import run_contents

CFG = {"backend": "wandb", "project": "kp-test", "mode": "offline", "init_timeout": 5}


@pytest.fixture(autouse=True)
def fresh_wandb_settings():
    """W&B reads its environment (server address, key) once per process, when it is set up; tear
    it down around each test so that each test's environment counts, and no request ever goes
    anywhere but the loopback address a test names."""
    import wandb

    wandb.teardown()
    yield
    wandb.teardown()


def test_disabled_tracker_does_nothing(tmp_path):
    tracker = start_tracker({"backend": "none"}, job_type="t", name="n", group="g", config={})
    assert not tracker.enabled
    tracker.log({"a": 1})
    tracker.log_artifact(tmp_path, "x", "dataset")
    tracker.finish()


def test_offline_run_records_config_metrics_and_artifacts(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    artifact = tmp_path / "model.ckpt"
    artifact.write_bytes(b"weights")
    tracker = start_tracker(
        CFG | {"dir": str(tmp_path)}, job_type="pretrain", name="n", group="g", config={"seed": 3}
    )
    assert tracker.enabled
    tracker.log({"train/loss": 1.5})
    tracker.summary({"dev/accuracy": 0.25})
    tracker.log_artifact(artifact, "vanilla-pretrain", "model")
    tracker.finish()
    # finish() can return before W&B's service has written the run's log (it was seen holding
    # only its 7-byte header); shutting the service down flushes it, as a process's exit does
    import wandb

    wandb.teardown()
    (log,) = (tmp_path / "wandb").glob("offline-run-*/*.wandb")
    contents = run_contents(log)
    assert "seed" in contents["config"] and "train/loss" in contents["history"]
    assert (
        "dev/accuracy" in contents["summary"] and "vanilla-pretrain:model" in contents["artifacts"]
    )
    assert artifact.read_bytes() == b"weights"


@pytest.mark.slow
def test_unreachable_server_falls_back_to_offline_with_one_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv(
        "WANDB_BASE_URL", "http://127.0.0.1:9"
    )  # nothing listens on the discard port
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tracker = start_tracker(
            CFG | {"dir": str(tmp_path)}, job_type="t", name="n", group="g", config={}
        )
        tracker.log({"loss": 1.0})
        tracker.finish()
    assert time.perf_counter() - start < 90
    fallbacks = [
        w for w in caught if "unreachable" in str(w.message) or "could not start" in str(w.message)
    ]
    assert len(fallbacks) == 1, [str(w.message) for w in caught]
    assert list((tmp_path / "wandb").glob("offline-run-*/*.wandb")), (
        "offline files are kept for `wandb sync`"
    )


def test_a_key_refused_locally_is_reported_as_such(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("WANDB_API_KEY", "short")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tracker = start_tracker(
            CFG | {"dir": str(tmp_path)}, job_type="t", name="n", group="g", config={}
        )
        tracker.finish()
    messages = [str(w.message) for w in caught if "W&B" in str(w.message)]
    assert len(messages) == 1 and "refused the API key" in messages[0], messages
    assert "unreachable" not in messages[0]


def test_relative_run_directories_are_taken_from_the_dvc_root(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_DIR", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    assert run_directory(".") == tmp_path / "."
    assert run_directory("/elsewhere") == Path("/elsewhere")
    monkeypatch.setenv("WANDB_DIR", "/chosen")
    assert run_directory(".") == Path("/chosen")
    monkeypatch.delenv("WANDB_DIR")
    monkeypatch.delenv("DVC_ROOT")
    assert run_directory("runs") == Path("runs")


def test_failing_artifact_logging_warns_once_and_keeps_the_file(tmp_path):
    class Broken:
        offline = True

        def log_artifact(self, artifact):
            raise ConnectionError("server gone")

        def log(self, *args, **kwargs):
            raise ConnectionError("server gone")

    path = tmp_path / "metrics.json"
    path.write_text("{}")
    tracker = Tracker(Broken())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tracker.log_artifact(path, "m", "metrics")
        tracker.log({"a": 1})
    assert len(caught) == 1 and "server gone" in str(caught[0].message)
    assert path.read_text() == "{}"
