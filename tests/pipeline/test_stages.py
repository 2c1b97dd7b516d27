"""The stage table: dvc.yaml is written from it, and a stage sees only the keys it declares."""

from __future__ import annotations

import shutil
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from omegaconf.errors import ConfigAttributeError

from knowledge_probe.models.gpt import READ_BY, VARIANTS, GPTConfig
from pipeline.cli import ConfigError
from pipeline.schema import check_variants
from pipeline.stages import PARAMS, declared, model_fields, stage_view
from tests.pipeline.conftest import run

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
import write_dvc_yaml  # noqa: E402

PARAMS_YAML = OmegaConf.load(REPO / "params.yaml")


def test_dvc_yaml_is_written_from_the_stage_table() -> None:
    assert (REPO / "dvc.yaml").read_text(encoding="utf-8") == write_dvc_yaml.render(), (
        "dvc.yaml is out of date: run `make dvc.yaml`"
    )


def test_every_declared_key_exists_in_params_yaml() -> None:
    for stage in PARAMS:
        for variant in ("vanilla", "perceiver"):
            for key in declared(stage, variant) or ():
                assert OmegaConf.select(PARAMS_YAML, key, default=KeyError) is not KeyError, key


def test_a_stage_cannot_read_a_key_it_does_not_declare() -> None:
    view = stage_view(PARAMS_YAML, "evaluate", "vanilla")
    assert view.evaluate.batch_size == PARAMS_YAML.evaluate.batch_size
    assert view.paths.models == PARAMS_YAML.paths.models  # untracked sections stay visible
    for read in (
        lambda: view.compile,
        lambda: view.pretrain,
        lambda: view.model.bottleneck_dim,  # the vanilla model does not read it
        lambda: view.trainer.devices,  # only trainer.accelerator and trainer.precision are
    ):
        with pytest.raises(ConfigAttributeError):
            read()
    with pytest.raises(Exception, match="read-only"):
        view.evaluate.batch_size = 1


def test_the_report_sees_the_whole_configuration() -> None:
    assert OmegaConf.to_container(stage_view(PARAMS_YAML, "report")) == OmegaConf.to_container(
        PARAMS_YAML
    )


def test_model_keys_cover_gptconfig_and_each_body_reads_its_own() -> None:
    every = {f.name for f in fields(GPTConfig)}
    read = {name for body in VARIANTS for name in model_fields(body)}
    assert read | {"vocab_size", "variant", "fused_attention"} == every
    for body in VARIANTS:
        own = set(model_fields(body)) - set(model_fields("vanilla"))
        assert own == {name for name, readers in READ_BY.items() if body in readers}
    assert set(PARAMS_YAML.model) - {"variant"} == read


def test_code_deps_follow_imports() -> None:
    report = write_dvc_yaml.code_deps("pipeline.report")
    assert {"pipeline/report.py", "src/knowledge_probe/reporting", "pipeline/tracked.py"} <= set(
        report
    )
    assert {"pipeline/stages.py", "pipeline/records.py"} <= set(report)  # through tracked
    pretrain = write_dvc_yaml.code_deps("pipeline.pretrain")
    assert {"pipeline/train_stage.py", "src/knowledge_probe/training"} <= set(pretrain)
    assert "src/knowledge_probe/reporting" not in pretrain


def test_a_key_missing_from_params_yaml_is_a_config_error() -> None:
    incomplete = PARAMS_YAML.copy()
    del incomplete["compile"]
    with pytest.raises(ConfigError, match="no 'compile', which stage pretrain reads"):
        stage_view(incomplete, "pretrain", "vanilla")


# which stages read each performance switch (and so rerun when it changes)
SWITCH_READERS = {
    "attention": {
        "pretrain",
        "finetune",
        "evaluate",
        "analyze_complexity",
        "analyze_hallucination",
    },
    "corruption": {"pretrain"},
    "decode": {"evaluate", "analyze_hallucination"},
    "compile": {"pretrain", "finetune"},
    "trainer.precision": {
        "pretrain",
        "finetune",
        "evaluate",
        "analyze_complexity",
        "analyze_hallucination",
    },
}


def test_each_switch_is_declared_by_exactly_the_stages_that_read_it() -> None:
    for switch, readers in SWITCH_READERS.items():
        declaring = {
            stage
            for stage in PARAMS
            if PARAMS[stage] is not None
            and any(
                switch == key or switch.startswith(f"{key}.") for key in declared(stage, "vanilla")
            )
        }
        assert declaring == readers, switch


def test_the_handout_trains_only_the_reference_variants_and_the_default_all(tmp_path) -> None:
    """`variants` decides which per-model stages DVC and `python -m pipeline.stages` run."""
    handout = tmp_path / "params.yaml"
    run(
        [sys.executable, "tools/compose_params.py", "--output", str(handout), "experiment=handout"],
        REPO,
    )
    shutil.copy2(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    run(["git", "init", "-q"], tmp_path)
    run(["dvc", "init", "-q"], tmp_path)

    def trained(listed: str) -> set[str]:
        return {
            line.split()[0].split("@")[1].split("-")[0]
            for line in listed.splitlines()
            if "@" in line
        }

    assert trained(run(["dvc", "stage", "list"], tmp_path).stdout) == {"vanilla", "perceiver"}
    printed = run([sys.executable, "-m", "pipeline.stages"], REPO, env={"KP_PARAMS": str(handout)})
    assert trained(printed.stdout.replace(" --variant ", "@")) == {"vanilla", "perceiver"}
    shutil.copy2(REPO / "params.yaml", handout)
    assert trained(run(["dvc", "stage", "list"], tmp_path).stdout) == set(VARIANTS)


def test_variants_must_be_known_bodies_named_once_with_their_dvc_items() -> None:
    cfg = OmegaConf.create(OmegaConf.to_container(PARAMS_YAML))
    for variants, problem in (
        ([], "must name"),
        (["vanilla", "vanilla"], "must name"),
        (["vanilla", "mamba"], "must name"),
        (["vanilla"], "recompose params.yaml"),
    ):
        cfg.variants = variants
        with pytest.raises(ValueError, match=problem):
            check_variants(cfg)
