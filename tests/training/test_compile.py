"""torch.compile (the `compile` switch) trains the same function as eager mode."""

from __future__ import annotations

import pytest
import torch

from knowledge_probe.data import BatchedCorruptionDataset, Vocabulary
from knowledge_probe.models import GPT, GPTConfig
from knowledge_probe.training import LanguageModelModule, OptimConfig

pytestmark = pytest.mark.slow


def test_compiled_forward_gives_the_eager_loss():
    docs = ["Ann Lee. Ann Lee was born in Oslo and worked in Rome."] * 8
    vocab = Vocabulary.from_corpus(docs)
    torch.manual_seed(0)
    model = GPT(
        GPTConfig(vocab_size=len(vocab), n_layer=1, n_head=2, n_embd=32, block_size=64)
    ).eval()
    x, y = BatchedCorruptionDataset(docs, vocab, 64)[list(range(8))]
    module = LanguageModelModule(model, OptimConfig(), compile_model=True)
    compiled_loss = module._train_forward(x, y)[1]
    torch.testing.assert_close(compiled_loss, model(x, y)[1], atol=1e-5, rtol=1e-5)
