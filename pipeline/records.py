"""What each stage's W&B run says about itself, so that runs compare by the same keys.

One run per stage: its config is the resolved configuration *of that run* (`model.variant` is
the variant trained, with that variant's sizes only) plus `variant`, `init`, `stage`, `setting`,
the data fingerprint, the git commit and the DVC experiment name; its group is the setting, its
job type the stage, its tags the variant, init and experiment. Metric keys never name a variant
or init: `train/loss` in every training run, `dev/accuracy` in every evaluation.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from pipeline import schema  # noqa: F401 - registers the schema that conf/ composes on
from pipeline.stages import model_fields

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
# override keys that are not part of a setting: what varies within one, and bookkeeping
NOT_SETTING = ("seed", "model", "experiment", "experiment_name")
BOOKKEEPING = ("paths", "logger", "resume", "hydra")
GROUP_LIMIT = 128  # W&B refuses longer group names


@dataclass(frozen=True)
class RunContext:
    """Where a stage runs: the whole resolved configuration, its setting, the sweep job number."""

    config: DictConfig
    setting: str
    job: int | None = None


def _override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def setting_label(experiment: str, overrides: Iterable[str]) -> str:
    """`experiment=NAME` and the overrides other than seed, model and bookkeeping, sorted."""
    kept = sorted(
        o
        for o in overrides
        if _override_key(o) not in NOT_SETTING
        and _override_key(o).split(".")[0].split("/")[0] not in BOOKKEEPING
    )
    return ",".join([f"experiment={experiment}", *kept])


def _leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            out |= _leaves(value, f"{prefix}{key}.")
        return out
    return {prefix[:-1]: node}


def params_setting(cfg: DictConfig) -> str:
    """The setting of a params.yaml: its experiment and the keys where it differs from it.

    DVC keeps no record of `dvc exp run -S` overrides, so they are recovered by composing the
    named experiment from conf/ and comparing.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    experiment = str(cfg.experiment_name)
    try:
        GlobalHydra.instance().clear()
        with initialize_config_dir(str(CONF_DIR), version_base=None):
            default = compose(config_name="config", overrides=[f"experiment={experiment}"])
    except Exception:  # an experiment name with no conf/experiment file: the name alone
        return setting_label(experiment, [])
    ours = _leaves(OmegaConf.to_container(cfg, resolve=True))
    theirs = _leaves(OmegaConf.to_container(default, resolve=True))
    changed = [
        f"{key}={value}" for key, value in ours.items() if key not in theirs or theirs[key] != value
    ]
    return setting_label(experiment, changed)


@cache
def git_state() -> dict[str, Any]:
    """The commit checked out and whether tracked files differ from it (None outside git)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def data_fingerprint(prepared: str | Path) -> str | None:
    """A digest of the prepared data set (every file in it), or None before `prepare`."""
    files = sorted(p for p in Path(prepared).glob("*") if p.is_file())
    if not files:
        return None
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def group_name(setting: str) -> str:
    if len(setting) <= GROUP_LIMIT:
        return setting
    digest = hashlib.sha256(setting.encode()).hexdigest()[:8]
    return f"{setting[: GROUP_LIMIT - 10]}..{digest}"


@dataclass(frozen=True)
class RunRecord:
    """The identity of one stage's W&B run."""

    label: str  # the console's name for the stage: `pretrain-perceiver`
    name: str  # unique and readable: `pretrain-perceiver-s1` (+ `-j3` in a sweep)
    group: str
    job_type: str
    tags: list[str]
    config: dict[str, Any]


def run_record(
    context: RunContext, stage: str, variant: str | None = None, init: str | None = None
) -> RunRecord:
    cfg = context.config
    label = "-".join(p for p in (stage.replace("_", "-"), variant, init) if p)
    name = f"{label}-s{cfg.seed}"
    if context.job is not None:
        name += f"-j{context.job}"
    experiment_name = os.environ.get("DVC_EXP_NAME")
    if experiment_name:
        name += f"-{experiment_name}"
    config = OmegaConf.to_container(cfg, resolve=True)
    model = config["model"]
    if variant is None:
        model["variant"] = None
    else:
        config["model"] = {"variant": variant} | {k: model[k] for k in model_fields(variant)}
    config |= {
        "variant": variant,
        "init": init,
        "stage": stage,
        "setting": context.setting,
        "job": context.job,
        "data_fingerprint": data_fingerprint(cfg.paths.prepared),
        "git": git_state(),
        "dvc_experiment": experiment_name,
    }
    tags = [t for t in (variant, init, str(cfg.experiment_name)) if t]
    return RunRecord(label, name, group_name(context.setting), stage, tags, config)
