"""Exact-match accuracy and the majority-place baseline."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from knowledge_probe.data.readers import Question, read_questions
from knowledge_probe.evaluation.baseline import majority_place
from knowledge_probe.evaluation.metric import ExactMatch


def test_exact_match_counts() -> None:
    metric = ExactMatch()
    metric.update(["London", "Paris", "rome"], ["London", "Rome", "Rome"])
    result = metric.compute()
    assert result["correct"].item() == 1
    assert result["total"].item() == 3
    assert result["accuracy"].item() == pytest.approx(1 / 3)


def test_exact_match_accumulates_and_resets() -> None:
    metric = ExactMatch()
    metric.update(["a", "b"], ["a", "b"])
    metric.update(["c", "d", "e"], ["c", "x", "y"])
    result = metric.compute()
    assert (result["correct"].item(), result["total"].item()) == (3, 5)
    assert result["accuracy"].item() == pytest.approx(0.6)
    metric.reset()
    metric.update(["a"], ["b"])
    result = metric.compute()
    assert (result["correct"].item(), result["total"].item(), result["accuracy"].item()) == (
        0,
        1,
        0.0,
    )


def test_exact_match_is_exact() -> None:
    metric = ExactMatch()
    metric.update(["London ", "london", "Londo", ""], ["London", "London", "London", ""])
    assert metric.compute()["correct"].item() == 1


def test_no_predictions_give_zero_accuracy() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchmetrics warns about compute() before update()
        result = ExactMatch().compute()
    assert result["total"].item() == 0
    assert result["accuracy"].item() == 0.0


def test_mismatched_lengths_raise() -> None:
    metric = ExactMatch()
    with pytest.raises(ValueError, match="2 predictions for 3"):
        metric.update(["a", "b"], ["a", "b", "c"])


def places(*names: str) -> list[Question]:
    return [Question(f"Where was P{i} born?", name) for i, name in enumerate(names)]


def test_majority_place_picks_the_most_frequent() -> None:
    assert majority_place(places("Rome", "Paris", "Rome", "Oslo", "Rome", "Paris")) == "Rome"


def test_majority_place_breaks_ties_alphabetically() -> None:
    assert majority_place(places("Rome", "Paris", "Oslo", "Rome", "Paris", "Oslo")) == "Oslo"
    assert majority_place(places("Zagreb", "Athens")) == "Athens"
    assert majority_place(places("b", "a", "b", "a", "c")) == "a"


def test_real_majority_baseline(real_data_dir: Path) -> None:
    train = read_questions(real_data_dir / "birth_places_train.tsv")
    dev = read_questions(real_data_dir / "birth_dev.tsv")
    place = majority_place(train)
    assert place == "London"
    metric = ExactMatch()
    metric.update([place] * len(dev), [q.place for q in dev])
    result = metric.compute()
    assert (result["correct"].item(), result["total"].item()) == (25, 500)
    assert result["accuracy"].item() == pytest.approx(0.05)
