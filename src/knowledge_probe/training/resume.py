"""Resume checkpoints: written every N steps and on SIGTERM/SIGINT, picked up by the next run.

A resume checkpoint is Lightning's full training state (weights, optimizer, loop counters, the
other callbacks' state such as the loss curve so far) plus what Lightning does not keep: the
position in the epoch, the global random state (dropout), a fingerprint of everything that
determines the run, and the id of its tracking run, so the continued run logs to the same one. The next run with the same fingerprint
continues from it and ends with the same weights as an uninterrupted run; one with a different
fingerprint ignores it. It is written atomically and deleted once training finishes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

log = logging.getLogger(__name__)


class TrainingInterrupted(RuntimeError):
    """SIGTERM or SIGINT arrived; the state after the last finished step was saved."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


def run_fingerprint(description: Any) -> str:
    """A stable digest of whatever determines a training run (config, data, seed)."""
    text = json.dumps(description, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def usable_checkpoint(path: str | os.PathLike, fingerprint: str) -> Path | None:
    """The resume checkpoint at `path` if it belongs to this run; stale or broken ones are removed."""
    return Path(path) if _own_state(path, fingerprint) is not None else None


def _own_state(path: str | os.PathLike, fingerprint: str) -> dict[str, Any] | None:
    """The ResumeCheckpoint state saved at `path` if it belongs to this run; stale or broken
    files are removed."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        own = state["callbacks"][ResumeCheckpoint.__qualname__]
        saved = own["fingerprint"]
    except Exception as err:  # noqa: BLE001 - any unreadable file is treated the same way
        log.warning("%s is unreadable (%s); starting from the beginning", path, err)
        path.unlink()
        return None
    if saved != fingerprint:
        log.warning(
            "%s was written by a different configuration; starting from the beginning", path
        )
        path.unlink()
        return None
    return own


class ResumeCheckpoint(pl.Callback):
    """Save the training state every `every_n_steps` steps and when asked to stop by a signal."""

    def __init__(self, path: str | os.PathLike, every_n_steps: int, fingerprint: str):
        if every_n_steps < 0:
            raise ValueError(
                f"every_n_steps must be >= 0 (0: only on signals), got {every_n_steps}"
            )
        self.path, self.every_n_steps, self.fingerprint = Path(path), every_n_steps, fingerprint
        self.run_id: str | None = None  # the tracking run to continue after a resume
        self.done_in_epoch = 0
        self._rng_to_restore: torch.Tensor | None = None
        self._signal: int | None = None
        self._previous_handlers: dict[int, Any] = {}

    # signals: remember, then act at the next step boundary where the state is consistent
    def _on_signal(self, signum: int, _frame) -> None:
        self._signal = signum

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._trainer = trainer

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous_handlers[signum] = signal.signal(signum, self._on_signal)
            except ValueError:  # not the main thread: leave signals alone
                pass

    def _restore_signals(self) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers.clear()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore_signals()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._restore_signals()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.done_in_epoch = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if self._rng_to_restore is not None:
            torch.set_rng_state(self._rng_to_restore)
            self._rng_to_restore = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.done_in_epoch += 1
        due = self.every_n_steps and trainer.global_step % self.every_n_steps == 0
        if due or self._signal is not None:
            self.save(trainer, pl_module)
        if self._signal is not None:
            name = signal.Signals(self._signal).name
            raise TrainingInterrupted(
                f"{name} received: training state after step {trainer.global_step} saved to "
                f"{self.path}; run the same command again to continue",
                self._signal,
            )

    def save(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Write atomically: a kill during the write leaves the previous checkpoint intact.

        Weights that are no longer finite (a diverging step) never replace the last good state.
        """
        if not all(torch.isfinite(p).all() for p in pl_module.parameters()):
            log.warning(
                "step %d left non-finite weights; resume checkpoint not updated",
                trainer.global_step,
            )
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        trainer.save_checkpoint(tmp)
        if trainer.is_global_zero:
            os.replace(tmp, self.path)

    def saved_run_id(self) -> str | None:
        """The tracking run id kept with a usable resume checkpoint of this run, if any."""
        own = _own_state(self.path, self.fingerprint)
        return own.get("run_id") if own is not None else None

    def state_dict(self) -> dict[str, Any]:
        # Saved at an epoch's last batch, Lightning continues with the next epoch: so does the data.
        epoch, done = self._trainer.current_epoch, self.done_in_epoch
        if done >= self._trainer.num_training_batches:
            epoch, done = epoch + 1, 0
        return {
            "fingerprint": self.fingerprint,
            "epoch": epoch,
            "done_in_epoch": done,
            "rng": torch.get_rng_state(),
            "run_id": self.run_id,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["fingerprint"] != self.fingerprint:
            raise ValueError(f"{self.path}: resume checkpoint of another run")
        self.done_in_epoch = int(state["done_in_epoch"])
        self._rng_to_restore = state["rng"]

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        """Tell the data where the interrupted run stopped, before its loader is built."""
        state = checkpoint["callbacks"][self.state_key]
        resume_at = getattr(trainer.datamodule, "resume_at", None)
        if resume_at is None:
            raise TypeError("resuming needs a datamodule with `resume_at(epoch, batches_done)`")
        resume_at(int(state["epoch"]), int(state["done_in_epoch"]))

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
