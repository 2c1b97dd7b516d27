"""`prepare` refuses question files whose characters the corpus (and so the vocabulary) lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_probe.data import Question, Vocabulary
from knowledge_probe.data.errors import DataFormatError
from pipeline.prepare import check_characters


def test_unknown_characters_are_named_with_their_first_line() -> None:
    vocab = Vocabulary("Where was Ada born? London")
    questions = [
        Question("Where was Ada born?", "London"),
        Question("Where was Åda born?", "Łondon"),
    ]
    with pytest.raises(DataFormatError) as info:
        check_characters(Path("birth_dev.tsv"), questions, vocab)
    message = str(info.value)
    assert message.startswith("birth_dev.tsv:2: uses characters absent from the corpus")
    assert "'Å' (U+00C5, line 2)" in message and "'Ł' (U+0141, line 2)" in message


def test_known_characters_pass() -> None:
    vocab = Vocabulary("Where was Ada born? London")
    check_characters(Path("x.tsv"), [Question("Where was Ada born?", "London")], vocab)
    check_characters(Path("x.tsv"), [Question("Where was Ada born?")], vocab)  # test inputs
