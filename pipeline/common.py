"""What every stage shares: reading params.yaml, building configs, tracking, one-line summaries."""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from knowledge_probe.data import Question, Vocabulary, read_corpus, read_questions
from knowledge_probe.data.corruption import check_window
from knowledge_probe.data.errors import DataFormatError
from knowledge_probe.models import VARIANTS, GPTConfig
from knowledge_probe.tracking import Tracker, start_tracker
from knowledge_probe.training import OptimConfig
from pipeline.cli import ConfigError, run_command
from pipeline.records import RunContext, params_setting, run_record
from pipeline.resume_state import remove_finished as remove_finished_resume_state
from pipeline.stages import INITS, dvc_stage, model_fields, stage_view

PARAMS_FILE = Path(os.environ.get("KP_PARAMS", "params.yaml"))


def run_stage_command(stage: str, description: str, run, *, per: tuple[str, ...] = ()) -> None:
    """The command line of a DVC stage: parse `--variant` / `--init` where the stage is one per
    variant / init, then run it on its view of params.yaml (pipeline/stages.py)."""
    parser = argparse.ArgumentParser(description=description)
    if "variant" in per:
        parser.add_argument("--variant", choices=VARIANTS, required=True)
    if "init" in per:
        parser.add_argument("--init", choices=INITS, required=True)
    args = vars(parser.parse_args())

    def main() -> None:
        cfg = load_params()
        own = dvc_stage(stage, args.get("variant"), args.get("init"))
        remove_finished_resume_state(cfg.paths.checkpoints, keep=own)
        context = RunContext(cfg, params_setting(cfg))
        run(stage_view(cfg, stage, args.get("variant")), context, **args)

    run_command(stage, main)


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


def quiet_libraries() -> None:
    """Keep stage output to progress bars and the summary line."""
    for name in ("pytorch_lightning", "lightning_fabric", "lightning.pytorch"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("WANDB_SILENT", "true")
    # raised inside Lightning by torch's own deprecation; nothing a user can act on
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")


@dataclass
class Prepared:
    vocab: Vocabulary
    corpus: list[str]
    train: list[Question]
    dev: list[Question]
    test: list[Question]


def read_prepared(cfg: DictConfig) -> Prepared:
    """The prepared data set, through the checked readers: damage names the file and the fix."""
    root = Path(cfg.paths.prepared)
    fix = "rerun `dvc repro prepare`"
    if not (root / "vocab.json").is_file():
        raise DataFormatError(root / "vocab.json", None, "not found", fix)
    try:
        return Prepared(
            vocab=Vocabulary.load(root / "vocab.json"),
            corpus=read_corpus(root / "corpus.txt"),
            train=read_questions(root / "train.tsv"),
            dev=read_questions(root / "dev.tsv"),
            test=read_questions(root / "test.tsv", with_answers=False),
        )
    except DataFormatError as err:
        raise DataFormatError(err.path, err.line, err.problem, fix) from None


def model_config(cfg: DictConfig, variant: str, vocab_size: int) -> GPTConfig:
    fields = {name: cfg.model[name] for name in model_fields(variant)}
    return GPTConfig(
        vocab_size=vocab_size, variant=variant, fused_attention=bool(cfg.fast), **fields
    )


def optim_config(section: DictConfig, n_examples: int, block_size: int) -> OptimConfig:
    return OptimConfig(
        learning_rate=section.learning_rate,
        betas=tuple(section.betas),
        weight_decay=section.weight_decay,
        decay_scope=section.decay_scope,
        warmup_tokens=section.warmup_tokens,
        final_tokens=int(section.decay_epochs * n_examples * block_size),
        min_lr_ratio=section.min_lr_ratio,
        clamp_after_decay=bool(section.clamp_after_decay),
        fused=torch.cuda.is_available(),
    )


def trainer_options(cfg: DictConfig, grad_clip: float) -> dict[str, Any]:
    t = cfg.trainer
    return {
        "accelerator": t.accelerator,
        "devices": t.devices,
        "num_nodes": t.num_nodes,
        "strategy": t.strategy,
        "precision": t.precision if cfg.fast else "32-true",
        "deterministic": t.deterministic,
        "gradient_clip_val": grad_clip,
        "enable_progress_bar": True,
    }


def seed_all(seed: int) -> None:
    pl.seed_everything(seed, workers=True, verbose=False)


def configure_precision(cfg: DictConfig) -> None:
    """On the fast path, let float32 matrix products use TF32 on GPUs that have it."""
    if cfg.fast and torch.cuda.is_available():
        torch.set_float32_matmul_precision("high")


def is_rank_zero() -> bool:
    """False in the extra processes of a multi-process (DDP) run, which write nothing."""
    from pytorch_lightning.utilities import rank_zero_only

    return rank_zero_only.rank == 0


@contextmanager
def tracked_stage(
    cfg: DictConfig,
    context: RunContext,
    stage: str,
    variant: str | None = None,
    init: str | None = None,
    run_id: str | None = None,
):
    """Start the stage's W&B run (continuing `run_id`), print one summary line at the end."""
    quiet_libraries()
    record = run_record(context, stage, variant, init)
    tracker = Tracker(None)
    if is_rank_zero():
        tracker = start_tracker(
            OmegaConf.to_container(cfg.logger),
            job_type=record.job_type,
            name=record.name,
            group=record.group,
            config=record.config,
            tags=record.tags,
            run_id=run_id,
        )
    start = time.perf_counter()
    summary: dict[str, str] = {}
    try:
        yield tracker, summary
    except BaseException:
        tracker.finish(exit_code=1)
        raise
    tracker.finish()
    parts = " | ".join(f"{k}: {v}" for k, v in summary.items())
    print(f"[{record.label}] {time.perf_counter() - start:.1f}s | {parts}", flush=True)
