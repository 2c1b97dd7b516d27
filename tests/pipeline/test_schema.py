"""One source for every default: the schema (pipeline/schema.py) takes the library's defaults,
conf/ only chooses and overrides, and each fact written once is derived everywhere else."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from knowledge_probe.analysis.attention_exploration import AttentionSpec
from knowledge_probe.analysis.complexity import ComplexitySpec
from knowledge_probe.data.corruption import max_truncation
from knowledge_probe.data.synthetic import BIRTHPLACE_WINDOW, SyntheticSpec
from knowledge_probe.evaluation.predict import predict
from knowledge_probe.models.gpt import VARIANTS, GPTConfig
from knowledge_probe.training.optim import OptimConfig
from pipeline import schema
from pipeline.stages import PARAMS, command, jobs

REPO = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted(p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml"))


def composed(overrides: list[str] = ()) -> dict:
    with initialize_config_dir(str(REPO / "conf"), version_base=None):
        return OmegaConf.to_container(compose(config_name="config", overrides=list(overrides)))


def schema_defaults(source: str = "synthetic") -> dict:
    defaults = OmegaConf.structured(schema.Config)
    defaults.data = OmegaConf.structured(schema.DATA_SCHEMAS[source])
    return OmegaConf.to_container(defaults)


def leaves(node, prefix: str = "") -> dict:
    if not isinstance(node, dict):
        return {prefix[:-1]: node}
    return {
        k: v for key, value in node.items() for k, v in leaves(value, f"{prefix}{key}.").items()
    }


def written_in_conf() -> set[str]:
    """Every key some YAML file under conf/ sets (its package prefix included)."""
    keys = set()
    for path in (REPO / "conf").rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        content = yaml.safe_load(text) or {}
        content.pop("defaults", None)
        group = path.parent.relative_to(REPO / "conf").as_posix()
        prefix = "" if "@package _global_" in text or group == "." else f"{group}."
        keys |= {prefix + key for key in leaves(content)}
    return keys


def test_the_default_configuration_is_the_schema_unchanged() -> None:
    assert composed() == schema_defaults()
    assert composed(["experiment=default"]) == schema_defaults()


def test_where_no_yaml_file_sets_a_key_every_experiment_has_the_schemas_default() -> None:
    written = written_in_conf()
    for experiment in EXPERIMENTS:
        cfg = leaves(composed([f"experiment={experiment}"]))
        defaults = leaves(schema_defaults(cfg["data.source"]))
        assert set(cfg) == set(defaults), experiment
        changed = {key for key in cfg if cfg[key] != defaults[key]}
        assert changed <= written, (experiment, changed - written)


def field_defaults(cls: type, names) -> dict:
    return {f.name: f.default for f in fields(cls) if f.name in names}


def test_the_schema_takes_the_library_defaults() -> None:
    cfg = schema_defaults()
    model = set(cfg["model"]) - {"variant"}
    assert model == {f.name for f in fields(GPTConfig)} - {
        "vocab_size",
        "variant",
        "fused_attention",
    }
    assert field_defaults(GPTConfig, cfg["model"]) == cfg["model"]
    assert field_defaults(SyntheticSpec, cfg["data"]) == {
        k: v for k, v in cfg["data"].items() if k not in ("source", "path")
    }
    attention = {
        k: tuple(v) if isinstance(v, list) else v for k, v in cfg["analysis"]["attention"].items()
    }
    assert field_defaults(AttentionSpec, attention) == attention
    complexity = cfg["analysis"]["complexity"] | {
        "lengths": tuple(cfg["analysis"]["complexity"]["lengths"])
    }
    assert field_defaults(ComplexitySpec, complexity) == complexity
    assert ComplexitySpec.threads == cfg["analysis"]["threads"]
    optim = {f.name for f in fields(OptimConfig)} - {"final_tokens", "fused"}
    pretrain = {
        k: tuple(v) if isinstance(v, list) else v for k, v in cfg["pretrain"].items() if k in optim
    }
    assert field_defaults(OptimConfig, optim) == pretrain
    assert {k: predict.__kwdefaults__[k] for k in ("batch_size", "max_new")} == {
        k: cfg["evaluate"][k] for k in ("batch_size", "max_new")
    }


def test_the_real_data_path_is_written_once() -> None:
    assert composed(["data=cs224n"])["data"]["path"] == schema.COURSE_DATA
    sys.path.insert(0, str(REPO / "benchmarks"))
    import common

    from tests.conftest import REAL_DATA_DIR

    assert REAL_DATA_DIR == REPO / schema.COURSE_DATA == common.REAL_DATA
    holders = [
        path.relative_to(REPO).as_posix()
        for folder in ("conf", "pipeline", "src", "tests", "tools", "benchmarks")
        for path in (REPO / folder).rglob("*")
        if path.suffix in (".py", ".yaml", ".sh") and schema.COURSE_DATA in path.read_text()
    ]
    assert holders == ["pipeline/schema.py"]


def test_the_birthplace_window_is_what_pretraining_shows_the_experiments_models() -> None:
    for experiment in EXPERIMENTS:
        block = composed([f"experiment={experiment}"])["model"]["block_size"]
        assert BIRTHPLACE_WINDOW == max_truncation(block), experiment


def test_the_benchmarks_build_the_handout_model() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    import common

    handout = composed(["experiment=handout"])["model"]
    assert common.handout_model_settings() == {k: v for k, v in handout.items() if k != "variant"}


def test_every_consumer_runs_the_stages_in_the_tables_order() -> None:
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    assert list(dvc["stages"]) == list(PARAMS)
    printed = subprocess.run(
        [sys.executable, "-m", "pipeline.stages"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    expected = [command(stage, arguments) for stage, arguments in jobs(VARIANTS)]
    assert [f"python -m pipeline.{line}" for line in printed] == expected
    script = (REPO / "benchmarks" / "gpu_check.sh").read_text()
    assert "python -m pipeline.stages" in script
    assert not [stage for stage in PARAMS if f"stage {stage}" in script]
    experiment = (REPO / "pipeline" / "experiment.py").read_text()
    assert "jobs(" in experiment and not [s for s in PARAMS if f"{s}.run(" in experiment]


SWITCHES = ("attention", "dropout", "corruption", "decode", "packing", "compile")


def test_fast_off_sets_every_switch_the_reference_way_and_nothing_else() -> None:
    for experiment in EXPERIMENTS:
        fast = leaves(composed([f"experiment={experiment}"]))
        off = leaves(composed([f"experiment={experiment}", "fast=off"]))
        assert {k for k in fast if fast[k] != off[k]} <= {*SWITCHES, "trainer.precision"}
        reference = {k: off[k] for k in (*SWITCHES, "trainer.precision")}
        assert reference == {
            "attention": "explicit",
            "dropout": "plain",
            "corruption": "plain",
            "decode": "plain",
            "packing": False,
            "compile": False,
            "trainer.precision": "32-true",
        }
    assert composed(["fast=on"]) == composed()


def test_a_switch_accepts_only_its_named_values() -> None:
    config = schema_defaults()
    for switch, names in (
        ("attention", schema.ATTENTION),
        ("dropout", schema.DROPOUT),
        ("corruption", schema.CORRUPTION),
        ("decode", schema.DECODE),
    ):
        assert config[switch] == names[0]  # the fast way by default
        assert schema.Config.__dataclass_fields__[switch].metadata["choices"] == names
    precision = schema.Trainer.__dataclass_fields__["precision"].metadata["choices"]
    assert precision == schema.PRECISIONS and config["trainer"]["precision"] == "bf16-mixed"
