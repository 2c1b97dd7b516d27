"""Name QA examples: `question MASK place MASK PADS`, learning only the answer."""

from __future__ import annotations

import pytest
import torch

from knowledge_probe.data.names import NameDataset, prompt_ids
from knowledge_probe.data.readers import Question
from knowledge_probe.data.vocab import MASK, MASK_ID, PAD, PAD_ID, Vocabulary

BLOCK = 64


def test_example_layout(tiny_vocab: Vocabulary, tiny_questions: list[Question]) -> None:
    dataset = NameDataset(tiny_questions, tiny_vocab, BLOCK)
    assert len(dataset) == len(tiny_questions)
    for (x, y), q in zip(dataset, tiny_questions, strict=True):
        assert x.dtype == torch.long and y.dtype == torch.long
        assert x.shape == (BLOCK,) and y.shape == (BLOCK,)
        content = q.question + MASK + q.place + MASK
        assert tiny_vocab.decode(x) == content + PAD * (BLOCK - len(content))
        n = len(q.question)
        assert torch.all(y[: n - 1] == PAD_ID)
        assert torch.equal(y[n - 1 : BLOCK - 1], x[n:BLOCK])
        answer = tiny_vocab.decode(y[n - 1 : n + len(q.place) + 1])
        assert answer == MASK + q.place + MASK
        assert torch.all(y[n + len(q.place) + 1 :] == PAD_ID)


def test_only_the_answer_and_closing_mask_are_targets(tiny_vocab: Vocabulary) -> None:
    q = Question("Where was Ada Lovelace born?", "London")
    _, y = NameDataset([q], tiny_vocab, BLOCK)[0]
    targets = [tiny_vocab.itos[int(i)] for i in y if i != PAD_ID]
    assert "".join(targets) == MASK + "London" + MASK


def test_a_question_that_exactly_fills_the_context_fits(tiny_vocab: Vocabulary) -> None:
    q = Question("Where was Ada Lovelace born?", "London")
    block = len(q.question) + len(q.place) + 1  # question MASK place MASK == block + 1 symbols
    x, y = NameDataset([q], tiny_vocab, block)[0]
    assert PAD_ID not in x.tolist() and PAD_ID not in y[len(q.question) - 1 :].tolist()
    assert y[-1].item() == MASK_ID
    with pytest.raises(ValueError, match="block_size"):
        NameDataset([q], tiny_vocab, block - 1)


def test_too_long_question_is_refused(tiny_vocab: Vocabulary) -> None:
    q = Question("Where was " + "Ada Lovelace " * 5 + "born?", "London")
    with pytest.raises(ValueError, match="block_size") as info:
        NameDataset([q], tiny_vocab, 32)
    assert "32" in str(info.value)


def test_questions_without_place_are_refused(tiny_vocab: Vocabulary) -> None:
    with pytest.raises(ValueError, match="gold"):
        NameDataset([Question("Where was Ada Lovelace born?")], tiny_vocab, BLOCK)


def test_prompt_ids_end_with_mask(tiny_vocab: Vocabulary) -> None:
    ids = prompt_ids("Where was Ada Lovelace born?", tiny_vocab)
    assert ids[-1] == MASK_ID
    assert tiny_vocab.decode(ids[:-1]) == "Where was Ada Lovelace born?"
