"""Record training curves (step, epoch, loss, learning rate, speed) for DVC plots, the report and
the tracker.

The rows travel in the resume checkpoint (Lightning saves a callback's `state_dict`), so a run
that is interrupted and continued still writes one curve with every step exactly once.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from knowledge_probe.io import atomic_open

COLUMNS = ("step", "epoch", "loss", "lr", "tokens_per_sec")


class CurveRecorder(pl.Callback):
    """Keep every step's metrics; `write` publishes them as CSV.

    `send(metrics, step)` (a tracker's `log`) receives each row as `train/<column>` plus
    `trainer/global_step`, at W&B step = the optimizer step, so a continued run never logs a
    step twice.
    """

    def __init__(self, prefix: str = "train", send: Callable[[dict, int], None] | None = None):
        # not `self.log`: Lightning binds the module's `log` onto callbacks under that name
        self.prefix, self.send = prefix, send
        self.rows: list[dict[str, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        metrics = {
            k.removeprefix(f"{self.prefix}/"): v for k, v in trainer.callback_metrics.items()
        }
        if "loss" not in metrics:
            return
        row = {
            "step": trainer.global_step,
            "epoch": trainer.current_epoch,
            "loss": round(float(metrics["loss"]), 5),
            "lr": float(metrics.get("lr", float("nan"))),
            "tokens_per_sec": round(float(metrics.get("tokens_per_sec", float("nan"))), 1),
        }
        self.rows.append(row)
        if self.send is not None:
            logged = {f"train/{k}": v for k, v in row.items() if k != "step" and not math.isnan(v)}
            self.send(logged | {"trainer/global_step": row["step"]}, row["step"])

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = list(state["rows"])

    def write(self, path: str | Path) -> None:
        with atomic_open(path) as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)
