"""Reading params.yaml: every problem is one line naming the file, the setting and the fix."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from knowledge_probe.data.corruption import check_window
from knowledge_probe.models import VARIANTS
from pipeline.cli import ConfigError
from pipeline.configs import model_config

PARAMS_FILE = Path(os.environ.get("KP_PARAMS", "params.yaml"))


def load_params(path: str | Path = PARAMS_FILE) -> DictConfig:
    """params.yaml, resolved and validated; every problem is a ConfigError naming file and fix."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"{path} not found: run stages from the repository root (or `make params` to compose it)"
        )
    try:
        cfg = OmegaConf.load(path)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(err, "problem", None) or err
        raise ConfigError(
            f"{where}: not valid YAML ({problem}); fix it, or recompose it with `make params`"
        ) from None
    if not isinstance(cfg, DictConfig):
        raise ConfigError(
            f"{path}: expected a mapping of settings; recompose it with `make params`"
        )
    validate(cfg, str(path))
    return cfg


def _positive(cfg: DictConfig, key: str, kind: type | tuple[type, ...]) -> None:
    value = OmegaConf.select(cfg, key)
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        raise ValueError(
            f"{key} must be a positive {getattr(kind, '__name__', 'number')}, got {value!r}"
        )


def validate(cfg: DictConfig, origin: str) -> None:
    """Refuse impossible, mistyped or missing settings before any stage reads data or trains."""
    try:
        OmegaConf.resolve(cfg)
        for variant in (cfg.model.variant, *VARIANTS):  # GPTConfig names the allowed variants
            model_config(cfg, variant, vocab_size=256)
        check_window(cfg.pretrain.window)
        if cfg.data.source != "synthetic":
            cfg.data.path  # noqa: B018 - a file source needs its path: refuse `???` here
        for section in ("pretrain", "finetune"):
            _positive(cfg, f"{section}.batch_size", int)
            _positive(cfg, f"{section}.learning_rate", (int, float))
        for key in ("pretrain.epochs", "finetune.epochs_pretrained", "finetune.epochs_scratch"):
            _positive(cfg, key, int)
        steps = cfg.resume.every_n_steps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(
                f"resume.every_n_steps must be >= 0 (0: only on signals), got {steps!r}"
            )
    except ValueError as err:
        raise ConfigError(f"{origin}: invalid configuration: {err}") from None
    except OmegaConfBaseException as err:  # a missing key or a broken interpolation
        key = getattr(err, "full_key", None)
        problem = f"missing setting {key}" if key else str(err).splitlines()[0]
        raise ConfigError(
            f"{origin}: incomplete configuration ({problem}); recompose it with `make params`"
        ) from None
