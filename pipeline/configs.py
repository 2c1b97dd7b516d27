"""The library's settings objects (model, optimiser, Lightning trainer, fit's switches) from a
stage's view."""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig

from knowledge_probe.models import GPTConfig
from knowledge_probe.training import OptimConfig
from pipeline.stages import model_fields


def model_config(cfg: DictConfig, variant: str, vocab_size: int) -> GPTConfig:
    fields = {name: cfg.model[name] for name in model_fields(variant)}
    fused = cfg.attention == "fused"
    return GPTConfig(vocab_size=vocab_size, variant=variant, fused_attention=fused, **fields)


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
        "precision": t.precision,
        "deterministic": t.deterministic,
        "gradient_clip_val": grad_clip,
        "enable_progress_bar": True,
    }


def fit_switches(cfg: DictConfig) -> dict[str, bool]:
    """fit()'s switches: `packing` packs each batch; otherwise fused attention also trims a
    batch's trailing all-pad positions (the loss is unchanged); `dropout` picks how CPU dropout
    masks are drawn; `compile` compiles the training forward pass."""
    return {
        "packing": bool(cfg.packing),
        "int16_dropout": cfg.dropout == "int16",
        "trim_padding": cfg.attention == "fused",
        "compile_model": bool(cfg.compile),
    }
