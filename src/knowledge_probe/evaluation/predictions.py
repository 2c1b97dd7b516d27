"""Predictions files: one record per line, `NAME<TAB>PREDICTION` in question order.

A model may generate any character of its vocabulary, line breaks and tabs included, so each
field is escaped: a backslash is written `\\\\`, a tab `\\t`, a line feed `\\n`, a carriage return
`\\r`, and any other character that ends a line for Python's `str.splitlines` (vertical tab,
form feed, U+001C..U+001E, U+0085, U+2028, U+2029) as `\\uXXXX`. Everything else, the pad and
mask symbols included, is written as it is. Reading undoes exactly this.
"""

from __future__ import annotations

import re
from pathlib import Path

from knowledge_probe.data.errors import DataFormatError
from knowledge_probe.data.readers import Question
from knowledge_probe.io import write_text

_NAMED = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_LINE_ENDS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_TO_ESCAPE = re.compile("[" + re.escape("".join(_NAMED) + _LINE_ENDS) + "]")
_ESCAPED = re.compile(r"\\(u[0-9a-f]{4}|.)")
_UNNAMED = {v[1]: k for k, v in _NAMED.items()}


def escape(text: str) -> str:
    return _TO_ESCAPE.sub(lambda m: _NAMED.get(m[0]) or f"\\u{ord(m[0]):04x}", text)


def unescape(text: str) -> str:
    def one(match: re.Match) -> str:
        code = match[1]
        if code.startswith("u") and len(code) == 5:
            return chr(int(code[1:], 16))
        if code not in _UNNAMED:
            raise ValueError(f"unknown escape \\{code}")
        return _UNNAMED[code]

    return _ESCAPED.sub(one, text)


def format_records(rows: list[tuple[str, ...]]) -> str:
    """Rows of fields as escaped, tab-separated lines."""
    return "".join("\t".join(escape(str(field)) for field in row) + "\n" for row in rows)


def write_predictions(path: str | Path, questions: list[Question], answers: list[str]) -> None:
    rows = [(q.name, a) for q, a in zip(questions, answers, strict=True)]
    write_text(path, format_records(rows))


def read_predictions(path: str | Path, questions: list[Question]) -> list[str]:
    """The answers of a predictions file, checked line by line against the questions' names."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines[-1] != "":
        raise DataFormatError(path, len(lines), "the file does not end with a line break")
    lines.pop()
    if len(lines) != len(questions):
        raise DataFormatError(path, None, f"{len(lines)} lines for {len(questions)} questions")
    answers = []
    for number, (line, q) in enumerate(zip(lines, questions, strict=True), start=1):
        fields = line.split("\t")
        try:
            name, answer = (unescape(f) for f in fields) if len(fields) == 2 else (None, None)
        except ValueError as err:
            raise DataFormatError(path, number, str(err)) from None
        if name != q.name:
            raise DataFormatError(path, number, f"expected {q.name!r}<TAB>prediction")
        answers.append(answer)
    return answers
