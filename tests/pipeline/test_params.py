"""params.yaml is exactly conf/ composed, as DVC's Hydra composition would write it."""

from __future__ import annotations

from pathlib import Path

import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[2]


def composed(overrides: list[str] | None = None) -> dict:
    with initialize_config_dir(str(REPO / "conf"), version_base=None):
        cfg = compose(config_name="config", overrides=overrides or [])
    return OmegaConf.to_container(cfg, resolve=True)


def test_params_yaml_is_the_composed_default():
    committed = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    assert committed == composed()


def test_dvc_has_hydra_composition_enabled():
    config = (REPO / ".dvc" / "config").read_text(encoding="utf-8")
    assert "[hydra]" in config and "enabled = True" in config


def test_handout_experiment_is_the_reference():
    cfg = composed(["experiment=handout"])
    assert cfg["data"]["source"] == "cs224n"
    assert {k: cfg["model"][k] for k in ("block_size", "n_layer", "n_head", "n_embd")} == {
        "block_size": 128,
        "n_layer": 4,
        "n_head": 8,
        "n_embd": 256,
    }
    pre, fine = cfg["pretrain"], cfg["finetune"]
    assert (pre["epochs"], pre["batch_size"], pre["learning_rate"], pre["shuffle"]) == (
        650,
        128,
        6e-3,
        False,
    )
    assert (
        fine["epochs_pretrained"],
        fine["epochs_scratch"],
        fine["batch_size"],
        fine["learning_rate"],
    ) == (10, 75, 256, 6e-4)
    for section in (pre, fine):
        assert section["warmup_tokens"] == 10240 and section["decay_epochs"] == 200
        assert (
            section["betas"] == [0.9, 0.95]
            and section["weight_decay"] == 0.1
            and section["grad_clip"] == 1.0
        )


def test_every_group_option_composes():
    for override in (
        "data=cs224n",
        "model=perceiver",
        "trainer=gpu",
        "trainer=ddp",
        "logger=none",
        "experiment=smoke",
    ):
        assert composed([override])["seed"] == 0
