"""benchmarks/knowledge_curve.py: its probe's matching rule, and a real run on the smoke experiment."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import torch

from knowledge_probe.data import Question, Vocabulary
from knowledge_probe.data.readers import question_for

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "knowledge_curve.py"


def load_script():
    spec = importlib.util.spec_from_file_location("knowledge_curve", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """The script as a user runs it; it must succeed."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_stored_counts_completions_that_start_with_the_whole_place(monkeypatch) -> None:
    curve = load_script()
    people = [Question(question_for(n), "Berlin") for n in ("Ada Byron", "Kurt Weill", "Max Born")]
    vocab = Vocabulary.from_corpus(["Ada Byron. Kurt Weill. Max Born was born in Berlinale. Rome"])
    completions = ["Berlin and later", "Berlinale", "Rome."]
    seen_prompts = []

    def fake_decode(model, prompts, max_new, stop_id):
        seen_prompts.extend(vocab.decode(p) for p in prompts)
        return [vocab.encode(c) for c in completions]

    monkeypatch.setattr(curve, "decode_batch", fake_decode)
    assert curve.stored_fraction(None, vocab, people) == 1 / 3
    assert seen_prompts[0] == "Ada Byron. Ada Byron was born in "


def test_birthplace_visibility_under_both_windows() -> None:
    curve = load_script()
    people = [Question(question_for("Ada Byron"), "Paris")]
    early = "Ada Byron. Born in Paris."  # the place ends at character 24
    late = "Ada Byron. " + "x" * 60 + " Paris."  # the place ends at character 77
    # prefix: truncated lengths 4..56 (block 64) are uniform; 24..56 show the early place
    shown, never = curve.birthplace_visibility([early], people, 64, "prefix")
    assert shown == (56 - 24 + 1) / 53 and never == 0.0
    shown, never = curve.birthplace_visibility([early, late], people, 64, "prefix")
    assert never == 0.5
    # random: the late place is reached too, in part of the draws
    shown, never = curve.birthplace_visibility([late], people, 64, "random")
    assert 0.0 < shown < 1.0 and never == 0.0
    assert curve.birthplace_visibility(["Kurt Weill. Born in Rome."], people, 64, "prefix") == (
        0.0,
        0.0,
    )


def test_smoke_run_prints_one_probe_per_period(tmp_path: Path) -> None:
    result = run_script(tmp_path, "--every", "1", "experiment=smoke")
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["overrides"] == ["experiment=smoke"]
    assert 0.0 < summary["birthplace_shown"] <= 1.0
    epochs = [row["epoch"] for row in summary["curve"]]
    assert epochs == [1, 2]
    for row in summary["curve"]:
        for key in ("dev_stored", "dev_answered", "train_answered"):
            assert 0.0 <= row[key] <= 1.0
        assert row["train_seconds"] > 0
    assert "dev stored" in result.stdout  # the table


def test_a_saved_model_is_probed_once_without_training(tmp_path: Path) -> None:
    from hydra import compose, initialize_config_dir

    from knowledge_probe.models import GPT
    from knowledge_probe.training import save_model
    from pipeline import prepare
    from pipeline.configs import model_config
    from pipeline.prepared import read_prepared
    from pipeline.records import RunContext
    from pipeline.stages import stage_view

    with initialize_config_dir(str(SCRIPT.parents[1] / "conf"), version_base=None):
        cfg = compose(config_name="config", overrides=["logger=none", "experiment=smoke"])
    cfg.paths.prepared = str(tmp_path / "prepared")
    cfg.paths.metrics = str(tmp_path / "metrics")
    prepare.run(stage_view(cfg, "prepare"), RunContext(cfg, "test"))
    data = read_prepared(cfg)
    checkpoint = tmp_path / "untrained.ckpt"
    save_model(
        checkpoint, GPT(model_config(cfg, "vanilla", len(data.vocab))), data.vocab.fingerprint
    )
    result = run_script(tmp_path, "--checkpoint", str(checkpoint), "experiment=smoke")
    row = json.loads(result.stdout.strip().splitlines()[-1])
    assert row["checkpoint"] == str(checkpoint) and "curve" not in row
    # an untrained model completes nothing with a birthplace
    assert row["dev_stored"] == row["dev_answered"] == row["train_answered"] == 0.0


def test_each_probe_reports_the_mean_loss_of_the_batches_since_the_last(monkeypatch) -> None:
    curve = load_script()
    monkeypatch.setattr(curve, "probe", lambda *args: dict.fromkeys(curve.PROBED, 0.0))
    recorder = curve.Probe(vocab=None, dev=[], train=[], every=2)
    trainer = SimpleNamespace(current_epoch=0, max_epochs=4)
    module = SimpleNamespace(model=None)
    for epoch, losses in enumerate([[4.0, 2.0], [3.0], [1.0, 1.0], [0.5]]):
        trainer.current_epoch = epoch
        for loss in losses:
            recorder.on_train_batch_end(trainer, module, {"loss": torch.tensor(loss)}, None, 0)
        recorder.on_train_epoch_end(trainer, module)
    assert [(r["epoch"], r["loss"]) for r in recorder.rows] == [(2, 3.0), (4, round(2.5 / 3, 3))]
