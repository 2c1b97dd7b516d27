"""The Hydra callback that compares the jobs of a multirun once they have finished (the table and
its pages come from `knowledge_probe.reporting`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from knowledge_probe.io import write_json, write_text
from knowledge_probe.reporting import compare, failed_jobs, render_comparison
from knowledge_probe.reporting.compare import comparison_text


class CompareRuns(Callback):
    """After a multirun, write comparison.{json,md,html} into the sweep directory."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        table, failed = compare(sweep_dir), failed_jobs(sweep_dir)
        write_json(sweep_dir / "comparison.json", {"rows": table, "failed": failed})
        text = comparison_text(sweep_dir, table, failed)
        write_text(sweep_dir / "comparison.md", text)
        write_text(
            sweep_dir / "comparison.html",
            render_comparison(f"Comparison of the runs in {sweep_dir}", table, failed),
        )
        print(
            f"\nComparison of {sum(r['runs'] for r in table if r['init'] != '-')} job results ({sweep_dir}):\n{text}",
            flush=True,
        )
        if failed:
            sys.exit(f"{len(failed)} of the sweep's jobs failed; see {sweep_dir / 'comparison.md'}")
