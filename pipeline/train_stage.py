"""Shared by the pretrain and finetune stages: run `fit` with curves, tracking and a metrics file."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from knowledge_probe.data.cs224n import sha256
from knowledge_probe.io import write_json
from knowledge_probe.models import GPT
from knowledge_probe.tracking import Tracker
from knowledge_probe.training import CurveRecorder, ResumeCheckpoint, fit, run_fingerprint
from pipeline.configs import fit_switches, optim_config, trainer_options
from pipeline.resume_state import resume_path
from pipeline.runtime import is_rank_zero


def train_and_record(
    cfg: DictConfig,
    section: DictConfig,
    model: GPT,
    datamodule,
    *,
    epochs: int,
    schedule_examples: int,
    tracker: Tracker,
    resume: ResumeCheckpoint,
    curve_path: Path,
    metrics_path: Path,
) -> dict:
    """Train in place; write the loss curve (CSV) and a metrics JSON; return the metrics.

    The learning rate decays over `section.decay_epochs` x `schedule_examples` x block tokens.
    Training continues from `resume` when it holds this run's state, logging to the same
    tracking run.
    """
    resume.run_id = tracker.run_id
    curves = CurveRecorder("train", send=tracker.log)
    result = fit(
        model,
        datamodule,
        optim_config(section, schedule_examples, model.config.block_size),
        max_epochs=epochs,
        trainer_options=trainer_options(cfg, section.grad_clip),
        callbacks=[curves],
        prefix="train",
        resume=resume,
        **fit_switches(cfg),
    )
    if not is_rank_zero():  # the other DDP processes trained alongside; rank 0 writes the outputs
        raise SystemExit(0)
    curves.write(curve_path)
    metrics = {
        "epochs": epochs,
        "steps": result.steps,
        "tokens": result.tokens,
        "seconds": round(result.seconds, 2),
        "tokens_per_sec": round(result.tokens_per_sec, 1),
        "final_loss": round(result.final_loss, 5),
        "resumed_at_step": result.resumed_at_step,
        "parameters": model.num_parameters(),
    }
    write_json(metrics_path, metrics)
    tracker.summary({f"train/{k}": v for k, v in metrics.items()})
    return metrics


def resume_checkpoint(
    cfg: DictConfig,
    section: DictConfig,
    model: GPT,
    epochs: int,
    dvc_stage: str,
    inputs: list[Path],
) -> ResumeCheckpoint:
    """Where this run's training state goes (named after the stage in dvc.yaml), keyed by
    everything that determines the run (`inputs`: the files whose content does)."""
    description = {
        "section": OmegaConf.to_container(section, resolve=True),
        "model": model.config.to_dict(),
        "epochs": epochs,
        "seed": cfg.seed,
        "switches": {k: cfg[k] for k in ("attention", "corruption", "compile") if k in cfg},
        "precision": cfg.trainer.precision,
        "inputs": {str(path): sha256(path) for path in inputs},
    }
    return ResumeCheckpoint(
        resume_path(cfg.paths.checkpoints, dvc_stage),
        int(cfg.resume.every_n_steps),
        run_fingerprint(description),
    )
