"""The majority-place baseline: answer the most frequent training place for everyone."""

from __future__ import annotations

from collections import Counter

from knowledge_probe.data.readers import Question


def majority_place(train: list[Question]) -> str:
    """Most frequent training place; ties go to the alphabetically first, so it is deterministic."""
    counts = Counter(q.place for q in train)
    return min(counts, key=lambda place: (-counts[place], place))
