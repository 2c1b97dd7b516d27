"""The summary table puts the reference's real-data figures next to a run on the same data."""

from __future__ import annotations

from knowledge_probe.reporting import markdown, with_reference
from knowledge_probe.reporting.page import accuracy_section


def row(model: str, init: str, accuracy: float) -> dict:
    return {
        "model": model,
        "init": init,
        "accuracy": accuracy,
        "correct": round(500 * accuracy),
        "total": 500,
        "parameters": 3_323_392,
        "train_seconds": 1.0,
        "tokens_per_sec": None,
    }


ROWS = [
    row("vanilla", "scratch", 0.02),
    row("vanilla", "pretrained", 0.3),
    row("perceiver", "scratch", 0.01),
    row("perceiver", "pretrained", 0.1),
    row("majority (London)", "-", 0.05),
]


def test_each_row_gets_the_reference_figure_for_its_model_and_init() -> None:
    figures = [r["reference"] for r in with_reference(ROWS)]
    assert figures == [0.014, 0.258, None, 0.070, 0.050]


def test_the_reference_column_appears_only_for_rows_that_carry_it() -> None:
    plain = markdown(ROWS).splitlines()
    compared = markdown(with_reference(ROWS)).splitlines()
    assert "reference" not in plain[0] and "reference (H200)" in compared[0]
    assert plain[0].count("|") + 1 == compared[0].count("|")
    assert compared[3].endswith("| 25.8% |") and compared[4].endswith("| - |")
    page = accuracy_section(with_reference(ROWS), seed=0)
    assert "reference (H200)" in page and "25.8%" in page
    assert "reference" not in accuracy_section(ROWS, seed=0)
