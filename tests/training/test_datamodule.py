"""Pretraining batches: corrupted biographies, plus the training questions when mixing is on."""

from __future__ import annotations

import pytest
import torch

from knowledge_probe.data import Question, Vocabulary
from knowledge_probe.data.names import NameDataset
from knowledge_probe.data.vocab import MASK_ID, PAD_ID
from knowledge_probe.training import PretrainDataModule

BLOCK = 48


def all_rows(datamodule: PretrainDataModule) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*datamodule.train_dataloader(), strict=True)
    return torch.cat(xs), torch.cat(ys)


@pytest.mark.parametrize("batched", [True, False])
def test_mixed_questions_appear_once_per_epoch_in_finetuning_form(
    tiny_corpus: list[str], tiny_vocab: Vocabulary, tiny_questions: list[Question], batched: bool
) -> None:
    torch.manual_seed(0)
    datamodule = PretrainDataModule(
        tiny_corpus, tiny_vocab, BLOCK, 5, batched=batched, shuffle=True, questions=tiny_questions
    )
    assert len(datamodule) == len(tiny_corpus) + len(tiny_questions)
    x, y = all_rows(datamodule)
    assert x.shape == (len(datamodule), BLOCK) and y.shape == x.shape
    expected = NameDataset(tiny_questions, tiny_vocab, BLOCK)
    rows = {tuple(row.tolist()) for row in x}
    for qx, qy in expected.examples:
        assert tuple(qx.tolist()) in rows
        match = [i for i in range(len(x)) if torch.equal(x[i], qx)]
        assert torch.equal(y[match[0]], qy)  # the question itself carries no loss
    # everything else is a corrupted biography: exactly two masks each
    corrupted = [
        row
        for row in x
        if tuple(row.tolist()) not in {tuple(e[0].tolist()) for e in expected.examples}
    ]
    assert len(corrupted) == len(tiny_corpus)
    assert all(int((row == MASK_ID).sum()) in (1, 2) for row in corrupted)


def test_without_questions_only_biographies(tiny_corpus: list[str], tiny_vocab: Vocabulary) -> None:
    datamodule = PretrainDataModule(tiny_corpus, tiny_vocab, BLOCK, 4)
    x, y = all_rows(datamodule)
    assert len(x) == len(tiny_corpus)
    assert (y != PAD_ID).any(dim=1).all()
