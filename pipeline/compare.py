"""Compare the jobs of a Hydra multirun: mean and spread of dev accuracy per setting, variant and init.

A job's *setting* is its command-line overrides other than `seed` and `model`, so a sweep such
as `-m model=vanilla,perceiver seed=0,1,2 pretrain.window=prefix,random` gives an ablation
table: one row per window, variant and init, aggregated over the seeds.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from knowledge_probe.io import write_json, write_text
from pipeline.report_html import render_comparison


def setting_of(job_dir: Path) -> str:
    """The job's overrides except seed and model (Hydra records them in .hydra/overrides.yaml)."""
    path = job_dir / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else []
    kept = sorted(o for o in overrides or [] if o.split("=", 1)[0] not in ("seed", "model"))
    return ",".join(kept) or "default"


def compare(sweep_dir: Path) -> list[dict]:
    """Read every job's reports/summary.json under `sweep_dir` and aggregate across seeds."""
    groups: dict[tuple[str, str, str], list[tuple[int, float]]] = {}
    for path in sorted(sweep_dir.glob("*/reports/summary.json")):
        summary = json.loads(path.read_text(encoding="utf-8"))
        setting = setting_of(path.parents[1])
        for row in summary["rows"]:
            groups.setdefault((setting, row["model"], row["init"]), []).append(
                (summary["seed"], row["accuracy"])
            )
    table = []
    for (setting, model, init), runs in sorted(groups.items()):
        accuracies = [a for _, a in runs]
        table.append(
            {
                "setting": setting,
                "model": model,
                "init": init,
                "runs": len(runs),
                "seeds": sorted({s for s, _ in runs}),
                "mean": statistics.fmean(accuracies),
                "std": statistics.stdev(accuracies) if len(runs) > 1 else 0.0,
                "min": min(accuracies),
                "max": max(accuracies),
            }
        )
    return table


def markdown(table: list[dict]) -> str:
    lines = [
        "| setting | model | init | runs | seeds | mean dev accuracy | std | min | max |",
        "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in table:
        lines.append(
            f"| {r['setting']} | {r['model']} | {r['init']} | {r['runs']} | {','.join(map(str, r['seeds']))} | {r['mean']:.1%} | "
            f"{r['std']:.1%} | {r['min']:.1%} | {r['max']:.1%} |"
        )
    return "\n".join(lines) + "\n"


class CompareRuns(Callback):
    """Hydra callback: after a multirun, write comparison.{json,md,html} into the sweep directory."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        table = compare(sweep_dir)
        write_json(sweep_dir / "comparison.json", table)
        text = markdown(table)
        write_text(sweep_dir / "comparison.md", text)
        write_text(
            sweep_dir / "comparison.html",
            render_comparison(f"Comparison of the runs in {sweep_dir}", table),
        )
        print(
            f"\nComparison of {sum(r['runs'] for r in table if r['init'] != '-')} job results ({sweep_dir}):\n{text}",
            flush=True,
        )
