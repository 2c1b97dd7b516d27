"""The LightningModule shared by pretraining and finetuning: the objective lives in the data."""

from __future__ import annotations

import time

import pytorch_lightning as pl
import torch

from knowledge_probe.data.vocab import PAD_ID
from knowledge_probe.models.gpt import GPT
from knowledge_probe.models.packing import pack
from knowledge_probe.training.optim import OptimConfig, lr_multiplier, make_optimizer


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss; the stage stops before writing anything."""


def trim_trailing_padding(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the trailing positions whose targets are pads in every row.

    The loss ignores pad targets and attention is causal, so the loss and its gradients are
    unchanged; name-QA batches are mostly padding, so this saves most of their compute.
    """
    real = (y != PAD_ID).any(dim=0).nonzero()
    keep = int(real.max()) + 1 if real.numel() else 1
    return x[:, :keep], y[:, :keep]


class LanguageModelModule(pl.LightningModule):
    """Next-character training of a GPT with the reference's token-based learning-rate schedule.

    Like the reference, every target position (pads included) counts as a token for the schedule.
    """

    def __init__(
        self,
        model: GPT,
        optim: OptimConfig,
        prefix: str = "train",
        packing: bool = False,
        compile_model: bool = False,
        trim_padding: bool = False,
    ):
        """`packing`: train on the batch's examples packed into as few rows as fit (see
        `models.packing`); `trim_padding`: otherwise drop the batch's trailing all-pad positions.
        Either way the loss and its gradients are those of the padded batch."""
        super().__init__()
        self.model, self.optim, self.prefix, self.packing = model, optim, prefix, packing
        self.trim_padding = trim_padding
        # a compiled bound method, not a module, so the weights are registered once
        self._train_forward = (
            torch.compile(model.forward, dynamic=True) if compile_model else model.forward
        )
        self.tokens_seen = self.resumed_at_step = 0
        # training time before a resume, and when this process started training
        self.seconds_resumed, self._started = 0.0, time.perf_counter()
        self._last_step_time: float | None = None

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        return self.model(idx, targets)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = batch
        full_size, examples = y.numel(), y.size(0)
        if self.packing:
            x, y, layout = pack(x, y, unit=self.model.packing_unit)
            _, loss = self._train_forward(x, y, layout)
        else:
            # right-aligned latents read the row's width, so trimming would change their loss
            if self.trim_padding and not self.model.right_aligned:
                x, y = trim_trailing_padding(x, y)
            _, loss = self._train_forward(x, y)
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"loss is {loss.item()} at step {self.global_step} (epoch {self.current_epoch}); "
                "lower the learning rate or check the data; this stage wrote no outputs (earlier ones are "
                "untouched) and the last resume checkpoint, if any, is kept"
            )
        # As the reference: the rate for this step comes from the tokens of the steps before
        # (the first step runs at the full rate), and every target position counts, pads included.
        lr = self.optim.learning_rate
        if self.tokens_seen:
            lr *= lr_multiplier(
                self.tokens_seen,
                self.optim.warmup_tokens,
                self.optim.final_tokens,
                self.optim.min_lr_ratio,
                self.optim.clamp_after_decay,
            )
        for group in self.optimizers().param_groups:
            group["lr"] = lr
        tokens = full_size * self.trainer.world_size
        self.tokens_seen += tokens
        now = time.perf_counter()
        metrics = {"loss": loss.detach(), "lr": lr, "tokens": float(self.tokens_seen)}
        if self._last_step_time is not None:
            metrics["tokens_per_sec"] = tokens / max(now - self._last_step_time, 1e-9)
        self._last_step_time = now
        metrics = {f"{self.prefix}/{k}": v for k, v in metrics.items()}
        self.log_dict(metrics, on_step=True, on_epoch=False, batch_size=examples)
        self.log(
            "loss",
            loss.detach(),
            prog_bar=True,
            on_step=True,
            on_epoch=False,
            logger=False,
            batch_size=examples,
        )
        return loss

    def on_train_epoch_start(self) -> None:
        self._last_step_time = None  # do not count the data loader's start-up as a step

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return make_optimizer(self.model, self.optim)

    def on_train_start(self) -> None:
        self._started = time.perf_counter()

    def training_seconds(self) -> float:
        """Time spent training, before an interruption included."""
        return self.seconds_resumed + time.perf_counter() - self._started

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["tokens_seen"] = self.tokens_seen
        checkpoint["training_seconds"] = self.training_seconds()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.tokens_seen = int(checkpoint.get("tokens_seen", 0))
        self.seconds_resumed = float(checkpoint.get("training_seconds", 0.0))
        self.resumed_at_step = int(checkpoint.get("global_step", 0))
