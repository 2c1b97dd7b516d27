"""Stage `report`: one summary of every variant x init plus the baseline, as JSON, Markdown, plots
and reports/index.html (the accuracies, training curves, the analyses and the configuration)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from knowledge_probe.io import write_json, write_text
from knowledge_probe.reporting import (
    collect,
    cost_markdown,
    cost_rows,
    markdown,
    plot_accuracy,
    plot_curves,
    render,
    stage_times,
    times_markdown,
    with_reference,
)
from knowledge_probe.reporting.summary import read_metrics
from pipeline.command import run_stage_command
from pipeline.stages import INITS
from pipeline.tracked import tracked_stage


def run(cfg, context) -> list[dict]:
    out = Path(cfg.paths.reports)
    with tracked_stage(cfg, context, "report") as (tracker, summary):
        details = Path(cfg.paths.metrics) / "analysis" / "details"
        rows = collect(Path(cfg.paths.metrics), tuple(cfg.variants), INITS)
        times = stage_times(Path(cfg.paths.metrics), tuple(cfg.variants), INITS)
        reference = cfg.data.source == "cs224n"  # the data the reference's figures come from
        if reference:
            rows = with_reference(rows)
        data = read_metrics(Path(cfg.paths.metrics) / "data.json")
        complexity = read_metrics(details / "complexity.json") or None
        cost = cost_rows(rows, complexity)
        write_json(
            out / "summary.json",
            {
                "experiment": cfg.experiment_name,
                "seed": cfg.seed,
                "data": data,
                "rows": rows,
                "cost": cost,
                "stage_seconds": times,
            },
        )
        table = markdown(rows)
        write_text(
            out / "summary.md",
            f"# {cfg.experiment_name} (seed {cfg.seed}, data {cfg.data.source})\n\n{table}"
            f"\n## Accuracy against cost\n\n{cost_markdown(cost)}"
            f"\n## Time per stage\n\n{times_markdown(times, reference)}",
        )
        plot_curves(Path(cfg.paths.plots), out / "loss_curves.png")
        plot_accuracy(rows, out / "accuracy.png")
        page = render(
            title=f"{cfg.experiment_name}: seed {cfg.seed}, data {cfg.data.source}",
            rows=rows,
            times=times,
            reference_times=reference,
            seed=cfg.seed,
            data_stats=data,
            config_yaml=OmegaConf.to_yaml(cfg),
            reports=out,
            plots=Path(cfg.paths.plots) / "analysis",
            attention=read_metrics(details / "attention.json") or None,
            complexity=complexity,
            hallucination=read_metrics(details / "hallucination.json") or None,
        )
        write_text(out / "index.html", page)
        tracker.log_table(
            "summary", list(rows[0]) if rows else [], [list(r.values()) for r in rows]
        )
        tracker.log_artifact(out, "report", "report")
        print(table, end="")
        best = max((r for r in rows if r["init"] != "-"), key=lambda r: r["accuracy"], default=None)
        summary.update(
            wrote=f"{out}/summary.{{json,md}}, index.html, plots",
            best=f"{best['model']}-{best['init']} {best['accuracy']:.1%}" if best else "none",
        )
    return rows


def main() -> None:
    run_stage_command("report", __doc__, run)


if __name__ == "__main__":
    main()
