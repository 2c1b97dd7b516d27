"""Exact-match accuracy as a torchmetrics Metric, so counts add up across processes."""

from __future__ import annotations

import torch
from torchmetrics import Metric


class ExactMatch(Metric):
    """Counts predictions equal to the gold string; `compute()` returns correct, total and accuracy."""

    full_state_update = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("correct", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, predictions: list[str], golds: list[str]) -> None:
        if len(predictions) != len(golds):
            raise ValueError(f"{len(predictions)} predictions for {len(golds)} gold answers")
        self.correct += sum(p == g for p, g in zip(predictions, golds, strict=True))
        self.total += len(golds)

    def compute(self) -> dict[str, torch.Tensor]:
        total = self.total.clamp(min=1)
        return {
            "correct": self.correct,
            "total": self.total,
            "accuracy": self.correct.float() / total,
        }
