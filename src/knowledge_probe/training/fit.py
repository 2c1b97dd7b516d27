"""Run one training job with Lightning and report what it cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytorch_lightning as pl
import torch

from knowledge_probe.models.gpt import GPT
from knowledge_probe.training.module import LanguageModelModule
from knowledge_probe.training.optim import OptimConfig
from knowledge_probe.training.resume import ResumeCheckpoint, usable_checkpoint


@dataclass(frozen=True)
class FitSummary:
    seconds: float  # training time of the whole run, the part before an interruption included
    steps: int
    tokens: int
    tokens_per_sec: float  # over the whole run
    final_loss: float
    resumed_at_step: int = 0


def fit(
    model: GPT,
    datamodule: pl.LightningDataModule,
    optim: OptimConfig,
    *,
    max_epochs: int,
    trainer_options: dict[str, Any] | None = None,
    callbacks: list | None = None,
    prefix: str = "train",
    packing: bool = False,
    compile_model: bool = False,
    trim_padding: bool = False,
    int16_dropout: bool = True,
    resume: ResumeCheckpoint | None = None,
) -> FitSummary:
    """Train `model` in place. `trainer_options` are passed to `pl.Trainer` (accelerator, precision, ...).

    With `resume`, the state is saved periodically and on SIGTERM/SIGINT, a matching saved state
    is continued from, and the resume checkpoint is removed once training has finished.
    """
    options = {
        "accelerator": "cpu",
        "devices": 1,
        "precision": "32-true",
        "gradient_clip_val": 1.0,
        "enable_model_summary": False,
        "enable_checkpointing": False,
        "log_every_n_steps": 1,
        **(trainer_options or {}),
    }
    callbacks, ckpt_path = list(callbacks or []), None
    if resume is not None:
        callbacks.append(resume)
        ckpt_path = usable_checkpoint(resume.path, resume.fingerprint)
    model.set_int16_dropout(int16_dropout)  # see models.dropout
    module = LanguageModelModule(model, optim, prefix, packing, compile_model, trim_padding)
    # metrics reach the tracker through callbacks (the curve recorder), not a Lightning logger
    trainer = pl.Trainer(max_epochs=max_epochs, logger=False, callbacks=callbacks, **options)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    seconds = module.training_seconds()
    if resume is not None and trainer.is_global_zero:
        resume.remove()
    loss = trainer.callback_metrics.get(f"{prefix}/loss", torch.tensor(float("nan")))
    return FitSummary(
        seconds=seconds,
        steps=trainer.global_step,
        tokens=module.tokens_seen,
        tokens_per_sec=module.tokens_seen / max(seconds, 1e-9),
        final_loss=float(loss),
        resumed_at_step=module.resumed_at_step,
    )
