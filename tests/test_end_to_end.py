"""Pretrain, finetune and evaluate a tiny model on a tiny corpus, and check runs are reproducible."""

from __future__ import annotations

import math
import random

import pytest
import pytorch_lightning as pl
import torch

from knowledge_probe.data.corruption import CharCorruptionDataset
from knowledge_probe.data.readers import Question, question_for
from knowledge_probe.data.vocab import Vocabulary
from knowledge_probe.evaluation.metric import ExactMatch
from knowledge_probe.evaluation.predict import predict
from knowledge_probe.models.gpt import GPT, GPTConfig
from knowledge_probe.training import FinetuneDataModule, OptimConfig, PretrainDataModule, fit

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*LeafSpec.*is deprecated")]

FIRST = ["Anna", "Boris", "Clara", "David", "Elena", "Felix", "Greta", "Hugo"]
LAST = ["Berg", "Costa", "Dahl", "Engel", "Fox"]
CITIES = ["Oslo", "Lima", "Paris", "Cairo", "Kyoto"]
BLOCK = 64
QUIET = {"enable_progress_bar": False}


def make_data() -> tuple[list[str], list[Question], list[Question]]:
    rng = random.Random(0)
    people = [(f"{f} {s}", rng.choice(CITIES)) for f in FIRST for s in LAST]
    assert len(people) == 40
    corpus = [f"{name}. Where was {name} born? {name} was born in {city}." for name, city in people]
    questions = [Question(question_for(name), city) for name, city in people]
    return corpus, questions[:30], questions[30:]


def tiny_model(vocab: Vocabulary, variant: str = "vanilla") -> GPT:
    return GPT(
        GPTConfig(
            vocab_size=len(vocab),
            block_size=BLOCK,
            n_layer=2,
            n_head=2,
            n_embd=32,
            variant=variant,
            bottleneck_dim=16,
        )
    )


def pretrain_loss(model: GPT, corpus: list[str], vocab: Vocabulary) -> float:
    """Loss on a fixed set of corrupted examples, in eval mode."""
    dataset = CharCorruptionDataset(corpus, vocab, BLOCK, rng=random.Random(123))
    x, y = (torch.stack(t) for t in zip(*[dataset[i] for i in range(len(dataset))], strict=True))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        _, loss = model(x, y)
    model.train(was_training)
    return loss.item()


@pytest.mark.parametrize("variant", ["vanilla", "perceiver"])
def test_pretrain_finetune_evaluate(variant: str) -> None:
    corpus, train, dev = make_data()
    vocab = Vocabulary.from_corpus(corpus)
    pl.seed_everything(0, verbose=False)
    model = tiny_model(vocab, variant)
    before = pretrain_loss(model, corpus, vocab)
    optim = OptimConfig(learning_rate=3e-3, warmup_tokens=BLOCK * 8, final_tokens=10**9)
    epochs, batch = 20, 8
    summary = fit(
        model,
        PretrainDataModule(corpus, vocab, BLOCK, batch),
        optim,
        max_epochs=epochs,
        trainer_options=QUIET,
    )
    assert summary.steps == epochs * math.ceil(len(corpus) / batch)
    assert summary.tokens == epochs * len(corpus) * BLOCK  # every target position counts
    assert math.isfinite(summary.final_loss)
    after = pretrain_loss(model, corpus, vocab)
    assert after < before - 0.5, (before, after)

    finetune = FinetuneDataModule(train, vocab, BLOCK, 10)
    assert len(finetune) == len(train)
    summary = fit(model, finetune, optim, max_epochs=40, trainer_options=QUIET)
    assert summary.steps == 40 * 3
    assert summary.final_loss < 1.5

    predictions = predict(model, vocab, dev, batch_size=4, progress=False)
    assert len(predictions) == len(dev)
    assert predictions == predict(model, vocab, dev, plain=True, progress=False)
    metric = ExactMatch()
    metric.update(predictions, [q.place for q in dev])
    result = metric.compute()
    assert result["total"].item() == len(dev)
    assert 0.0 <= result["accuracy"].item() <= 1.0
    assert result["correct"].item() == sum(
        p == q.place for p, q in zip(predictions, dev, strict=True)
    )
    # after finetuning, answers look like places, not arbitrary text
    assert sum(p in CITIES for p in predictions) >= 3, predictions


def train_once(seed: int, batched: bool) -> dict[str, torch.Tensor]:
    corpus, _, _ = make_data()
    vocab = Vocabulary.from_corpus(corpus)
    pl.seed_everything(seed, verbose=False)
    model = tiny_model(vocab)
    optim = OptimConfig(learning_rate=3e-3, warmup_tokens=BLOCK * 8, final_tokens=10**9)
    fit(
        model,
        PretrainDataModule(corpus, vocab, BLOCK, 8, batched=batched, shuffle=True),
        optim,
        max_epochs=2,
        trainer_options=QUIET,
    )
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("batched", [True, False])
def test_same_seed_gives_identical_weights(batched: bool) -> None:
    first, second = train_once(0, batched), train_once(0, batched)
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), name
    other = train_once(1, batched)
    assert any(not torch.equal(first[name], other[name]) for name in first)
