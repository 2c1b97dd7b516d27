"""Trimming trailing all-pad positions leaves the loss unchanged (unpacked training with fused
attention)."""

from __future__ import annotations

import pytest
import torch

from knowledge_probe.data import NameDataset, Question, Vocabulary
from knowledge_probe.models import GPT
from knowledge_probe.training.module import trim_trailing_padding


# not right-aligned latents: their loss depends on the row width, so training never trims them
@pytest.mark.parametrize("variant", ["vanilla", "perceiver", "chunked"])
def test_trimmed_batch_gives_the_same_loss(make_config, variant):
    questions = [
        Question(f"Where was {n} born?", p)
        for n, p in [("Ann Lee", "Oslo"), ("Bo Ek", "Rome"), ("Cy", "Paris")]
    ]
    vocab = Vocabulary.from_corpus(["".join(q.question + q.place for q in questions)])
    data = NameDataset(questions, vocab, block_size=64)
    x = torch.stack([data[i][0] for i in range(3)])
    y = torch.stack([data[i][1] for i in range(3)])
    torch.manual_seed(0)
    config = make_config(
        vocab_size=len(vocab), block_size=64, n_embd=32, variant=variant, chunk_size=8
    )
    model = GPT(config).eval()
    tx, ty = trim_trailing_padding(x, y)
    assert tx.size(1) < x.size(1) and tx.size(1) == max(
        len(q.question) + len(q.place) + 1 for q in questions
    )
    torch.testing.assert_close(model(tx, ty)[1], model(x, y)[1])
