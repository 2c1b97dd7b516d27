"""Experiment tracking with W&B: offline unless configured, never able to stop a run."""

from knowledge_probe.tracking.wandb_run import Tracker, start_tracker

__all__ = ["Tracker", "start_tracker"]
