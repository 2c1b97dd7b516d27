"""The multirun comparison groups jobs by setting (overrides but seed and model), variant and init."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from knowledge_probe.reporting.compare import compare, comparison_markdown


def job(sweep: Path, number: int, overrides: list[str], seed: int, accuracy: float) -> None:
    directory = sweep / f"{number}_job"
    (directory / ".hydra").mkdir(parents=True)
    (directory / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (directory / "reports").mkdir()
    model = next((o.split("=")[1] for o in overrides if o.startswith("model=")), "vanilla")
    rows = [
        {"model": model, "init": "pretrained", "accuracy": accuracy},
        {"model": model, "init": "scratch", "accuracy": 0.02},
        {"model": "majority (London)", "init": "-", "accuracy": 0.05},
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
        ("pretrain.window=prefix", "-"),
        ("pretrain.window=random", "pretrained"),
        ("pretrain.window=random", "scratch"),
        ("pretrain.window=random", "-"),
    }
    row = table[("pretrain.window=random", "pretrained")]
    assert row["runs"] == 2 and row["seeds"] == [0, 1]
    assert row["mean"] == pytest.approx(0.45) and row["std"] == pytest.approx(0.0707, abs=1e-4)
    assert (
        "| pretrain.window=prefix | vanilla | pretrained | 2 | 0,1 | 25.0% |"
        in comparison_markdown(list(table.values()))
    )


def test_overrides_shared_by_every_job_are_left_out_and_a_seeds_baseline_counts_once(
    tmp_path: Path,
) -> None:
    shared = ["experiment=handout", "logger=none"]
    for number, (recipe, model, seed) in enumerate(
        (r, m, s) for r in ("reference", "window") for m in ("vanilla", "perceiver") for s in (0, 1)
    ):
        job(
            tmp_path,
            number,
            [*shared, f"+recipe={recipe}", f"model={model}", f"seed={seed}"],
            seed,
            0.1 * number,
        )
    table = compare(tmp_path)
    assert {r["setting"] for r in table} == {"+recipe=reference", "+recipe=window"}
    rows = {(r["setting"], r["model"], r["init"]): r for r in table}
    assert rows[("+recipe=window", "perceiver", "pretrained")]["mean"] == pytest.approx(0.65)
    baseline = rows[("+recipe=window", "majority (London)", "-")]
    assert baseline["runs"] == 2 and baseline["seeds"] == [0, 1]


def test_jobs_without_extra_overrides_form_the_default_setting(tmp_path: Path) -> None:
    job(tmp_path, 0, ["seed=0"], 0, 0.1)
    job(tmp_path, 1, ["seed=1"], 1, 0.3)
    assert {r["setting"] for r in compare(tmp_path)} == {"default"}
