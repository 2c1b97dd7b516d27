"""Impossible settings stop every stage before it reads data or trains, and a composition before
it runs: one line that names the setting, its value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from pipeline.cli import ConfigError
from pipeline.params import load_params, validate
from pipeline.schema import explain

REPO = Path(__file__).resolve().parents[2]

BAD_SETTINGS = {
    "unknown variant": (
        {"model": {"variant": "transformerxl"}},
        "allowed: vanilla, perceiver, chunked",
    ),
    "an unknown variant to train": (
        {"variants": ["vanilla", "mamba"]},
        "variants: must name each of some of vanilla, perceiver, chunked once, got",
    ),
    "variants changed by hand, without their DVC items": (
        {"variants": ["vanilla"]},
        "dvc_items is not what `variants` gives: recompose params.yaml with `make params`",
    ),
    "bottleneck larger than the context": (
        {"model": {"bottleneck_dim": 4096}},
        "bottleneck_dim must be in [1, block_size=",
    ),
    "bottleneck not positive": ({"model": {"bottleneck_dim": 0}}, "bottleneck_dim must be in [1,"),
    "width not divisible by heads": (
        {"model": {"n_embd": 100, "n_head": 8}},
        "divisible by n_head",
    ),
    "unknown latent alignment": (
        {"model": {"latent_alignment": "middle"}},
        "allowed: left, right",
    ),
    "unknown corruption window": ({"pretrain": {"window": "middle"}}, "allowed: prefix, random"),
    "negative checkpoint period": (
        {"resume": {"every_n_steps": -1}},
        "every_n_steps must be int >= 0",
    ),
    "a size that is not a number": (
        {"model": {"n_layer": "abc"}},
        "n_layer must be int, got 'abc'",
    ),
    "a batch size that is not a number": (
        {"finetune": {"batch_size": "many"}},
        "finetune.batch_size must be a positive int, got 'many'",
    ),
    "a fractional epoch count": ({"pretrain": {"epochs": 2.5}}, "pretrain.epochs must be a"),
    "a misspelled key": (
        {"model": {"n_layers": 4}},
        "unknown setting model.n_layers (= 4); model has: variant, block_size, n_layer,",
    ),
    "a misspelled section": ({"pretrian": {"epochs": 4}}, "unknown setting pretrian"),
    "a learning rate of zero": (
        {"pretrain": {"learning_rate": 0}},
        "pretrain.learning_rate must be a positive number, got 0",
    ),
    "a flag that is not true or false": (
        {"pretrain": {"shuffle": "sometimes"}},
        "pretrain.shuffle must be true or false, got 'sometimes'",
    ),
    "an unknown data source": ({"data": {"source": "web"}}, "allowed: synthetic, cs224n, files"),
    "an unknown switch value": (
        {"decode": "fast"},
        "unknown decode 'fast'; allowed: batched, plain",
    ),
    "an unknown precision": (
        {"trainer": {"precision": "8-bit"}},
        "unknown trainer.precision '8-bit'; allowed: bf16-mixed, 32-true",
    ),
    "an impossible synthetic data set": (
        {"data": {"bio_variants": 0}},
        "data: bio_variants must lie in [1,",
    ),
    "an impossible analysis setting": (
        {"analysis": {"complexity": {"fit_points": 9}}},
        "analysis.complexity: fit_points must lie in",
    ),
}


def merged(base: dict, change: dict) -> dict:
    out = dict(base)
    for key, value in change.items():
        out[key] = merged(base.get(key, {}), value) if isinstance(value, dict) else value
    return out


@pytest.mark.parametrize("case", list(BAD_SETTINGS))
def test_bad_settings_are_refused_with_what_to_fix(tmp_path: Path, case: str) -> None:
    change, fragment = BAD_SETTINGS[case]
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(merged(params, change)))
    with pytest.raises(ConfigError) as info:
        load_params(path)
    assert str(path) in str(info.value) and fragment in str(info.value)
    assert "\n" not in str(info.value)
    if case == "bottleneck larger than the context":
        assert f"block_size={params['model']['block_size']}], got 4096" in str(info.value)


def test_committed_params_are_valid() -> None:
    assert load_params(REPO / "params.yaml").model.variant in ("vanilla", "perceiver")


BAD_OVERRIDES = {
    "model.n_layers=3": "unknown setting model.n_layers (= '3'); model has: variant,",
    "model.n_layer=abc": "model.n_layer must be int, got 'abc'",
    "+model.depth=3": "unknown setting model.depth (= 3); model has: variant,",
    "pretrain.window=middle": "unknown pretrain.window 'middle'; allowed: prefix, random",
    "trainer.num_nodes=0": "trainer.num_nodes must be a positive int, got 0",
}


@pytest.mark.parametrize("override", list(BAD_OVERRIDES))
def test_a_bad_override_is_refused_when_composing(override: str) -> None:
    """What pipeline.experiment and tools/compose_params.py do: compose, then validate."""
    with pytest.raises((ConfigError, HydraException, OmegaConfBaseException)) as info:
        with initialize_config_dir(str(REPO / "conf"), version_base=None):
            validate(compose(config_name="config", overrides=[override]), "overrides")
    message = info.value if isinstance(info.value, ConfigError) else explain(info.value)
    assert BAD_OVERRIDES[override] in str(message) and "\n" not in str(message)
