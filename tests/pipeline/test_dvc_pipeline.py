"""The smoke experiment through `dvc repro` in a temporary copy of the repository."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from tests.pipeline.conftest import run

pytestmark = pytest.mark.slow


def test_smoke_repro_writes_every_metric_then_is_a_noop(repo_copy):
    run(["python", "tools/compose_params.py", "experiment=smoke", "logger=none"], repo_copy)
    run(["dvc", "repro"], repo_copy)
    metrics = repo_copy / "metrics"
    assert {"documents", "vocab_size", "train", "dev", "test"} <= json.loads(
        (metrics / "data.json").read_text()
    ).keys()
    assert {"correct", "total", "accuracy", "place"} <= json.loads(
        (metrics / "baseline.json").read_text()
    ).keys()
    for name in (
        "vanilla-scratch",
        "vanilla-pretrained",
        "perceiver-scratch",
        "perceiver-pretrained",
    ):
        result = json.loads((metrics / "eval" / f"{name}.json").read_text())
        assert result["total"] == 20 and 0 <= result["accuracy"] <= 1
        assert result["correct"] == round(result["accuracy"] * result["total"])
        dev = (repo_copy / "predictions" / f"{name}.dev.tsv").read_text().splitlines()
        test = (repo_copy / "predictions" / f"{name}.test.tsv").read_text().splitlines()
        assert (
            len(dev) == 20 and len(test) == 20 and all(line.count("\t") == 1 for line in dev + test)
        )
    for variant in ("vanilla", "perceiver"):
        pre = json.loads((metrics / "pretrain" / f"{variant}.json").read_text())
        assert pre["parameters"] > 0 and pre["tokens_per_sec"] > 0
    analysis = {
        name: json.loads((metrics / "analysis" / f"{name}.json").read_text())
        for name in ("attention", "complexity", "hallucination")
    }
    assert set(analysis["attention"]) == {
        "copying",
        "averaging",
        "subspace",
        "noisy_small_variance",
        "noisy_single_head",
        "two_heads",
    }
    assert all(isinstance(part["passed"], bool) for part in analysis["attention"].values())
    assert {"passed", "exponents", "crossover", "analytic_crossover"} <= analysis[
        "complexity"
    ].keys()
    assert analysis["complexity"]["flops_vs_analytic_max_gap"] == 0
    assert set(analysis["hallucination"]["models"]) == {
        "vanilla-scratch",
        "vanilla-pretrained",
        "perceiver-scratch",
        "perceiver-pretrained",
    }
    for model in analysis["hallucination"]["models"].values():
        assert {
            "known_place",
            "origin_agreement",
            "origin_chance",
            "dev_in_window_accuracy",
        } <= model.keys()
    shown = run(["dvc", "exp", "show", "--json"], repo_copy).stdout
    assert (
        "metrics/analysis/complexity.json" in shown
        and "metrics/analysis/hallucination.json" in shown
    )
    page = (repo_copy / "reports" / "index.html").read_text()
    assert page.count("<img") == 9 and 'class="missing"' not in page
    assert page.count("<tr><td>vanilla</td><td>scratch</td><td>0</td>") == 1

    summary = json.loads((repo_copy / "reports" / "summary.json").read_text())
    assert len(summary["rows"]) == 5
    assert (repo_copy / "reports" / "summary.md").read_text().count(
        "\n| "
    ) == 7  # header, rule, five rows

    start = time.perf_counter()
    again = run(["dvc", "repro"], repo_copy)
    assert "up to date" in again.stdout.lower() and time.perf_counter() - start < 30


def test_changing_bottleneck_dim_reruns_only_perceiver_stages(repo_copy):
    run(["python", "tools/compose_params.py", "experiment=smoke", "logger=none"], repo_copy)
    run(["dvc", "repro"], repo_copy)
    params = yaml.safe_load((repo_copy / "params.yaml").read_text())
    params["model"]["bottleneck_dim"] = 8
    (repo_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = run(["dvc", "status", "--json"], repo_copy)
    changed = set(json.loads(status.stdout))
    assert changed == {
        "pretrain@perceiver",
        "finetune@perceiver-scratch",
        "finetune@perceiver-pretrained",
        "evaluate@perceiver-scratch",
        "evaluate@perceiver-pretrained",
        "analyze_complexity",  # benchmarks the configured perceiver shape
        "analyze_hallucination",  # asks the perceiver models
        "report",  # shows the configuration
    }
