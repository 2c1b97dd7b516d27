"""Accuracy against cost: the research question at a glance, one row per variant.

Dev accuracy comes from the run's evaluations, the cost of one training step from the complexity
stage (FLOPs counted by torch at sequence lengths it measured), and the seed document's claim
about the perceiver stands next to them.
"""

from __future__ import annotations

# the step lengths shown: the experiments' context, and a long one where the bodies part ways
COST_LENGTHS = (128, 4096)
SEED_PERCEIVER_CLAIM = (
    "The seed document: the perceiver's cost is O(dn + L m^2) against O(L^2 d + L d) for "
    "self-attention, and its pretrained perceiver answered 94 of 500 dev questions on the real "
    "data (written there as 8.79%; 94/500 is 18.8%)."
)


def cost_rows(rows: list[dict], complexity: dict | None) -> list[dict]:
    """Per variant with evaluations: dev accuracy pretrained and from scratch, and GFLOPs of one
    training step at each of COST_LENGTHS (None where the complexity stage did not measure it)."""
    flops = {(r["variant"], r["length"]): r["flops"] for r in (complexity or {}).get("rows", [])}
    exponents = (complexity or {}).get("exponents", {})
    out = []
    for variant in dict.fromkeys(r["model"] for r in rows if r["init"] != "-"):
        accuracy = {r["init"]: r["accuracy"] for r in rows if r["model"] == variant}
        row = {
            "model": variant,
            "pretrained": accuracy.get("pretrained"),
            "scratch": accuracy.get("scratch"),
        }
        for length in COST_LENGTHS:
            measured = flops.get((variant, length))
            row[f"gflops_{length}"] = None if measured is None else measured / 1e9
        row["flops_exponent"] = exponents.get(variant, {}).get("flops")
        out.append(row)
    return out


def cells(row: dict) -> list[str]:
    """A cost row as table cells: percentages, GFLOPs, the exponent; '-' where not measured."""

    def show(value, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    return [
        row["model"],
        show(row["pretrained"], ".1%"),
        show(row["scratch"], ".1%"),
        *(show(row[f"gflops_{length}"], ",.3f") for length in COST_LENGTHS),
        show(row["flops_exponent"], ".2f"),
    ]


HEADERS = [
    "model",
    "dev accuracy, pretrained",
    "dev accuracy, scratch",
    *(f"GFLOPs per training step, L = {length}" for length in COST_LENGTHS),
    "FLOPs exponent in L",
]


def cost_markdown(cost: list[dict]) -> str:
    """The accuracy-against-cost table in Markdown, with the seed's claim under it."""
    lines = ["| " + " | ".join(HEADERS) + " |", "| --- |" + " ---: |" * (len(HEADERS) - 1)]
    lines += ["| " + " | ".join(cells(row)) + " |" for row in cost]
    return "\n".join(lines) + f"\n\n{SEED_PERCEIVER_CLAIM}\n"
