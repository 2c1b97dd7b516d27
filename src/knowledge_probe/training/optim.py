"""The reference optimisation: AdamW with selective weight decay and a token-based LR schedule."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

DECAY_SCOPES = ("matmul", "reference")


@dataclass(frozen=True)
class OptimConfig:
    """`decay_scope`: `matmul` decays only Linear weights; `reference` decays every parameter
    except biases, as the reference does (its exemption list names `LayerNorm.weight`, which
    matches no module, so LayerNorm weights, embeddings and the perceiver's C are decayed)."""

    learning_rate: float = 3e-3
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.1
    decay_scope: str = "matmul"
    warmup_tokens: int = 10240
    final_tokens: int = 1
    min_lr_ratio: float = 0.1
    # True: flat at the floor after final_tokens. False: the reference code's formula, whose
    # cosine keeps going (at the floor from 0.8x to 1.2x final_tokens, back to full at 2x).
    clamp_after_decay: bool = True
    fused: bool = False

    def __post_init__(self) -> None:
        if self.decay_scope not in DECAY_SCOPES:
            raise ValueError(
                f"unknown decay_scope {self.decay_scope!r}; allowed: {', '.join(DECAY_SCOPES)}"
            )
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")


def lr_multiplier(
    tokens: int, warmup_tokens: int, final_tokens: int, floor: float = 0.1, clamp: bool = True
) -> float:
    """Linear warm-up, then cosine decay to `floor` by `final_tokens` (flat after it if `clamp`)."""
    if tokens < warmup_tokens:
        return tokens / max(1, warmup_tokens)
    progress = (tokens - warmup_tokens) / max(1, final_tokens - warmup_tokens)
    if clamp:
        progress = min(1.0, progress)
    return max(floor, 0.5 * (1.0 + math.cos(math.pi * progress)))


def parameter_groups(model: nn.Module, scope: str, weight_decay: float) -> list[dict]:
    if scope not in DECAY_SCOPES:
        raise ValueError(f"unknown decay scope {scope!r}; allowed: {', '.join(DECAY_SCOPES)}")
    decay, no_decay = [], []
    matmul_weights = {id(m.weight) for m in model.modules() if isinstance(m, nn.Linear)}
    for name, param in model.named_parameters():
        if scope == "matmul":
            wants_decay = id(param) in matmul_weights
        else:
            wants_decay = not name.endswith("bias")
        (decay if wants_decay else no_decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def make_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    groups = parameter_groups(model, cfg.decay_scope, cfg.weight_decay)
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=cfg.betas, fused=cfg.fused or None)
