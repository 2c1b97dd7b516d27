"""Impossible settings in params.yaml stop every stage before it reads data or trains."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.cli import ConfigError
from pipeline.params import load_params

REPO = Path(__file__).resolve().parents[2]

BAD_SETTINGS = {
    "unknown variant": ({"model": {"variant": "transformerxl"}}, "allowed: vanilla, perceiver"),
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
    "negative checkpoint period": ({"resume": {"every_n_steps": -1}}, "every_n_steps must be >= 0"),
    "a size that is not a number": (
        {"model": {"n_layer": "abc"}},
        "n_layer must be int, got 'abc'",
    ),
    "a batch size that is not a number": (
        {"finetune": {"batch_size": "many"}},
        "finetune.batch_size must be a positive int, got 'many'",
    ),
    "a fractional epoch count": ({"pretrain": {"epochs": 2.5}}, "pretrain.epochs must be a"),
}


def merged(base: dict, change: dict) -> dict:
    out = dict(base)
    for key, value in change.items():
        out[key] = merged(base[key], value) if isinstance(value, dict) else value
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
    if case == "bottleneck larger than the context":
        assert f"block_size={params['model']['block_size']}], got 4096" in str(info.value)


def test_committed_params_are_valid() -> None:
    assert load_params(REPO / "params.yaml").model.variant in ("vanilla", "perceiver")
