"""Process set-up shared by the stages: seeds, float32 matmul precision, which DDP rank runs."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig


def seed_all(seed: int) -> None:
    pl.seed_everything(seed, workers=True, verbose=False)


def configure_precision(cfg: DictConfig) -> None:
    """Unless trainer.precision is 32-true, let float32 matrix products use TF32 on GPUs."""
    if cfg.trainer.precision != "32-true" and torch.cuda.is_available():
        torch.set_float32_matmul_precision("high")


def is_rank_zero() -> bool:
    """False in the extra processes of a multi-process (DDP) run, which write nothing."""
    from pytorch_lightning.utilities import rank_zero_only

    return rank_zero_only.rank == 0
