"""`data=files`: your own four files, from a directory or an archive, read like the real data."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from knowledge_probe.data.errors import DataFormatError
from pipeline import prepare
from pipeline.cli import ConfigError
from pipeline.params import validate
from pipeline.records import RunContext
from pipeline.stages import stage_view

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "tests" / "data" / "files_example"


def configured(tmp_path: Path, path: str | None) -> OmegaConf:
    overrides = ["experiment=smoke", "logger=none", "data=files"]
    with initialize_config_dir(str(REPO / "conf"), version_base=None):
        cfg = compose(
            config_name="config", overrides=overrides + ([f"data.path={path}"] if path else [])
        )
    for key in ("prepared", "metrics"):
        cfg.paths[key] = str(tmp_path / key)
    return cfg


def prepared(tmp_path: Path, path: Path) -> dict:
    cfg = configured(tmp_path, str(path))
    validate(cfg, "overrides")
    prepare.run(stage_view(cfg, "prepare"), RunContext(cfg, "test"))
    return json.loads((tmp_path / "metrics" / "data.json").read_text())


def test_a_directory_of_your_own_files_is_prepared_and_fingerprinted(tmp_path) -> None:
    stats = prepared(tmp_path, EXAMPLE)
    assert (stats["documents"], stats["train"], stats["dev"], stats["test"]) == (8, 5, 3, 3)
    assert stats["sha256"] == {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in EXAMPLE.iterdir()
    }
    assert (tmp_path / "prepared" / "dev.tsv").read_text().count("\n") == 3


def test_an_archive_holding_the_files_is_read_the_same_way(tmp_path) -> None:
    archive = tmp_path / "mine.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in EXAMPLE.iterdir():
            zf.write(path, f"nested/{path.name}")
    assert (
        prepared(tmp_path / "zip", archive)["sha256"]
        == prepared(tmp_path / "dir", EXAMPLE)["sha256"]
    )


def test_a_malformed_file_is_named_with_its_line(tmp_path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(EXAMPLE, broken)
    lines = (broken / "birth_dev.tsv").read_text().splitlines()
    lines[1] = lines[1].replace("\t", " ")
    (broken / "birth_dev.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"birth_dev.tsv:2: 1 tab-separated field"):
        prepared(tmp_path, broken)


def test_the_path_must_be_given(tmp_path) -> None:
    with pytest.raises(ConfigError, match="missing setting data.path"):
        validate(configured(tmp_path, None), "overrides")
