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


def test_handout_keeps_every_recipe_option_off():
    cfg = composed(["experiment=handout"])
    assert (cfg["pretrain"]["window"], cfg["pretrain"]["mix_questions"]) == ("prefix", False)
    assert (cfg["model"]["position"], cfg["model"]["latent_alignment"]) == ("learned", "left")


def changed_settings(cfg: dict, base: dict) -> set[tuple[str, str, object]]:
    return {
        (section, key, cfg[section][key])
        for section in ("data", "model", "pretrain", "finetune")
        for key in cfg[section]
        if cfg[section][key] != base[section][key]
    }


RECIPE = {
    "window": ("pretrain", "window", "random"),
    "questions": ("pretrain", "mix_questions", True),
    "rotary": ("model", "position", "rotary"),
    "latents": ("model", "latent_alignment", "right"),
}


def test_each_recipe_option_changes_one_setting_of_the_handout():
    handout = composed(["experiment=handout"])
    for name, setting in RECIPE.items():
        assert changed_settings(composed(["experiment=handout", f"+recipe={name}"]), handout) == {
            setting
        }
    assert changed_settings(composed(["experiment=handout", "+recipe=reference"]), handout) == set()
    together = composed(["experiment=handout", "+recipe=all"])
    assert changed_settings(together, handout) == set(RECIPE.values())


def test_best_is_the_handout_with_every_option_within_the_parameter_budget():
    from knowledge_probe.models import GPT
    from pipeline.configs import model_config

    best, handout = composed(["experiment=best"]), composed(["experiment=handout"])
    assert changed_settings(best, handout) == set(RECIPE.values())
    cfg = OmegaConf.create(best)
    for variant in ("vanilla", "perceiver"):
        assert GPT(model_config(cfg, variant, vocab_size=256)).num_parameters() <= 3_500_000


def test_every_group_option_composes():
    for override in (
        "data=cs224n",
        "model=perceiver",
        "trainer=gpu",
        "trainer=ddp",
        "logger=none",
        "experiment=smoke",
        "experiment=best",
    ):
        assert composed([override])["seed"] == 0
