"""Compare the jobs of a sweep: mean and spread of dev accuracy per setting, variant and init.

A job's *setting* is its command-line overrides other than `seed` and `model`, less those that
every job of the sweep shares, so a sweep such as
`-m experiment=handout model=vanilla,perceiver seed=0,1,2 pretrain.window=prefix,random` gives an
ablation table: one row per window, variant and init, aggregated over the seeds.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import yaml

# a sweep job that fails leaves this file in its directory, with its overrides and error
FAILURE_FILE = "failure.json"


def overrides_of(job_dir: Path) -> set[str]:
    """The job's overrides except seed and model (Hydra records them in .hydra/overrides.yaml)."""
    path = job_dir / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else []
    return {o for o in overrides or [] if o.split("=", 1)[0] not in ("seed", "model")}


def shared_overrides(overrides: list[set[str]]) -> set[str]:
    """The overrides that every job of a sweep has (given each job's `overrides_of`)."""
    return set.intersection(*overrides) if overrides else set()


def settings(job_dirs: list[Path]) -> dict[Path, str]:
    """Each job's setting: its overrides that not every job shares, or "default"."""
    overrides = {d: overrides_of(d) for d in job_dirs}
    shared = shared_overrides(list(overrides.values()))
    return {d: ",".join(sorted(o - shared)) or "default" for d, o in overrides.items()}


def compare(sweep_dir: Path) -> list[dict]:
    """Read every job's reports/summary.json under `sweep_dir` and aggregate across seeds.

    A baseline row (init "-") is the same for every variant of a seed, so each seed counts once.
    """
    summaries = sorted(sweep_dir.glob("*/reports/summary.json"))
    setting_of = settings([path.parents[1] for path in summaries])
    groups: dict[tuple[str, str, str], dict[int | tuple, tuple[int, float]]] = {}
    for number, path in enumerate(summaries):
        summary = json.loads(path.read_text(encoding="utf-8"))
        setting = setting_of[path.parents[1]]
        for row in summary["rows"]:
            key = summary["seed"] if row["init"] == "-" else (number,)
            groups.setdefault((setting, row["model"], row["init"]), {})[key] = (
                summary["seed"],
                row["accuracy"],
            )
    table = []
    for (setting, model, init), by_key in sorted(groups.items()):
        runs = list(by_key.values())
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


def failed_jobs(sweep_dir: Path) -> list[dict]:
    """The jobs that left a failure record (pipeline.experiment writes one when a job fails)."""
    failed = []
    for path in sorted(sweep_dir.glob(f"*/{FAILURE_FILE}"), key=lambda p: p.parent.name):
        record = json.loads(path.read_text(encoding="utf-8"))
        failed.append({"job": path.parent.name} | record)
    return failed


def comparison_markdown(table: list[dict]) -> str:
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


def comparison_text(sweep_dir: Path, table: list[dict], failed: list[dict]) -> str:
    """comparison.md: what every job shares, the table, and the jobs that failed."""
    jobs = [p.parents[1] for p in sweep_dir.glob("*/reports/summary.json")]
    shared = shared_overrides([overrides_of(d) for d in jobs])
    text = f"Every job: {' '.join(sorted(shared)) or 'no overrides'}\n\n" + comparison_markdown(
        table
    )
    if failed:
        text += "\nFailed jobs:\n\n" + "".join(
            f"- job {f['job']} ({' '.join(f['overrides'])}): {f['error']}\n" for f in failed
        )
    return text
