"""One W&B run per stage, with every failure of W&B turned into a single warning.

Offline mode is the default, so nothing needs a network or an account; `WANDB_MODE=online`
plus a login sends the same runs to the server. When the server cannot be reached the run
falls back to offline files (kept under `wandb/` for `wandb sync`) after a bounded wait.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class Tracker:
    """A thin, failure-proof facade over a W&B run; a disabled tracker does nothing."""

    def __init__(self, run: Any = None):
        self.run = run
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self.run is not None

    @property
    def run_id(self) -> str | None:
        """The run's id, kept with a training run's resume state to continue the same run."""
        return self.run.id if self.run is not None else None

    def _guard(self, what: str, fn, *args, **kwargs):
        if self.run is None:
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # tracking must never stop the experiment
            if not self._warned:
                warnings.warn(
                    f"W&B {what} failed ({type(err).__name__}: {err}); continuing without it",
                    stacklevel=3,
                )
                self._warned = True
            return None

    def log(self, metrics: dict[str, Any], step: int | None = None) -> None:
        self._guard("log", self.run.log if self.run else None, metrics, step=step)

    def summary(self, metrics: dict[str, Any]) -> None:
        self._guard("summary", lambda: self.run.summary.update(metrics))

    def update_config(self, values: dict[str, Any]) -> None:
        self._guard("config", lambda: self.run.config.update(values, allow_val_change=True))

    def log_artifact(
        self, path: str | Path, name: str, type_: str, metadata: dict | None = None
    ) -> None:
        """Record a file or directory as an output artifact (the file itself is never touched)."""

        def _log():
            import wandb

            artifact = wandb.Artifact(name, type=type_, metadata=metadata or {})
            p = Path(path)
            artifact.add_dir(str(p)) if p.is_dir() else artifact.add_file(str(p))
            self.run.log_artifact(artifact)

        self._guard("artifact logging", _log)

    def use_artifact(self, name: str, type_: str, path: str | Path) -> None:
        """Record an input artifact for lineage. Online this links the logged artifact; offline
        (where W&B refuses use_artifact) the input's name and path go into the run's config."""

        def _use():
            if getattr(self.run, "offline", False):
                self.run.config.update(
                    {f"inputs/{name}": {"type": type_, "path": str(path)}}, allow_val_change=True
                )
            else:
                self.run.use_artifact(f"{name}:latest", type=type_)

        self._guard("artifact use", _use)

    def log_table(self, key: str, columns: list[str], rows: list[list[Any]]) -> None:
        def _table():
            import wandb

            self.run.log({key: wandb.Table(columns=columns, data=rows)})

        self._guard("table logging", _table)

    def log_images(self, key: str, paths: list[str | Path]) -> None:
        """Log PNG figures as W&B images under `key/<file stem>`."""

        def _images():
            import wandb

            self.run.log({f"{key}/{Path(p).stem}": wandb.Image(str(p)) for p in paths})

        self._guard("image logging", _images)

    def finish(self, exit_code: int = 0) -> None:
        self._guard("finish", lambda: self.run.finish(exit_code=exit_code))
        self.run = None


def run_directory(configured: str | None) -> Path:
    """Where runs are written: `WANDB_DIR` when set; otherwise `configured`, a relative path
    being taken from the DVC repository's root (`DVC_ROOT`, which DVC sets for its stages and
    points at the real repository under `dvc exp run`), so that the runs of temporary and queued
    experiments outlive DVC's temporary workspace."""
    if os.environ.get("WANDB_DIR"):
        return Path(os.environ["WANDB_DIR"])
    path = Path(configured or ".")
    root = os.environ.get("DVC_ROOT")
    return Path(root) / path if root and not path.is_absolute() else path


def start_tracker(
    logger_cfg: dict[str, Any],
    *,
    job_type: str,
    name: str,
    group: str,
    config: dict[str, Any],
    tags: list[str] | None = None,
    run_id: str | None = None,
) -> Tracker:
    """Start a W&B run as configured (`backend: none` gives a disabled tracker).

    With `run_id`, the run of that id is continued (a resumed training stage). Training curves
    are plotted against `trainer/global_step`.
    """
    if logger_cfg.get("backend", "none") == "none":
        return Tracker(None)
    try:
        import wandb
    except ImportError:
        warnings.warn("wandb is not installed; tracking is off", stacklevel=2)
        return Tracker(None)
    mode = os.environ.get("WANDB_MODE", logger_cfg.get("mode", "offline"))
    directory = run_directory(logger_cfg.get("dir"))
    directory.mkdir(parents=True, exist_ok=True)
    options = dict(
        project=logger_cfg.get("project", "knowledge-probe"),
        entity=logger_cfg.get("entity"),
        group=group,
        job_type=job_type,
        name=name,
        config=config,
        tags=tags,
        dir=str(directory),
        reinit="finish_previous",
        id=run_id,
        resume="allow" if run_id else None,
    )
    timeout = float(logger_cfg.get("init_timeout", 30))
    try:
        run = wandb.init(
            mode=mode, settings=wandb.Settings(init_timeout=timeout, silent=True), **options
        )
    except Exception as err:
        if mode == "offline":
            warnings.warn(
                f"W&B could not start ({type(err).__name__}: {err}); tracking is off", stacklevel=2
            )
            return Tracker(None)
        refused = isinstance(err, wandb.errors.AuthenticationError)
        what = "W&B refused the API key" if refused else "W&B server unreachable"
        fix = "; fix it with `wandb login`" if refused else ""
        warnings.warn(
            f"{what} ({type(err).__name__}: {err}){fix}; logging offline instead, "
            f"sync later with `wandb sync {directory / 'wandb'}`",
            stacklevel=2,
        )
        try:
            run = wandb.init(mode="offline", settings=wandb.Settings(silent=True), **options)
        except Exception as err2:
            warnings.warn(
                f"W&B offline fallback failed too ({err2}); tracking is off", stacklevel=2
            )
            return Tracker(None)
    tracker = Tracker(run)
    tracker._guard("define_metric", _define_step_metric, run)
    return tracker


def _define_step_metric(run) -> None:
    run.define_metric("trainer/global_step")
    run.define_metric("train/*", step_metric="trainer/global_step")
