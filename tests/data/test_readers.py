"""The readers validate every line and name the file and line of anything wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge_probe.data.errors import DataFormatError
from knowledge_probe.data.readers import FILE_NAMES, Question, read_corpus, read_questions
from knowledge_probe.data.vocab import MASK, PAD

QUESTION_FORM = re.compile(r"^Where was .+ born\?$")
GOOD = "Where was Ada Lovelace born?\tLondon\nWhere was Alan Turing born?\tLondon\n"


def write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def assert_points_at(err: DataFormatError, path: Path, line: int) -> None:
    message = str(err)
    assert path.name in message
    assert f"{path}:{line}:" in message
    assert err.line == line
    assert err.path == str(path)


BAD_QUESTION_FILES = {
    "no tab": ("Where was Ada Lovelace born?\tLondon\nWhere was Alan Turing born? London\n", 2),
    "three fields": ("Where was Ada Lovelace born?\tLondon\tEngland\n", 1),
    "empty place": ("Where was Ada Lovelace born?\tLondon\nWhere was Alan Turing born?\t  \n", 2),
    "empty name": ("Where was Ada Lovelace born?\tLondon\nWhere was  born?\tParis\n", 2),
    "blank line in the middle": (
        "Where was Ada Lovelace born?\tLondon\n\nWhere was Alan Turing born?\tLondon\n",
        2,
    ),
    "whitespace line in the middle": (
        "Where was Ada Lovelace born?\tLondon\n \t \nWhere was Alan Turing born?\tLondon\n",
        2,
    ),
    "not a question": ("Where was Ada Lovelace born?\tLondon\nWho was Alan Turing?\tLondon\n", 2),
    "missing question mark": ("Where was Ada Lovelace born\tLondon\n", 1),
    "pad symbol": (f"Where was Ada Lovelace born?\tLondon\nWhere was Alan{PAD} born?\tLondon\n", 2),
    "mask symbol": (f"Where was Ada Lovelace born?\tLon{MASK}don\n", 1),
    "stray carriage return": (
        "Where was Ada Lovelace born?\tLondon\nWhere was Al\ran born?\tX\n",
        2,
    ),
}


@pytest.mark.parametrize("case", list(BAD_QUESTION_FILES))
def test_bad_question_files_name_file_and_line(tmp_path: Path, case: str) -> None:
    content, line = BAD_QUESTION_FILES[case]
    path = write(tmp_path, "bad_questions.tsv", content)
    with pytest.raises(DataFormatError) as info:
        read_questions(path)
    assert_points_at(info.value, path, line)
    assert isinstance(info.value, ValueError)


def test_non_utf8_bytes_name_the_line(tmp_path: Path) -> None:
    content = GOOD.encode("utf-8") + "Where was Jos\xe9 born?\tParis\n".encode("latin-1")
    path = write(tmp_path, "latin1.tsv", content)
    with pytest.raises(DataFormatError, match="UTF-8") as info:
        read_questions(path)
    assert_points_at(info.value, path, 3)


def test_test_inputs_with_a_tab_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "inputs.tsv",
        "Where was Ada Lovelace born?\nWhere was Alan Turing born?\tLondon\n",
    )
    with pytest.raises(DataFormatError) as info:
        read_questions(path, with_answers=False)
    assert_points_at(info.value, path, 2)


def test_test_inputs_have_no_place(tmp_path: Path) -> None:
    path = write(
        tmp_path, "inputs.tsv", "Where was Ada Lovelace born?\nWhere was Alan Turing born?\n"
    )
    questions = read_questions(path, with_answers=False)
    assert questions == [
        Question("Where was Ada Lovelace born?"),
        Question("Where was Alan Turing born?"),
    ]
    assert [q.name for q in questions] == ["Ada Lovelace", "Alan Turing"]
    assert all(q.place is None for q in questions)


@pytest.mark.parametrize(
    "content, line",
    [
        ("Ada Lovelace was born in London.\n\nAlan Turing was born in London.\n", 2),
        (f"Ada Lovelace was born in London.\nAlan {PAD} Turing.\n", 2),
        (f"Ada Lovelace was born in London.\nAlan Turing.\nA{MASK}\n", 3),
        (b"Ada Lovelace.\n\xff\xfe broken\n", 2),
    ],
)
def test_bad_corpus_lines(tmp_path: Path, content: str | bytes, line: int) -> None:
    path = write(tmp_path, "wiki_bad.txt", content)
    with pytest.raises(DataFormatError) as info:
        read_corpus(path)
    assert_points_at(info.value, path, line)


@pytest.mark.parametrize("content", ["", "\n\n", "  \n"])
def test_empty_files_are_refused(tmp_path: Path, content: str) -> None:
    corpus = write(tmp_path, "empty_wiki.txt", content)
    with pytest.raises(DataFormatError, match="empty") as info:
        read_corpus(corpus)
    assert corpus.name in str(info.value)
    questions = write(tmp_path, "empty_questions.tsv", content)
    with pytest.raises(DataFormatError, match="no questions") as info:
        read_questions(questions)
    assert questions.name in str(info.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "birth_dev.tsv"
    for reader in (read_corpus, read_questions):
        with pytest.raises(DataFormatError, match="not found") as info:
            reader(missing)
        assert str(missing) in str(info.value)


def test_trailing_blank_lines_crlf_and_bom_are_accepted(tmp_path: Path) -> None:
    content = "\ufeff" + GOOD.replace("\n", "\r\n") + "\r\n\r\n"
    path = write(tmp_path, "windows.tsv", content)
    questions = read_questions(path)
    assert questions == [
        Question("Where was Ada Lovelace born?", "London"),
        Question("Where was Alan Turing born?", "London"),
    ]
    assert not questions[0].question.startswith("\ufeff")
    corpus = write(tmp_path, "windows_wiki.txt", "\ufeffAda.\r\nAlan.\r\n\n\n")
    assert read_corpus(corpus) == ["Ada.", "Alan."]


def test_fields_are_stripped(tmp_path: Path) -> None:
    path = write(tmp_path, "spaces.tsv", "Where was Ada Lovelace born? \t London \n")
    assert read_questions(path) == [Question("Where was Ada Lovelace born?", "London")]


def test_real_files_load(real_data_dir: Path) -> None:
    corpus = read_corpus(real_data_dir / FILE_NAMES["corpus"])
    train = read_questions(real_data_dir / FILE_NAMES["train"])
    dev = read_questions(real_data_dir / FILE_NAMES["dev"])
    test = read_questions(real_data_dir / FILE_NAMES["test"], with_answers=False)
    assert len(corpus) == 2937
    assert (len(train), len(dev), len(test)) == (2000, 500, 437)
    assert all(q.place for q in train + dev)
    assert all(q.place is None for q in test)
    assert dev[0] == Question("Where was Bryan Dubreuiel born?", "Atlanta")


# Property-based: whatever bytes a file holds, a reader returns valid records or says what is wrong.
_any_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=300)
_questionish = st.lists(
    st.tuples(
        st.sampled_from(["Where was ", "Where was", "Who was ", ""]),
        st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=20),
        st.sampled_from([" born?", " born", "?"]),
        st.sampled_from(["\t", "", "\t\t", " "]),
        st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12),
        st.sampled_from(["\n", "\r\n", "\n\n"]),
    ).map("".join),
    max_size=6,
).map("".join)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.one_of(_any_text, _questionish), with_answers=st.booleans())
def test_question_reader_on_arbitrary_text(
    tmp_path: Path, content: str, with_answers: bool
) -> None:
    path = write(tmp_path, "arbitrary.tsv", content)
    try:
        questions = read_questions(path, with_answers=with_answers)
    except DataFormatError as err:
        assert path.name in str(err) and err.problem and err.fix
        return
    assert questions
    for q in questions:
        assert QUESTION_FORM.match(q.question) and q.name.strip()
        assert PAD not in q.question and MASK not in q.question and "\t" not in q.question
        assert (q.place is not None and q.place.strip() == q.place != "") == with_answers


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.one_of(_any_text, st.binary(max_size=200)))
def test_corpus_reader_on_arbitrary_content(tmp_path: Path, content: str | bytes) -> None:
    path = write(tmp_path, "arbitrary_wiki.txt", content)
    try:
        lines = read_corpus(path)
    except DataFormatError as err:
        assert path.name in str(err) and err.problem and err.fix
        return
    assert lines and all(line.strip() for line in lines)
    assert not any(PAD in line or MASK in line or "\r" in line or "\n" in line for line in lines)


def test_single_document_corpus_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "one_wiki.txt", "Ada Lovelace. Ada Lovelace was born in London.\n")
    assert read_corpus(path) == ["Ada Lovelace. Ada Lovelace was born in London."]
