"""Reporting: one run's summary table and figures, its HTML page, and the comparison of runs."""

from knowledge_probe.reporting.compare import FAILURE_FILE, compare, failed_jobs
from knowledge_probe.reporting.cost import cost_markdown, cost_rows
from knowledge_probe.reporting.page import render, render_comparison
from knowledge_probe.reporting.summary import (
    collect,
    markdown,
    plot_accuracy,
    plot_curves,
    stage_times,
    times_markdown,
    with_reference,
)

__all__ = [
    "FAILURE_FILE",
    "collect",
    "compare",
    "cost_markdown",
    "cost_rows",
    "failed_jobs",
    "markdown",
    "plot_accuracy",
    "plot_curves",
    "render",
    "render_comparison",
    "stage_times",
    "times_markdown",
    "with_reference",
]
