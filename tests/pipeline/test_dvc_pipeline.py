"""The smoke experiment through `dvc repro` in a temporary copy of the repository."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from knowledge_probe.training.optim import lr_multiplier
from tests.pipeline.conftest import run
from tests.wandb_records import check_stage_records, run_header

pytestmark = pytest.mark.slow


def test_smoke_experiment_writes_every_metric_and_record_then_is_a_noop(repo_copy):
    result = run(["dvc", "exp", "run", "-S", "experiment=smoke"], repo_copy)
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

    # one W&B run per stage that says what ran, under the experiment's name
    logs = sorted(repo_copy.glob("wandb/offline-run-*/*.wandb"))
    assert (
        len(logs) == 16
    )  # prepare, baseline, 2 pretrain, 4 finetune, 4 evaluate, 3 analyses, report
    headers = check_stage_records(logs, setting="experiment=smoke", seed=0)
    (experiment,) = {h["config"]["dvc_experiment"] for h in headers}
    assert experiment and all(h["name"].endswith(f"-s0-{experiment}") for h in headers)
    perceiver = [h for h in headers if h["name"].split("-")[1:2] == ["perceiver"]]
    assert len(perceiver) == 5
    assert all(h["config"]["model"]["variant"] == "perceiver" for h in perceiver)

    start = time.perf_counter()
    again = run(["dvc", "repro"], repo_copy)
    assert "up to date" in again.stdout.lower() and time.perf_counter() - start < 30


MODEL_STAGES = {
    f"{stage}@{name}"
    for variant in ("vanilla", "perceiver")
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
    if key in ("chunk_size", "chunk_window"):  # read by no body the pipeline trains, but
        return {"analyze_hallucination", "report"}  # asked of whichever finetuned models exist
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
    repo_copy,
):
    run(["python", "tools/compose_params.py", "experiment=smoke", "logger=none"], repo_copy)
    run(["dvc", "repro"], repo_copy)
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


def experiments_so_far(repo: Path) -> list | None:
    """`dvc exp show --json` while queue workers run; None when the listing raced a worker that
    was creating or removing its temporary workspace (it then fails or stalls), to be asked again."""
    try:
        done = subprocess.run(
            ["dvc", "exp", "show", "--json"],
            cwd=repo,
            env={
                **os.environ,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        return None
    if done.returncode and "does not exist" in done.stderr:
        time.sleep(5)
        return None
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_queued_experiments_keep_their_wandb_runs(repo_copy):
    """Queued experiments run in DVC's temporary workspaces; their offline W&B runs must land in
    the repository itself and name their experiment."""
    for seed in (0, 1):
        run(
            ["dvc", "exp", "run", "--queue", "-S", "experiment=smoke", "-S", f"seed={seed}"],
            repo_copy,
        )
    # the workers it starts outlive it and keep captured pipes open: let them write nowhere
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(
        ["dvc", "queue", "start", "-j", "2"],
        cwd=repo_copy,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=120,
    )
    deadline = time.monotonic() + 900
    while True:
        shown = experiments_so_far(repo_copy)
        if shown is None:
            assert time.monotonic() < deadline, "dvc exp show kept failing"
            continue
        states = {
            e["name"]: (e.get("executor") or {}).get("state")
            for row in shown
            for e in row.get("experiments") or []
        }
        failed = [name for name, state in states.items() if state == "failed"]
        assert not failed, run(["dvc", "queue", "logs", failed[0]], repo_copy).stdout[-3000:]
        if len(states) == 2 and set(states.values()) == {"success"}:
            break
        assert time.monotonic() < deadline, f"the queued experiments did not finish: {states}"
        time.sleep(5)
    names = set(states)
    # `dvc exp show` lists both, with their accuracies
    for row in shown:
        for experiment in row.get("experiments") or []:
            metrics = experiment["revs"][0]["data"]["metrics"]
            for model in ("vanilla-pretrained", "perceiver-scratch"):
                assert 0 <= metrics[f"metrics/eval/{model}.json"]["data"]["accuracy"] <= 1
    logs = sorted(repo_copy.glob("wandb/offline-run-*/*.wandb"))
    assert len(logs) == 2 * 16
    recorded: dict[str, set[int]] = {}
    for log in logs:
        config = run_header(log)["config"]
        recorded.setdefault(config["dvc_experiment"], set()).add(config["seed"])
    # each experiment's runs name it, and each experiment ran one seed
    assert set(recorded) == names
    assert sorted(seed for seeds in recorded.values() for seed in seeds) == [0, 1]
