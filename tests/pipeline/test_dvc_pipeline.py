"""The smoke experiment through `dvc repro` in a temporary copy of the repository."""

from __future__ import annotations

import csv
import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from knowledge_probe.models.gpt import VARIANTS
from knowledge_probe.training.optim import lr_multiplier
from tests.pipeline.conftest import copy_repo, run
from tests.wandb_records import check_stage_records

pytestmark = pytest.mark.slow


# shared by this file's tests (`make test` runs each file's tests on one worker)
@pytest.fixture(scope="module")
def smoke_experiment(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A repository copy after `dvc exp run -S experiment=smoke`, with that command's output."""
    repo = copy_repo(tmp_path_factory.mktemp("smoke") / "repo")
    return repo, run(["dvc", "exp", "run", "-S", "experiment=smoke"], repo)


def test_smoke_experiment_writes_every_metric_and_record_then_is_a_noop(smoke_experiment):
    repo_copy, result = smoke_experiment
    # quiet consoles: progress bars and summary lines, no library diagnostics
    for noise in ("USDT", "profiler_start", "deprecated", "Traceback"):
        assert noise not in result.stderr and noise not in result.stdout, noise
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
    for variant in VARIANTS:
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
        f"{variant}-{init}" for variant in VARIANTS for init in ("scratch", "pretrained")
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
    assert len(summary["rows"]) == 2 * len(VARIANTS) + 1  # and the baseline
    accuracy_table, rest = (
        (repo_copy / "reports" / "summary.md").read_text().split("## Accuracy against cost")
    )
    cost_table, times_table = rest.split("## Time per stage")
    assert accuracy_table.count("\n| ") == 2 + 2 * len(VARIANTS) + 1  # header, rule, rows
    assert cost_table.count("\n| ") == 2 + len(VARIANTS)  # header, rule, a row per variant
    assert times_table.count("\n| ") == 2 + len(MODEL_STAGES)  # header, rule, the model stages
    assert set(summary["stage_seconds"]) == MODEL_STAGES

    # one W&B run per stage that says what ran, under the experiment's name
    logs = sorted(repo_copy.glob("wandb/offline-run-*/*.wandb"))
    # prepare, baseline, the model stages, 3 analyses, report
    assert len(logs) == 2 + len(MODEL_STAGES) + 3 + 1
    headers = check_stage_records(logs, setting="experiment=smoke", seed=0)
    (experiment,) = {h["config"]["dvc_experiment"] for h in headers}
    assert experiment and all(h["name"].endswith(f"-s0-{experiment}") for h in headers)
    perceiver = [h for h in headers if h["name"].split("-")[1:2] == ["perceiver"]]
    assert len(perceiver) == 5
    assert all(h["config"]["model"]["variant"] == "perceiver" for h in perceiver)

    start = time.perf_counter()
    again = run(["dvc", "repro"], repo_copy)
    assert "up to date" in again.stdout.lower() and time.perf_counter() - start < 60


MODEL_STAGES = {
    f"{stage}@{name}"
    for variant in VARIANTS
    for stage, names in (
        ("pretrain", [variant]),
        ("finetune", [f"{variant}-scratch", f"{variant}-pretrained"]),
        ("evaluate", [f"{variant}-scratch", f"{variant}-pretrained"]),
    )
    for name in names
}
# stages that build every variant's model, and the report, which shows the whole configuration
EVERY_MODEL = {"analyze_complexity", "analyze_hallucination", "report"}


def expected_stale(key: str) -> set[str]:
    """The stages that read `model.<key>`, by what the key means."""
    if key == "variant":  # the stages take their variant from dvc.yaml, not from here
        return {"report"}
    if key in ("chunk_size", "chunk_window"):  # read by chunked models only
        return {s for s in MODEL_STAGES if "chunked" in s} | EVERY_MODEL
    if key in ("bottleneck_dim", "latent_alignment"):  # read by perceiver models only
        return {s for s in MODEL_STAGES if "perceiver" in s} | EVERY_MODEL
    return MODEL_STAGES | EVERY_MODEL | ({"prepare"} if key == "block_size" else set())


def changed(value):
    if isinstance(value, bool) or not isinstance(value, int | float):
        return {"vanilla": "perceiver", "learned": "rotary", "left": "right"}[value]
    return value + 1


def batch_sizes(examples: int, batch: int) -> list[int]:
    return [batch] * (examples // batch) + ([examples % batch] if examples % batch else [])


def test_each_model_key_makes_exactly_its_readers_stale_and_finetuning_decays_like_the_reference(
    smoke_experiment,
):
    repo_copy, _ = smoke_experiment
    original = (repo_copy / "params.yaml").read_text()
    params = yaml.safe_load(original)

    # the reference's finetuning schedule is as long as 200 passes over the *pretraining*
    # corpus (its documents), not over the finetuning questions
    section, block = params["finetune"], params["model"]["block_size"]
    documents = len((repo_copy / "data" / "prepared" / "corpus.txt").read_text().splitlines())
    questions = len((repo_copy / "data" / "prepared" / "train.tsv").read_text().splitlines())
    with open(repo_copy / "plots" / "finetune" / "vanilla-scratch.csv") as handle:
        logged = [float(row["lr"]) for row in csv.DictReader(handle)]
    sizes = batch_sizes(questions, section["batch_size"]) * params["finetune"]["epochs_scratch"]
    seen = [block * sum(sizes[:i]) for i in range(len(sizes))]

    def rates(examples: int) -> list[float]:
        final = int(section["decay_epochs"] * examples * block)
        return [
            section["learning_rate"]
            * (
                lr_multiplier(t, section["warmup_tokens"], final, section["min_lr_ratio"], True)
                if t
                else 1.0
            )
            for t in seen
        ]

    assert logged == pytest.approx(rates(documents), rel=1e-6)
    assert rates(documents) != pytest.approx(rates(questions), rel=1e-6)

    for key, value in params["model"].items():
        params["model"][key] = changed(value)
        (repo_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        status = json.loads(run(["dvc", "status", "--json"], repo_copy).stdout)
        assert set(status) == expected_stale(key), key
        params["model"][key] = value
    (repo_copy / "params.yaml").write_text(original)
    assert "up to date" in run(["dvc", "status"], repo_copy).stdout.lower()

    # A run killed after DVC removed its outputs leaves resume state; the next `dvc repro`
    # restores the outputs from the run cache without running the stage, and `make run`'s
    # tidy-up (as any later stage start) removes the state of the now finished stage.
    (repo_copy / "models" / "vanilla" / "pretrain.ckpt").unlink()
    leftover = repo_copy / "checkpoints" / "pretrain@vanilla.ckpt"
    leftover.parent.mkdir(exist_ok=True)
    leftover.write_bytes(b"state of a killed run")
    assert "skipping run" in run(["dvc", "repro"], repo_copy).stdout
    assert leftover.exists()
    tidy = run(["python", "-m", "pipeline.resume_state"], repo_copy)
    assert not leftover.exists() and "pretrain@vanilla.ckpt" in tidy.stdout
