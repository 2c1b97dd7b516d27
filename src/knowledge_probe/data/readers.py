"""Readers for the four data files that validate every line as they read it.

Accepted and normalised: a UTF-8 byte-order mark, Windows line endings, trailing blank lines.
Everything else that is wrong raises DataFormatError naming the file, the line and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from knowledge_probe.data.errors import DataFormatError
from knowledge_probe.data.vocab import MASK, PAD

FILE_NAMES = {
    "corpus": "wiki.txt",
    "train": "birth_places_train.tsv",
    "dev": "birth_dev.tsv",
    "test": "birth_test_inputs.tsv",
}
QUESTION = re.compile(r"^Where was (?P<name>.+) born\?$")


@dataclass(frozen=True)
class Question:
    """One `Where was NAME born?` line; `place` is None for test inputs, which have no gold."""

    question: str
    place: str | None = None

    @property
    def name(self) -> str:
        match = QUESTION.match(self.question)
        assert match, self.question  # guaranteed by the reader
        return match.group("name")


def question_for(name: str) -> str:
    return f"Where was {name} born?"


def _read_lines(path: str | Path) -> list[str]:
    """Decode strictly as UTF-8 and drop trailing blank lines; blank lines elsewhere are errors."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, None, "file not found", "check the configured data directory")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataFormatError(
            path,
            line,
            f"bytes that are not UTF-8 ({raw[err.start : err.end]!r})",
            "re-save the file as UTF-8",
        ) from None
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataFormatError(path, number, "blank line", "remove it")
        if "\r" in line:
            raise DataFormatError(
                path, number, "stray carriage return", "use \\n or \\r\\n line endings"
            )
        for symbol, label in ((PAD, "pad"), (MASK, "mask")):
            if symbol in line:
                raise DataFormatError(
                    path, number, f"contains the reserved {label} symbol {symbol!r}", "remove it"
                )
    return lines


def read_corpus(path: str | Path) -> list[str]:
    """One biography per line."""
    lines = _read_lines(path)
    if not lines:
        raise DataFormatError(path, None, "corpus is empty", "it needs at least one biography line")
    return lines


def read_questions(path: str | Path, *, with_answers: bool = True) -> list[Question]:
    """`question<TAB>place` lines (or bare questions when `with_answers` is False)."""
    expected = 2 if with_answers else 1
    questions = []
    for number, line in enumerate(_read_lines(path), start=1):
        fields = line.split("\t")
        if len(fields) != expected:
            layout = "QUESTION<TAB>PLACE" if with_answers else "QUESTION (no tab)"
            raise DataFormatError(
                path,
                number,
                f"{len(fields)} tab-separated field(s), expected {expected}",
                f"write {layout}",
            )
        question = fields[0].strip()
        match = QUESTION.match(question)
        if not match or not match.group("name").strip():
            raise DataFormatError(
                path,
                number,
                f"question {question!r} is not of the form 'Where was NAME born?'",
                "fix the question",
            )
        place = fields[1].strip() if with_answers else None
        if with_answers and not place:
            raise DataFormatError(path, number, "empty place", "give the birthplace after the tab")
        questions.append(Question(question, place))
    if not questions:
        raise DataFormatError(path, None, "no questions", "the file needs at least one line")
    return questions
