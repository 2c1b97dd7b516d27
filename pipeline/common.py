"""What every stage shares: reading params.yaml, building configs, tracking, one-line summaries."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from knowledge_probe.data import Question, Vocabulary, read_corpus, read_questions
from knowledge_probe.data.corruption import check_window
from knowledge_probe.models import GPTConfig
from knowledge_probe.tracking import Tracker, start_tracker
from knowledge_probe.training import OptimConfig

PARAMS_FILE = Path(os.environ.get("KP_PARAMS", "params.yaml"))
VARIANTS = ("vanilla", "perceiver")
INITS = ("scratch", "pretrained")


def run_stage_command(description: str, run, *, with_init: bool) -> None:
    """Parse `--variant` (and `--init`), then run the stage on params.yaml."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--variant", choices=VARIANTS, required=True)
    if with_init:
        parser.add_argument("--init", choices=INITS, required=True)
    args = parser.parse_args()
    run(load_params(), args.variant, *([args.init] if with_init else []))


def load_params(path: str | Path = PARAMS_FILE) -> DictConfig:
    path = Path(path)
    if not path.is_file():
        sys.exit(
            f"{path} not found: run stages from the repository root (or `make params` to compose it)"
        )
    cfg = OmegaConf.load(path)
    OmegaConf.resolve(cfg)
    validate(cfg, str(path))
    return cfg


def validate(cfg: DictConfig, origin: str) -> None:
    """Refuse impossible settings before any stage reads data or trains (message: what to fix)."""
    try:
        for variant in (cfg.model.variant, *VARIANTS):  # GPTConfig names the allowed variants
            model_config(cfg, variant, vocab_size=256)
        check_window(cfg.pretrain.window)
        for section in ("pretrain", "finetune"):
            if cfg[section].batch_size < 1 or cfg[section].learning_rate <= 0:
                raise ValueError(
                    f"{section}.batch_size and {section}.learning_rate must be positive"
                )
        if cfg.resume.every_n_steps < 0:
            raise ValueError("resume.every_n_steps must be >= 0 (0: only on signals)")
    except ValueError as err:
        sys.exit(f"{origin}: invalid configuration: {err}")


def quiet_libraries() -> None:
    """Keep stage output to progress bars and the summary line."""
    for name in ("pytorch_lightning", "lightning_fabric", "lightning.pytorch"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("WANDB_SILENT", "true")


@dataclass
class Prepared:
    vocab: Vocabulary
    corpus: list[str]
    train: list[Question]
    dev: list[Question]
    test: list[Question]


def read_prepared(cfg: DictConfig) -> Prepared:
    root = Path(cfg.paths.prepared)
    if not (root / "vocab.json").is_file():
        sys.exit(f"{root}/vocab.json not found: run `dvc repro prepare` first")
    return Prepared(
        vocab=Vocabulary.load(root / "vocab.json"),
        corpus=read_corpus(root / "corpus.txt"),
        train=read_questions(root / "train.tsv"),
        dev=read_questions(root / "dev.tsv"),
        test=read_questions(root / "test.tsv", with_answers=False),
    )


def model_config(cfg: DictConfig, variant: str, vocab_size: int) -> GPTConfig:
    fields = {k: v for k, v in OmegaConf.to_container(cfg.model).items() if k != "variant"}
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


def stage_name(*parts: str) -> str:
    return "-".join(p for p in parts if p)


def is_rank_zero() -> bool:
    """False in the extra processes of a multi-process (DDP) run, which write nothing."""
    from pytorch_lightning.utilities import rank_zero_only

    return rank_zero_only.rank == 0


def start_stage_tracker(cfg: DictConfig, job_type: str, name: str) -> Tracker:
    if not is_rank_zero():
        return Tracker(None)
    return start_tracker(
        OmegaConf.to_container(cfg.logger),
        job_type=job_type,
        name=name,
        group=str(cfg.logger.get("group") or cfg.experiment_name),
        config=OmegaConf.to_container(cfg, resolve=True),
    )


@contextmanager
def tracked_stage(cfg: DictConfig, job_type: str, name: str, tracker: Tracker | None = None):
    """Seed, start the stage's W&B run (unless one is given), print one summary line at the end."""
    quiet_libraries()
    seed_all(int(cfg.seed))
    configure_precision(cfg)
    own = tracker is None
    tracker = start_stage_tracker(cfg, job_type, name) if own else tracker
    start = time.perf_counter()
    summary: dict[str, str] = {}
    try:
        yield tracker, summary
    except BaseException:
        if own:
            tracker.finish(exit_code=1)
        raise
    if own:
        tracker.finish()
    parts = " | ".join(f"{k}: {v}" for k, v in summary.items())
    print(f"[{name}] {time.perf_counter() - start:.1f}s | {parts}", flush=True)
