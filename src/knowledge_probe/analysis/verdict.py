"""A claim, whether the measurement supports it, and the measured numbers that decided it."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Verdict:
    """`claim` states the hypothesis; `passed` and `finding` are computed from measurements.

    `passed` is None when the data cannot decide (for example, an empty comparison group).
    """

    claim: str
    passed: bool | None
    finding: str

    @property
    def label(self) -> str:
        return {True: "supported", False: "not supported", None: "undecided"}[self.passed]

    def to_dict(self) -> dict:
        return asdict(self)
