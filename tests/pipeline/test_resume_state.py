"""Resume checkpoints of stages whose outputs dvc.lock shows complete are removed; others stay."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from pipeline.resume_state import remove_finished, resume_path


def lock_entry(*outputs: Path) -> dict:
    return {
        "cmd": "python -m pipeline.pretrain",
        "outs": [
            {"path": str(p), "hash": "md5", "md5": hashlib.md5(p.read_bytes()).hexdigest()}
            for p in outputs
        ],
    }


def workspace(root: Path) -> tuple[Path, Path]:
    """Two finished training stages in dvc.lock, each with a resume checkpoint left behind."""
    (root / "models").mkdir()
    done = root / "models" / "done.ckpt"
    other = root / "models" / "other.ckpt"
    done.write_bytes(b"weights")
    other.write_bytes(b"other weights")
    lock = root / "dvc.lock"
    stages = {"pretrain@vanilla": lock_entry(done), "pretrain@perceiver": lock_entry(other)}
    lock.write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))
    checkpoints = root / "checkpoints"
    checkpoints.mkdir()
    for stage in ("pretrain@vanilla", "pretrain@perceiver", "finetune@vanilla-scratch"):
        resume_path(checkpoints, stage).write_bytes(b"state")
    return lock, checkpoints


def test_only_finished_stages_lose_their_resume_state(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lock, checkpoints = workspace(tmp_path)
    (tmp_path / "models" / "other.ckpt").write_bytes(b"changed since the lock")

    removed = remove_finished(checkpoints, lock=lock)

    assert removed == [resume_path(checkpoints, "pretrain@vanilla")]
    left = sorted(p.name for p in checkpoints.iterdir())
    # perceiver: its output differs from the lock; finetune: not in the lock at all
    assert left == ["finetune@vanilla-scratch.ckpt", "pretrain@perceiver.ckpt"]


def test_a_missing_output_or_the_running_stage_keeps_its_state(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lock, checkpoints = workspace(tmp_path)
    (tmp_path / "models" / "other.ckpt").unlink()

    assert remove_finished(checkpoints, keep="pretrain@vanilla", lock=lock) == []
    assert len(list(checkpoints.iterdir())) == 3


def test_without_a_lock_nothing_is_removed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, checkpoints = workspace(tmp_path)
    assert remove_finished(checkpoints, lock=tmp_path / "missing.lock") == []
    assert len(list(checkpoints.iterdir())) == 3
