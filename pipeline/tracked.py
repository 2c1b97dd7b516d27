"""A stage's W&B run and its one summary line on the console."""

from __future__ import annotations

import logging
import os
import time
import warnings
from contextlib import contextmanager

from omegaconf import DictConfig, OmegaConf

from knowledge_probe.tracking import Tracker, start_tracker
from pipeline.records import RunContext, run_record
from pipeline.runtime import is_rank_zero


def quiet_libraries() -> None:
    """Keep stage output to progress bars and the summary line."""
    for name in ("pytorch_lightning", "lightning_fabric", "lightning.pytorch"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("WANDB_SILENT", "true")
    # raised inside Lightning by torch's own deprecation; nothing a user can act on
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")


@contextmanager
def tracked_stage(
    cfg: DictConfig,
    context: RunContext,
    stage: str,
    variant: str | None = None,
    init: str | None = None,
    run_id: str | None = None,
):
    """Start the stage's W&B run (continuing `run_id`), print one summary line at the end."""
    quiet_libraries()
    record = run_record(context, stage, variant, init)
    tracker = Tracker(None)
    if is_rank_zero():
        tracker = start_tracker(
            OmegaConf.to_container(cfg.logger),
            job_type=record.job_type,
            name=record.name,
            group=record.group,
            config=record.config,
            tags=record.tags,
            run_id=run_id,
        )
    start = time.perf_counter()
    summary: dict[str, str] = {}
    try:
        yield tracker, summary
    except BaseException:
        tracker.finish(exit_code=1)
        raise
    tracker.finish()
    parts = " | ".join(f"{k}: {v}" for k, v in summary.items())
    print(f"[{record.label}] {time.perf_counter() - start:.1f}s | {parts}", flush=True)
