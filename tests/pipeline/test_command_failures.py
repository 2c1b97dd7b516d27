"""Every expected failure of a command ends in a short message and an exit code, no traceback.

Each case damages a prepared smoke workspace and runs a real command in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.pipeline.conftest import copy_repo, run

pytestmark = pytest.mark.slow


# built once for the whole file (`make test` runs each file's tests on one worker)
@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A smoke workspace with prepared data and a pretrained vanilla model."""
    repo = copy_repo(tmp_path_factory.mktemp("prepared") / "repo")
    run(["python", "tools/compose_params.py", "experiment=smoke", "logger=none"], repo)
    run(["python", "-m", "pipeline.prepare"], repo)
    run(["python", "-m", "pipeline.pretrain", "--variant", "vanilla"], repo)
    return repo


def edit_params(repo: Path, change: Callable[[dict], None]) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    change(params)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def write(relative: str, content: str | bytes) -> Callable[[Path], None]:
    def damage(repo: Path) -> None:
        path = repo / relative
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return damage


def remove_key(section: str, key: str) -> Callable[[Path], None]:
    return lambda repo: edit_params(repo, lambda p: p[section].pop(key))


def set_key(section: str, key: str, value) -> Callable[[Path], None]:
    return lambda repo: edit_params(repo, lambda p: p[section].__setitem__(key, value))


PRETRAIN = ["-m", "pipeline.pretrain", "--variant", "vanilla"]
FINETUNE = ["-m", "pipeline.finetune", "--variant", "vanilla", "--init", "pretrained"]
BASELINE = ["-m", "pipeline.baseline"]

# name: (damage, command, exit code, words the message must contain)
CASES = {
    "invalid YAML": (
        write("params.yaml", "model: [unclosed\nseed: 0\n"),
        PRETRAIN,
        2,
        ["params.yaml:", "not valid YAML", "make params"],
    ),
    "a missing key": (
        remove_key("model", "variant"),
        PRETRAIN,
        2,
        ["model.variant", "make params"],
    ),
    "a wrong type": (set_key("model", "n_layer", "abc"), PRETRAIN, 2, ["n_layer must be int"]),
    "a misspelled key": (
        set_key("model", "n_layers", 2),
        PRETRAIN,
        2,
        ["params.yaml: unknown setting model.n_layers (= 2); model has: variant,"],
    ),
    "no prepared data": (
        lambda repo: shutil.rmtree(repo / "data" / "prepared"),
        BASELINE,
        2,
        ["vocab.json", "not found", "dvc repro prepare"],
    ),
    "a vocabulary that is not UTF-8": (
        write("data/prepared/vocab.json", b"\xff\xfe\x00"),
        BASELINE,
        2,
        ["vocab.json", "damaged vocabulary", "dvc repro prepare"],
    ),
    "a vocabulary that is not JSON": (
        write("data/prepared/vocab.json", "{not json"),
        BASELINE,
        2,
        ["vocab.json", "damaged vocabulary", "dvc repro prepare"],
    ),
    "a vocabulary without its symbols": (
        write("data/prepared/vocab.json", '{"fingerprint": "x"}'),
        BASELINE,
        2,
        ["vocab.json", "damaged vocabulary", "dvc repro prepare"],
    ),
    "a damaged prepared question file": (
        write("data/prepared/train.tsv", "no tab here\n"),
        BASELINE,
        2,
        ["train.tsv:1", "dvc repro prepare"],
    ),
    "an unreadable checkpoint": (
        write("models/vanilla/pretrain.ckpt", b"not a checkpoint"),
        FINETUNE,
        2,
        ["pretrain.ckpt", "cannot read the checkpoint"],
    ),
    "an output that cannot be written": (
        set_key("paths", "metrics", "params.yaml/metrics"),  # a file stands where a folder goes
        BASELINE,
        1,
        ["cannot use", "params.yaml"],
    ),
    "real data that is not there": (
        lambda repo: edit_params(
            repo, lambda p: p.update(data={"source": "cs224n", "path": "no/such/folder"})
        ),
        ["-m", "pipeline.prepare"],
        2,
        ["no/such/folder"],
    ),
    "an impossible analysis setting": (
        lambda repo: edit_params(repo, lambda p: p["analysis"]["complexity"].update(fit_points=9)),
        ["-m", "pipeline.analyze_complexity"],
        2,
        ["analysis.complexity: fit_points must lie in"],
    ),
    "an impossible setting in a Hydra run": (
        lambda repo: None,
        ["-m", "pipeline.experiment", "experiment=smoke", "logger=none", "model.n_layer=abc"],
        2,
        ["n_layer must be int"],
    ),
}


SETTINGS = {
    "a missing key",
    "a wrong type",
    "a misspelled key",
    "an impossible analysis setting",
    "an impossible setting in a Hydra run",
}


@pytest.mark.parametrize("case", list(CASES))
def test_expected_failures_end_in_one_message_and_an_exit_code(prepared, tmp_path, case) -> None:
    damage, command, code, words = CASES[case]
    repo = tmp_path / "repo"
    shutil.copytree(prepared, repo, symlinks=True)
    damage(repo)
    env = {**os.environ, "WANDB_SILENT": "true"}
    env.pop("KP_DEBUG", None)
    done = subprocess.run(
        [sys.executable, *command], cwd=repo, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == code, done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]
    for word in words:
        assert word in done.stderr, (word, done.stderr[-2000:])
    if case in SETTINGS:  # one line names the setting, its value and what is allowed
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr[-2000:]


def test_kp_debug_shows_the_traceback(prepared, tmp_path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(prepared, repo, symlinks=True)
    shutil.rmtree(repo / "data" / "prepared")
    done = subprocess.run(
        [sys.executable, *BASELINE],
        cwd=repo,
        env={**os.environ, "KP_DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0 and "Traceback" in done.stderr
