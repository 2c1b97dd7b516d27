"""Batched, cached greedy decoding gives exactly the answers of the plain one-question decoder."""

from __future__ import annotations

import copy
import random

import pytest
import torch

from knowledge_probe.data.names import NameDataset, prompt_ids
from knowledge_probe.data.readers import Question, question_for
from knowledge_probe.data.vocab import MASK, MASK_ID, Vocabulary
from knowledge_probe.evaluation.decode import decode_batch, decode_plain
from knowledge_probe.evaluation.predict import predict
from knowledge_probe.models.gpt import GPT, GPTConfig

BLOCK = 48
BOTTLENECK = 24
CHUNK = 4
# "perceiver-right": the perceiver with right-aligned latents; "chunked": chunks of CHUNK
# positions, each position reading the ends of the 3 chunks before its own
VARIANTS = ["vanilla", "perceiver", "perceiver-right", "chunked"]


def config(vocab: Vocabulary, variant: str, dropout: float = 0.0) -> GPTConfig:
    body, _, alignment = variant.partition("-")
    return GPTConfig(
        vocab_size=len(vocab),
        block_size=BLOCK,
        n_layer=2,
        n_head=2,
        n_embd=32,
        variant=body,
        latent_alignment=alignment or "left",
        bottleneck_dim=BOTTLENECK,
        chunk_size=CHUNK,
        chunk_window=3,
        embd_pdrop=dropout,
        resid_pdrop=dropout,
        attn_pdrop=dropout,
    )


@pytest.fixture(scope="module")
def qa_questions(tiny_questions: list[Question]) -> list[Question]:
    """Full names (prompts longer than the bottleneck) and single names (shorter ones)."""
    questions = list(tiny_questions)
    for q in tiny_questions:
        first, last = q.name.split(" ")
        questions.append(Question(question_for(first), q.place))
        questions.append(Question(question_for(last), q.place))
    return questions


@pytest.fixture(scope="module")
def random_models(tiny_vocab: Vocabulary, sensitive) -> dict[str, GPT]:
    """Untrained models: at the standard initialisation and with large weights, whose greedy
    answers depend on every input the architecture lets them see."""
    models = {}
    for i, variant in enumerate(VARIANTS):
        torch.manual_seed(i)
        models[variant] = GPT(config(tiny_vocab, variant, dropout=0.1)).eval()
        models[f"{variant}-large"] = sensitive(GPT(config(tiny_vocab, variant, dropout=0.1)))
    return models


@pytest.fixture(scope="module")
def trained_models(tiny_vocab: Vocabulary, qa_questions: list[Question]) -> dict[str, GPT]:
    """Overfit on the QA examples so that answers end with the mask, as a finetuned model's do."""
    x, y = (torch.stack(t) for t in zip(*NameDataset(qa_questions, tiny_vocab, BLOCK), strict=True))
    models = {}
    for i, variant in enumerate(VARIANTS):
        torch.manual_seed(10 + i)
        model = GPT(config(tiny_vocab, variant))
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
        for _ in range(250):
            _, loss = model(x, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        assert loss.item() < 0.5, (
            f"{variant} did not learn the QA examples (loss {loss.item():.3f})"
        )
        models[variant] = model.eval()
    return models


def make_prompts(
    vocab: Vocabulary, questions: list[Question], n_random: int = 10
) -> list[list[int]]:
    """Question prompts plus random ones from 1 symbol up to nearly the whole context, shuffled."""
    rng = random.Random(0)
    prompts = [prompt_ids(q.question, vocab) for q in questions[::2]]
    lengths = [1, 2, 5, BOTTLENECK - 1, BOTTLENECK, BOTTLENECK + 1, 30, 40, BLOCK - 2, BLOCK]
    for n in lengths[:n_random]:
        prompts.append([rng.randrange(2, len(vocab)) for _ in range(n)])
    rng.shuffle(prompts)
    return prompts


def check_same_answers(model: GPT, prompts: list[list[int]], max_new: int) -> list[list[int]]:
    batched = decode_batch(model, prompts, max_new=max_new)
    plain = [decode_plain(model, p, max_new=max_new) for p in prompts]
    assert len(batched) == len(prompts)
    for prompt, b, p in zip(prompts, batched, plain, strict=True):
        assert b == p, f"prompt of length {len(prompt)}"
        assert MASK_ID not in b
        assert len(b) <= min(max_new, BLOCK + 1 - len(prompt))
    return batched


@pytest.mark.parametrize("variant", [*VARIANTS, *(f"{v}-large" for v in VARIANTS)])
@pytest.mark.parametrize("max_new", [1, 7, 32])
def test_batched_equals_plain_on_random_model(
    random_models, tiny_vocab, qa_questions, variant: str, max_new: int
) -> None:
    prompts = make_prompts(tiny_vocab, qa_questions)
    assert len(prompts) >= 20
    assert min(map(len, prompts)) < BOTTLENECK < max(map(len, prompts))
    check_same_answers(random_models[variant], prompts, max_new)


@pytest.mark.parametrize("variant", VARIANTS)
def test_batched_equals_plain_on_trained_model(
    trained_models, tiny_vocab, qa_questions, variant: str
) -> None:
    model = trained_models[variant]
    prompts = make_prompts(tiny_vocab, qa_questions)
    # the model must actually stop: most raw continuations of questions contain the mask
    questions = [prompt_ids(q.question, tiny_vocab) for q in qa_questions]
    raw = [decode_plain(model, p, max_new=16, stop_id=-1) for p in questions]
    stopped = sum(MASK_ID in r for r in raw)
    assert stopped >= 0.75 * len(raw), f"only {stopped}/{len(raw)} continuations contain the mask"
    answers = check_same_answers(model, prompts, max_new=16)
    assert any(0 < len(a) < 16 for a in answers)
    check_same_answers(model, questions, max_new=32)


# Not "perceiver-right": in training a position sees only the latents from its example's last
# bottleneck_dim positions up to itself, in decoding the full window ending at it (Perceiver AR's
# gap between training and generation), which this tiny overfit set does not bridge.
@pytest.mark.parametrize("variant", ["vanilla", "perceiver"])
def test_trained_model_answers_its_training_questions(
    trained_models, tiny_vocab, qa_questions, variant
) -> None:
    predictions = predict(trained_models[variant], tiny_vocab, qa_questions, progress=False)
    correct = sum(p == q.place for p, q in zip(predictions, qa_questions, strict=True))
    assert correct >= 0.75 * len(qa_questions)


@pytest.mark.parametrize("variant", VARIANTS)
def test_batched_equals_plain_one_prompt_at_a_time(
    trained_models, tiny_vocab, qa_questions, variant
) -> None:
    model = trained_models[variant]
    for q in qa_questions[:6]:
        ids = prompt_ids(q.question, tiny_vocab)
        assert decode_batch(model, [ids]) == [decode_plain(model, ids)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_predict_keeps_input_order(trained_models, tiny_vocab, qa_questions, variant: str) -> None:
    model = trained_models[variant]
    rng = random.Random(3)
    questions = list(qa_questions)
    rng.shuffle(questions)
    fast = predict(model, tiny_vocab, questions, batch_size=5, progress=False)
    plain = predict(model, tiny_vocab, questions, plain=True, progress=False)
    assert fast == plain
    expected = [
        tiny_vocab.decode(decode_plain(model, prompt_ids(q.question, tiny_vocab)))
        for q in questions
    ]
    assert fast == expected
    assert all(isinstance(p, str) and MASK not in p for p in fast)
    assert len({len(q.question) for q in questions}) > 3


def test_predict_restores_training_mode(random_models, tiny_vocab, qa_questions) -> None:
    model = random_models["vanilla"]
    model.train()
    try:
        eval_answers = predict(model, tiny_vocab, qa_questions[:4], progress=False)
        assert model.training
        model.eval()
        assert predict(model, tiny_vocab, qa_questions[:4], progress=False) == eval_answers
        assert not model.training
    finally:
        model.eval()


@pytest.mark.parametrize("variant", VARIANTS)
def test_prompt_longer_than_context_raises_value_error(
    random_models, tiny_vocab, variant: str
) -> None:
    model = random_models[variant]
    too_long = Question("Where was " + "Ada " * 10 + "born?")
    assert len(too_long.question) + 1 > BLOCK
    with pytest.raises(ValueError, match=str(BLOCK)):
        predict(model, tiny_vocab, [too_long], progress=False)
    with pytest.raises(ValueError):
        predict(model, tiny_vocab, [too_long], plain=True, progress=False)
    filling = Question("Where was " + "A" * (BLOCK - 17) + " born?")
    assert len(prompt_ids(filling.question, tiny_vocab)) == BLOCK
    with pytest.raises(ValueError):
        predict(model, tiny_vocab, [filling], progress=False)
    fits = Question("Where was " + "A" * (BLOCK - 18) + " born?")
    assert predict(model, tiny_vocab, [fits], progress=False) == predict(
        model, tiny_vocab, [fits], plain=True, progress=False
    )


# Not the right-aligned perceiver: it does not learn this tiny set (its answers are near-ties
# such as "Lonnn"), and bf16 legitimately breaks near-ties differently from fp32.
@pytest.mark.parametrize("variant", ["vanilla", "perceiver"])
def test_autocast_gives_the_same_answers_on_trained_model(
    trained_models, tiny_vocab, qa_questions, variant
) -> None:
    model = trained_models[variant]
    reduced = predict(model, tiny_vocab, qa_questions, autocast=True, progress=False)
    assert reduced == predict(model, tiny_vocab, qa_questions, plain=True, progress=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("variant", VARIANTS)
def test_batched_equals_plain_on_cuda(
    trained_models, tiny_vocab, qa_questions, variant: str
) -> None:
    model = copy.deepcopy(trained_models[variant]).cuda()
    prompts = make_prompts(tiny_vocab, qa_questions)
    check_same_answers(model, prompts, max_new=16)
    plain = predict(model, tiny_vocab, qa_questions, plain=True, progress=False)
    assert predict(model, tiny_vocab, qa_questions, progress=False) == plain
    assert predict(model, tiny_vocab, qa_questions, autocast=True, progress=False) == plain


def test_length_buckets_respect_spread_and_size_and_cover_every_prompt():
    from knowledge_probe.evaluation.predict import length_buckets

    lengths = [30, 12, 45, 13, 31, 12, 50, 29, 14, 44]
    buckets = length_buckets(lengths, batch_size=3, max_spread=4)
    assert sorted(i for b in buckets for i in b) == list(range(len(lengths)))
    for bucket in buckets:
        spread = max(lengths[i] for i in bucket) - min(lengths[i] for i in bucket)
        assert len(bucket) <= 3 and spread <= 4
