"""The prepared data set as the stages read it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from knowledge_probe.data import Question, Vocabulary, read_corpus, read_questions
from knowledge_probe.data.errors import DataFormatError


@dataclass
class Prepared:
    vocab: Vocabulary
    corpus: list[str]
    train: list[Question]
    dev: list[Question]
    test: list[Question]


def read_prepared(cfg: DictConfig) -> Prepared:
    """The prepared data set, through the checked readers: damage names the file and the fix."""
    root = Path(cfg.paths.prepared)
    fix = "rerun `dvc repro prepare`"
    if not (root / "vocab.json").is_file():
        raise DataFormatError(root / "vocab.json", None, "not found", fix)
    try:
        return Prepared(
            vocab=Vocabulary.load(root / "vocab.json"),
            corpus=read_corpus(root / "corpus.txt"),
            train=read_questions(root / "train.tsv"),
            dev=read_questions(root / "dev.tsv"),
            test=read_questions(root / "test.tsv", with_answers=False),
        )
    except DataFormatError as err:
        raise DataFormatError(err.path, err.line, err.problem, fix) from None
