"""The summary: the reference's real-data figures next to a run on the same data, and the time
of each stage."""

from __future__ import annotations

import json
from pathlib import Path

from knowledge_probe.reporting import markdown, stage_times, times_markdown, with_reference
from knowledge_probe.reporting.page import accuracy_section, times_section


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


def test_stage_times_name_each_stage_that_ran_with_the_seconds_of_its_work(tmp_path) -> None:
    def write(relative: str, content: dict) -> None:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))

    write("pretrain/vanilla.json", {"seconds": 430.2, "epochs": 80})
    write("finetune/vanilla-scratch.json", {"seconds": 17.2})
    write("eval/vanilla-scratch.json", {"accuracy": 0.02, "decode_seconds": 0.1})
    times = stage_times(Path(tmp_path), ("vanilla", "perceiver"), ("scratch", "pretrained"))
    assert times == {
        "pretrain@vanilla": 430.2,
        "finetune@vanilla-scratch": 17.2,
        "evaluate@vanilla-scratch": 0.1,
    }
    table = times_markdown(times, reference=False)
    assert "| pretrain@vanilla | 430.2 |" in table and "H200" not in table
    assert "444 s" in times_markdown(times, reference=True)
    assert "430.2" in times_section(times, reference=False)
    assert "444 s" in times_section(times, reference=True)
