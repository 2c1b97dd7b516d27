"""Packing a batch changes how it is laid out, never what the model computes for an example."""

from __future__ import annotations

import itertools
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge_probe.analysis.threads import torch_threads
from knowledge_probe.data import NameDataset, Question, Vocabulary
from knowledge_probe.data.corruption import BatchedCorruptionDataset
from knowledge_probe.data.vocab import PAD_ID
from knowledge_probe.models.gpt import GPT
from knowledge_probe.models.packing import NO_EXAMPLE, example_lengths, pack

BLOCK = 64
# every body and option that changes how attention is masked or positions are read
MODELS = [
    dict(variant=v, position=p, latent_alignment=a, fused_attention=f, chunk_size=8)
    for v, p, a, f in itertools.product(
        ["vanilla", "perceiver", "chunked"], ["learned", "rotary"], ["left", "right"], [True, False]
    )
    if not (v != "perceiver" and a == "right")
] + [
    dict(variant="chunked", chunk_size=4, chunk_window=2),  # a window shorter than a row
    dict(variant="chunked", chunk_size=32, chunk_window=2),  # rows masked densely
]


def corruption_batch() -> tuple[torch.Tensor, torch.Tensor, int]:
    rng = random.Random(0)
    docs = [
        "".join(rng.choice("abcdef ghij") for _ in range(rng.randint(3, 120))) for _ in range(24)
    ]
    vocab = Vocabulary.from_corpus(["".join(docs)])
    data = BatchedCorruptionDataset(docs, vocab, BLOCK)
    x, y = data.batch(torch.arange(len(docs)), torch.Generator().manual_seed(1))
    return x, y, len(vocab)


def question_batch() -> tuple[torch.Tensor, torch.Tensor, int]:
    people = [
        ("Ann Lee", "Oslo"),
        ("Bo", "Rome"),
        ("Cy Ray", "Paris"),
        ("Di", "Lima"),
        ("Ed", "Ur"),
    ]
    questions = [Question(f"Where was {n} born?", p) for n, p in people]
    vocab = Vocabulary.from_corpus(["".join(q.question + q.place for q in questions)])
    data = NameDataset(questions, vocab, BLOCK)
    x, y = data.batch(torch.arange(len(questions)))
    return x, y, len(vocab)


@pytest.mark.parametrize("batch", [corruption_batch, question_batch])
@pytest.mark.parametrize("options", MODELS, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_packed_loss_and_gradients_equal_the_padded_batch(make_config, sensitive, batch, options):
    x, y, vocab_size = batch()
    torch.manual_seed(0)
    model = sensitive(
        GPT(make_config(vocab_size=vocab_size, block_size=BLOCK, n_layer=3, **options)).double()
    )
    px, py, layout = pack(x, y, unit=model.packing_unit)
    assert px.size(0) < x.size(0)

    _, padded = model(x, y)
    expected = torch.autograd.grad(padded, list(model.parameters()), allow_unused=True)
    _, packed = model(px, py, layout)
    actual = torch.autograd.grad(packed, list(model.parameters()), allow_unused=True)

    torch.testing.assert_close(packed, padded, rtol=1e-6, atol=1e-6)
    for name, a, e in zip((n for n, _ in model.named_parameters()), actual, expected, strict=True):
        assert (a is None) == (e is None), name
        if a is not None:
            torch.testing.assert_close(a, e, rtol=1e-6, atol=1e-9, msg=name)


rows = st.lists(st.integers(0, 20), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(rows, st.sampled_from([1, 4]))
def test_packing_keeps_every_example_whole_and_in_order(lengths, unit):
    """Each example with a target appears once, contiguous, positions 0..n-1, its tokens intact,
    in whole units (filled up with pads of its own); no row exceeds the context."""
    width = 20
    x = torch.full((len(lengths), width), PAD_ID)
    y = torch.full((len(lengths), width), PAD_ID)
    for i, n in enumerate(lengths):
        x[i, :n] = torch.arange(n) + 100 * (i + 1)
        y[i, : max(n - 1, 0)] = 7  # the last input predicts nothing, as after span corruption
    px, py, layout = pack(x, y, unit=unit)

    assert px.size(1) <= width and px.size(1) % unit == 0
    found = []
    for r in range(px.size(0)):
        for segment in layout.segments[r].unique().tolist():
            if segment == NO_EXAMPLE:
                assert (px[r][layout.segments[r] == NO_EXAMPLE] == PAD_ID).all()
                continue
            where = (layout.segments[r] == segment).nonzero().flatten()
            assert (where.diff() == 1).all()  # contiguous
            tokens = px[r, where]
            example = int(tokens[0]) // 100 - 1
            n = lengths[example]
            assert len(where) == -(-n // unit) * unit
            assert tokens.tolist() == x[example, :n].tolist() + [PAD_ID] * (len(where) - n)
            assert py[r, where].tolist()[:n] == y[example, :n].tolist()
            assert (py[r, where[n:]] == PAD_ID).all()
            assert layout.positions[r, where].tolist() == list(range(len(where)))
            assert (layout.lengths[r, where] == n).all()
            found.append(example)
    with_target = [i for i, n in enumerate(lengths) if n > 1]
    assert sorted(found) == with_target
    assert (py != PAD_ID).sum() == (y != PAD_ID).sum()


def test_lengths_reach_the_last_target_or_input():
    x = torch.tensor([[5, 6, 7, PAD_ID], [5, 6, PAD_ID, PAD_ID]])
    y = torch.tensor([[PAD_ID, 7, PAD_ID, PAD_ID], [6, 9, PAD_ID, PAD_ID]])
    assert example_lengths(x, y).tolist() == [3, 2]


@pytest.mark.parametrize("options", MODELS, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_packed_gradients_repeat_bit_for_bit(make_config, options):
    """A resumed run ends with the weights of an uninterrupted one only if the same step gives
    the same gradients every time, with dropout on, in float32 as in training."""
    x, y, vocab_size = corruption_batch()
    x, y = x.repeat(8, 1), y.repeat(8, 1)  # enough repeated positions for threads to race
    torch.manual_seed(0)
    config = make_config(vocab_size=vocab_size, block_size=BLOCK, n_layer=2, **options)
    model = GPT(config).train()
    px, py, layout = pack(x, y, unit=model.packing_unit)

    def gradients() -> list[torch.Tensor]:
        torch.manual_seed(1)
        _, loss = model(px, py, layout)
        return torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)

    with torch_threads(2):  # training's threads, which sum repeated indices in any order
        first = gradients()
        for _ in range(3):
            for a, b in zip(gradients(), first, strict=True):
                assert (a is None and b is None) or torch.equal(a, b)


@pytest.mark.parametrize("options", MODELS, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_packing_adds_no_error_under_bf16_autocast(make_config, options):
    """Training runs under bf16 autocast: the packed batch's gradients must be as close to the
    exact (float64) gradients as the padded batch's are, not only equal in float64."""
    x, y, vocab_size = corruption_batch()
    torch.manual_seed(0)
    config = make_config(vocab_size=vocab_size, block_size=BLOCK, n_embd=64, n_head=4, **options)
    model = GPT(config).eval()
    px, py, layout = pack(x, y, unit=model.packing_unit)

    def gradients(dtype: torch.dtype, packed: bool) -> torch.Tensor:
        model.to(dtype)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.float32):
            _, loss = model(px, py, layout) if packed else model(x, y)
        grads = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)
        return torch.cat([g.flatten().double() for g in grads if g is not None])

    exact = gradients(torch.float64, packed=False)
    padded_error = (gradients(torch.float32, packed=False) - exact).norm() / exact.norm()
    packed_error = (gradients(torch.float32, packed=True) - exact).norm() / exact.norm()
    assert 0 < padded_error < 0.05
    assert packed_error < 1.25 * padded_error
