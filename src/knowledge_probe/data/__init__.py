"""Data: vocabulary, span corruption, name/place QA, readers, synthetic and real sources."""

from knowledge_probe.data.corruption import (
    BatchedCorruptionDataset,
    CharCorruptionDataset,
    max_truncation,
)
from knowledge_probe.data.errors import DataFormatError, UnknownCharacterError
from knowledge_probe.data.names import NameDataset, prompt_ids
from knowledge_probe.data.readers import (
    FILE_NAMES,
    Question,
    question_for,
    read_corpus,
    read_questions,
)
from knowledge_probe.data.vocab import MASK, MASK_ID, PAD, PAD_ID, Vocabulary

__all__ = [
    "FILE_NAMES",
    "MASK",
    "MASK_ID",
    "PAD",
    "PAD_ID",
    "BatchedCorruptionDataset",
    "CharCorruptionDataset",
    "DataFormatError",
    "NameDataset",
    "Question",
    "UnknownCharacterError",
    "Vocabulary",
    "max_truncation",
    "prompt_ids",
    "question_for",
    "read_corpus",
    "read_questions",
]
