"""The ecosystem's sweep paths on the smoke settings: Hydra's submitit launcher (run locally, as
on a SLURM cluster) and an Optuna search whose objective comes back to the study."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.pipeline.conftest import run

pytestmark = pytest.mark.slow

SMOKE = [
    "experiment=smoke",
    "logger=none",
    "analysis.complexity.lengths=[64,128]",
    "analysis.complexity.fit_points=2",
]


def test_submitit_launcher_runs_the_jobs_and_the_comparison_is_written(repo_copy) -> None:
    run(
        [
            "python",
            "-m",
            "pipeline.experiment",
            "-m",
            "hydra/launcher=submitit_local",
            *SMOKE,
            "model=vanilla,perceiver",
            "hydra.sweep.dir=multirun/submitit",
        ],
        repo_copy,
    )
    sweep = repo_copy / "multirun" / "submitit"
    assert len(list(sweep.glob("*/reports/summary.json"))) == 2
    assert list((sweep / ".submitit").iterdir()), "the jobs ran through submitit"
    comparison = json.loads((sweep / "comparison.json").read_text())
    assert comparison["failed"] == []
    assert {(r["model"], r["init"]) for r in comparison["rows"] if r["init"] != "-"} == {
        (m, i) for m in ("vanilla", "perceiver") for i in ("scratch", "pretrained")
    }


def test_optuna_search_gets_each_trials_dev_accuracy(repo_copy) -> None:
    run(
        [
            "python",
            "-m",
            "pipeline.experiment",
            "-m",
            "hparams_search=optuna",
            *SMOKE,
            "hydra.sweeper.n_trials=2",
            "hydra.sweep.dir=multirun/optuna",
        ],
        repo_copy,
    )
    sweep = repo_copy / "multirun" / "optuna"
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert set(results["best_params"]) == {
        "pretrain.learning_rate",
        "finetune.learning_rate",
        "model.bottleneck_dim",
    }
    # the objective is the pretrained model's dev accuracy, as each job's report has it
    accuracies = []
    for summary in sweep.glob("*/reports/summary.json"):
        rows = json.loads(summary.read_text())["rows"]
        accuracies += [r["accuracy"] for r in rows if r["init"] == "pretrained"]
    assert len(accuracies) == 2 and results["best_value"] == max(accuracies)
