"""Accuracy against cost: per variant, its accuracies and the FLOPs the complexity stage counted."""

from __future__ import annotations

from knowledge_probe.reporting.cost import COST_LENGTHS, cost_markdown, cost_rows

ROWS = [
    {"model": "vanilla", "init": "scratch", "accuracy": 0.02},
    {"model": "vanilla", "init": "pretrained", "accuracy": 0.76},
    {"model": "chunked", "init": "pretrained", "accuracy": 0.64},
    {"model": "majority (Linköping)", "init": "-", "accuracy": 0.02},
]
COMPLEXITY = {
    "rows": [
        {"variant": "vanilla", "length": 128, "flops": 2.5e9},
        {"variant": "vanilla", "length": 4096, "flops": 4.0e11},
        {"variant": "chunked", "length": 128, "flops": 2.0e9},
        {"variant": "chunked", "length": 256, "flops": 4.0e9},
    ],
    "exponents": {"vanilla": {"flops": 1.72}, "chunked": {"flops": 1.0}},
}


def test_each_variant_gets_its_accuracies_and_the_costs_that_were_measured() -> None:
    cost = cost_rows(ROWS, COMPLEXITY)
    assert [r["model"] for r in cost] == ["vanilla", "chunked"]  # not the baseline
    vanilla, chunked = cost
    assert (vanilla["pretrained"], vanilla["scratch"]) == (0.76, 0.02)
    assert vanilla[f"gflops_{COST_LENGTHS[0]}"] == 2.5 and vanilla["gflops_4096"] == 400.0
    assert (chunked["scratch"], chunked["gflops_4096"], chunked["flops_exponent"]) == (
        None,
        None,
        1.0,
    )
    table = cost_markdown(cost)
    assert "| chunked | 64.0% | - | 2.000 | - | 1.00 |" in table
    assert "| vanilla | 76.0% | 2.0% | 2.500 | 400.000 | 1.72 |" in table
    assert "94 of 500" in table  # the seed's claim stands next to the measurements


def test_without_the_complexity_stage_the_costs_are_missing_not_zero() -> None:
    assert all(
        r["gflops_128"] is None and r["flops_exponent"] is None for r in cost_rows(ROWS, None)
    )
