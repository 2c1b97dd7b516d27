"""Record training curves (step, loss, learning rate) for DVC plots and the report."""

from __future__ import annotations

import csv
from pathlib import Path

import pytorch_lightning as pl

from knowledge_probe.io import atomic_open

COLUMNS = ("step", "epoch", "loss", "lr", "tokens_per_sec")


class CurveRecorder(pl.Callback):
    """Keep every `every`-th step's metrics in memory; `write` publishes them as CSV."""

    def __init__(self, prefix: str = "train", every: int = 1):
        self.prefix, self.every = prefix, max(1, every)
        self.rows: list[dict[str, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if step % self.every and not trainer.is_last_batch:
            return
        metrics = {
            k.removeprefix(f"{self.prefix}/"): v for k, v in trainer.callback_metrics.items()
        }
        if "loss" not in metrics:
            return
        self.rows.append(
            {
                "step": step,
                "epoch": trainer.current_epoch,
                "loss": round(float(metrics["loss"]), 5),
                "lr": float(metrics.get("lr", float("nan"))),
                "tokens_per_sec": round(float(metrics.get("tokens_per_sec", float("nan"))), 1),
            }
        )

    def write(self, path: str | Path) -> None:
        with atomic_open(path) as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)
