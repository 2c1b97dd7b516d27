"""Predictions files hold one record per question, whatever the model generated."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knowledge_probe.data.errors import DataFormatError
from knowledge_probe.data.readers import Question, question_for
from knowledge_probe.evaluation.predictions import (
    escape,
    read_predictions,
    unescape,
    write_predictions,
)

# what a model can emit: anything, and above all what breaks a line-based file
AWKWARD = "\t\n\r\\\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029□⁇ "
answers = st.text(
    alphabet=st.sampled_from(AWKWARD) | st.characters(exclude_categories=("Cs",)), max_size=40
)


@given(st.lists(answers, min_size=1, max_size=8))
def test_any_answers_round_trip_one_line_per_question(tmp_path_factory, generated) -> None:
    questions = [Question(question_for(f"Person {i}"), "Paris") for i in range(len(generated))]
    path = tmp_path_factory.mktemp("p") / "dev.tsv"
    write_predictions(path, questions, generated)
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") == len(questions) == len(text.splitlines())
    assert read_predictions(path, questions) == generated


@given(st.text())
def test_escape_is_undone_exactly(text) -> None:
    assert unescape(escape(text)) == text
    assert not set(escape(text)) & set("\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def test_escapes_are_the_documented_ones() -> None:
    assert escape("a\tb\nc\rd\\e\u2028□⁇") == "a\\tb\\nc\\rd\\\\e\\u2028□⁇"
    assert escape("") == ""


def test_names_are_checked_line_by_line(tmp_path) -> None:
    dev = [Question(question_for("Ada Byron"), "London")]
    path = tmp_path / "p.tsv"
    path.write_text("Ada Byron\tParis\n", encoding="utf-8")
    assert read_predictions(path, dev) == ["Paris"]
    path.write_text("Alan Moore\tParis\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="p.tsv:1"):
        read_predictions(path, dev)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Ada Byron\tParis\nAda Byron\tRome\n", "2 lines for 1 questions"),
        ("Ada Byron\tParis", "does not end with a line break"),
        ("Ada Byron\tPa\\qris\n", "p.tsv:1: unknown escape"),
        ("Ada Byron\tParis\textra\n", "p.tsv:1: expected"),
    ],
)
def test_malformed_files_name_the_file_and_line(tmp_path, text, problem) -> None:
    path = tmp_path / "p.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError, match=problem):
        read_predictions(path, [Question(question_for("Ada Byron"), "London")])
