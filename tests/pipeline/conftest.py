"""A disposable copy of the repository, so pipeline tests never touch the working tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COPIED = (
    "conf",
    "hydra_plugins",
    "pipeline",
    "src",
    "tools",
    "dvc.yaml",
    "params.yaml",
    "pyproject.toml",
    ".dvc",
    ".dvcignore",
    ".gitignore",
)


def run(
    cmd: list[str], cwd: Path, timeout: int = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`cmd` with this interpreter's scripts first on PATH, and `env` added; it must succeed."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "WANDB_SILENT": "true",
        **(env or {}),
    }
    env.pop("WANDB_MODE", None)
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The tracked project files in a fresh git repository, with `dvc init` state as committed."""
    return copy_repo(tmp_path / "repo")


def copy_repo(target: Path) -> Path:
    target.mkdir()
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(
                source, target / name, ignore=shutil.ignore_patterns("__pycache__", "cache", "tmp")
            )
        elif source.exists():
            shutil.copy2(source, target / name)
    run(["git", "init", "-q"], target)
    run(["git", "-c", "user.name=ci", "-c", "user.email=ci@example.invalid", "add", "-A"], target)
    run(
        [
            "git",
            "-c",
            "user.name=ci",
            "-c",
            "user.email=ci@example.invalid",
            "commit",
            "-qm",
            "copy",
        ],
        target,
    )
    return target
