"""The multirun comparison groups jobs by setting (overrides but seed and model), variant and init."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline.compare import compare, markdown


def job(sweep: Path, number: int, overrides: list[str], seed: int, accuracy: float) -> None:
    directory = sweep / f"{number}_job"
    (directory / ".hydra").mkdir(parents=True)
    (directory / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (directory / "reports").mkdir()
    rows = [
        {"model": "vanilla", "init": "pretrained", "accuracy": accuracy},
        {"model": "vanilla", "init": "scratch", "accuracy": 0.02},
    ]
    (directory / "reports" / "summary.json").write_text(json.dumps({"seed": seed, "rows": rows}))


def test_ablation_rows_per_setting_with_mean_and_spread_over_seeds(tmp_path: Path) -> None:
    job(tmp_path, 0, ["model=vanilla", "seed=0", "pretrain.window=prefix"], 0, 0.20)
    job(tmp_path, 1, ["model=vanilla", "seed=1", "pretrain.window=prefix"], 1, 0.30)
    job(tmp_path, 2, ["model=vanilla", "seed=0", "pretrain.window=random"], 0, 0.40)
    job(tmp_path, 3, ["model=vanilla", "seed=1", "pretrain.window=random"], 1, 0.50)
    table = {(r["setting"], r["init"]): r for r in compare(tmp_path)}
    assert set(table) == {
        ("pretrain.window=prefix", "pretrained"),
        ("pretrain.window=prefix", "scratch"),
        ("pretrain.window=random", "pretrained"),
        ("pretrain.window=random", "scratch"),
    }
    row = table[("pretrain.window=random", "pretrained")]
    assert row["runs"] == 2 and row["seeds"] == [0, 1]
    assert row["mean"] == pytest.approx(0.45) and row["std"] == pytest.approx(0.0707, abs=1e-4)
    assert "| pretrain.window=prefix | vanilla | pretrained | 2 | 0,1 | 25.0% |" in markdown(
        list(table.values())
    )


def test_jobs_without_extra_overrides_form_the_default_setting(tmp_path: Path) -> None:
    job(tmp_path, 0, ["seed=0"], 0, 0.1)
    job(tmp_path, 1, ["seed=1"], 1, 0.3)
    assert {r["setting"] for r in compare(tmp_path)} == {"default"}
