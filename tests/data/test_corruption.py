"""Span corruption: both the plain and the batched dataset follow the documented distribution."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from knowledge_probe.data.corruption import (
    BatchedCorruptionDataset,
    CharCorruptionDataset,
    corrupt,
    corrupt_batch,
    max_truncation,
)
from knowledge_probe.data.vocab import MASK, MASK_ID, PAD, PAD_ID, Vocabulary

BLOCK = 128
DRAWS = 10_000
LETTERS = string.ascii_letters + " .,"


@dataclass(frozen=True)
class Sample:
    prefix: str
    suffix: str
    span: str

    @property
    def trunc_len(self) -> int:
        return len(self.prefix) + len(self.suffix) + len(self.span)

    @property
    def original(self) -> str:
        return self.prefix + self.span + self.suffix


def parse(vocab: Vocabulary, x: torch.Tensor, y: torch.Tensor, block_size: int) -> Sample:
    """Check the layout of one example and split it into prefix, suffix and span."""
    assert x.dtype == torch.long and y.dtype == torch.long
    assert x.shape == (block_size,) and y.shape == (block_size,)
    assert torch.equal(x[1:], y[:-1])
    text = vocab.decode(torch.cat([x, y[-1:]]).tolist())
    assert len(text) == block_size + 1
    parts = text.split(MASK)
    assert len(parts) == 3, text
    prefix, suffix, rest = parts
    span = rest.rstrip(PAD)
    assert PAD not in prefix + suffix + span, text
    assert rest == span + PAD * (len(rest) - len(span))
    return Sample(prefix, suffix, span)


def long_document(length: int = 300, seed: int = 0) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(LETTERS) for _ in range(length))


@pytest.fixture(scope="module")
def letters_vocab() -> Vocabulary:
    return Vocabulary(LETTERS)


@pytest.fixture(scope="module")
def document() -> str:
    return long_document()


@pytest.fixture(scope="module")
def plain_samples(letters_vocab: Vocabulary, document: str) -> list[Sample]:
    dataset = CharCorruptionDataset([document], letters_vocab, BLOCK, rng=random.Random(1))
    assert len(dataset) == 1
    return [parse(letters_vocab, *dataset[0], BLOCK) for _ in range(DRAWS)]


@pytest.fixture(scope="module")
def batched_samples(letters_vocab: Vocabulary, document: str) -> list[Sample]:
    torch.manual_seed(2)
    dataset = BatchedCorruptionDataset([document, "unused"], letters_vocab, BLOCK)
    assert len(dataset) == 2
    x, y = dataset[[0] * DRAWS]
    assert x.shape == (DRAWS, BLOCK) and y.shape == (DRAWS, BLOCK)
    return [parse(letters_vocab, x[i], y[i], BLOCK) for i in range(DRAWS)]


@pytest.fixture(params=["plain", "batched"])
def samples(request: pytest.FixtureRequest) -> list[Sample]:
    return request.getfixturevalue(f"{request.param}_samples")


def test_max_truncation() -> None:
    assert max_truncation(128) == 112
    assert max_truncation(8) == 7
    assert max_truncation(33) == 28


def test_every_truncation_length_occurs(samples: list[Sample]) -> None:
    lengths = {s.trunc_len for s in samples}
    assert lengths == set(range(4, max_truncation(BLOCK) + 1))


def test_reconstructs_the_truncated_document(samples: list[Sample], document: str) -> None:
    for s in samples:
        assert s.original == document[: s.trunc_len]


def test_span_is_nonempty_and_mean_is_a_quarter(samples: list[Sample]) -> None:
    assert all(1 <= len(s.span) <= s.trunc_len // 2 for s in samples)
    mean_span = sum(len(s.span) for s in samples) / len(samples)
    mean_trunc = sum(s.trunc_len for s in samples) / len(samples)
    assert 0.22 <= mean_span / mean_trunc <= 0.30
    # the rule holds per length too, not just on average: long truncations have long spans
    long = [s for s in samples if s.trunc_len >= 100]
    assert 0.22 <= sum(len(s.span) / s.trunc_len for s in long) / len(long) <= 0.30


def test_span_start_is_spread_over_the_document(samples: list[Sample]) -> None:
    starts_at_zero = sum(s.prefix == "" for s in samples) / len(samples)
    ends_at_end = sum(s.suffix == "" for s in samples) / len(samples)
    assert starts_at_zero < 0.2 and ends_at_end < 0.2
    assert starts_at_zero > 0 and ends_at_end > 0


def test_both_paths_draw_from_the_same_distribution(
    plain_samples: list[Sample], batched_samples: list[Sample]
) -> None:
    def ratio(samples: list[Sample]) -> float:
        return sum(len(s.span) / s.trunc_len for s in samples) / len(samples)

    def mean_trunc(samples: list[Sample]) -> float:
        return sum(s.trunc_len for s in samples) / len(samples)

    def mean_prefix(samples: list[Sample]) -> float:
        return sum(len(s.prefix) / s.trunc_len for s in samples) / len(samples)

    assert abs(ratio(plain_samples) - ratio(batched_samples)) < 0.01
    assert abs(mean_trunc(plain_samples) - mean_trunc(batched_samples)) < 1.5
    assert abs(mean_prefix(plain_samples) - mean_prefix(batched_samples)) < 0.02


def test_short_documents_are_used_whole(letters_vocab: Vocabulary) -> None:
    doc = "abc"
    plain = CharCorruptionDataset([doc], letters_vocab, 16, rng=random.Random(0))
    batched = BatchedCorruptionDataset([doc], letters_vocab, 16)
    parsed = [parse(letters_vocab, *plain[0], 16) for _ in range(50)]
    x, y = batched[[0] * 50]
    parsed += [parse(letters_vocab, x[i], y[i], 16) for i in range(50)]
    for s in parsed:
        assert s.original == doc
        assert len(s.span) == 1


def test_block_size_too_small_is_refused(letters_vocab: Vocabulary) -> None:
    with pytest.raises(ValueError, match="block_size"):
        CharCorruptionDataset(["abc"], letters_vocab, 7)
    with pytest.raises(ValueError, match="block_size"):
        BatchedCorruptionDataset(["abc"], letters_vocab, 7)


def test_batched_dataset_returns_one_row_per_index(letters_vocab: Vocabulary) -> None:
    docs = ["aaaaaaaa", "bbbbbbbbbbbb", "cccc"]
    dataset = BatchedCorruptionDataset(docs, letters_vocab, 16)
    x, y = dataset[[2, 0, 1, 2]]
    assert x.shape == (4, 16)
    rows = [parse(letters_vocab, x[i], y[i], 16) for i in range(4)]
    for row, idx in zip(rows, [2, 0, 1, 2], strict=True):
        assert set(row.original) == set(docs[idx][0])
        assert row.original == docs[idx][: row.trunc_len]


def test_corrupt_batch_equals_corrupt_elementwise() -> None:
    rng = random.Random(0)
    block = 32
    top = max_truncation(block)
    for _ in range(20):
        n = 16
        docs = [[rng.randrange(2, 30) for _ in range(rng.randint(0, 40))] for _ in range(n)]
        width = max(len(d) for d in docs) or 1
        padded = torch.full((n, width), PAD_ID, dtype=torch.long)
        for i, d in enumerate(docs):
            padded[i, : len(d)] = torch.tensor(d, dtype=torch.long)
        trunc, spans, starts = [], [], []
        for d in docs:
            t = rng.randint(4, top)
            length = min(t, len(d))
            s = rng.randint(min(1, length), length)
            trunc.append(t)
            spans.append(s)
            starts.append(rng.randint(0, length - s))
        lengths = torch.tensor([len(d) for d in docs])
        batch = corrupt_batch(
            padded, lengths, torch.tensor(trunc), torch.tensor(spans), torch.tensor(starts), block
        )
        assert batch.shape == (n, block + 1)
        for i, d in enumerate(docs):
            expected = corrupt(d, trunc[i], spans[i], starts[i], block)
            assert len(expected) == block + 1
            assert batch[i].tolist() == expected, (d, trunc[i], spans[i], starts[i])


def test_corrupt_layout() -> None:
    doc = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    out = corrupt(doc, trunc_len=8, span_len=3, start=2, block_size=16)
    assert out == [10, 11, MASK_ID, 15, 16, 17, MASK_ID, 12, 13, 14] + [PAD_ID] * 7


texts = st.text(
    alphabet=st.characters(blacklist_characters=[PAD, MASK], blacklist_categories=["Cs"]),
    min_size=1,
    max_size=200,
)


@settings(max_examples=150, deadline=None)
@given(text=texts, block_size=st.integers(8, 80), seed=st.integers(0, 2**32 - 1))
def test_plain_path_on_arbitrary_text(text: str, block_size: int, seed: int) -> None:
    vocab = Vocabulary(text)
    dataset = CharCorruptionDataset([text], vocab, block_size, rng=random.Random(seed))
    s = parse(vocab, *dataset[0], block_size)
    assert min(4, len(text)) <= s.trunc_len <= min(len(text), max_truncation(block_size))
    assert s.original == text[: s.trunc_len]
    assert len(s.span) >= 1


@settings(max_examples=150, deadline=None)
@given(text=texts, block_size=st.integers(8, 80), seed=st.integers(0, 2**32 - 1))
def test_batched_path_on_arbitrary_text(text: str, block_size: int, seed: int) -> None:
    vocab = Vocabulary(text)
    dataset = BatchedCorruptionDataset([text, text[:1]], vocab, block_size)
    torch.manual_seed(seed)
    x, y = dataset[[0, 1, 0]]
    assert x.shape == (3, block_size) and y.shape == (3, block_size)
    for i, source in enumerate([text, text[:1], text]):
        s = parse(vocab, x[i], y[i], block_size)
        assert min(4, len(source)) <= s.trunc_len <= min(len(source), max_truncation(block_size))
        assert s.original == source[: s.trunc_len]
        assert len(s.span) >= 1


def test_dataloader_workers_draw_independent_corruptions(
    letters_vocab: Vocabulary, document: str
) -> None:
    torch.manual_seed(0)
    dataset = CharCorruptionDataset([document] * 8, letters_vocab, BLOCK)
    loader = DataLoader(dataset, batch_size=2, num_workers=2, shuffle=False)
    batches = [x for x, _ in loader]
    # batches alternate between the two workers: 0, 1, 0, 1
    assert len(batches) == 4
    assert not (torch.equal(batches[0], batches[1]) and torch.equal(batches[2], batches[3]))


@pytest.mark.parametrize("path", ["plain", "batched"])
def test_random_window_reaches_the_whole_document(letters_vocab: Vocabulary, path: str) -> None:
    """Every piece is a contiguous substring; the end of a long document is shown, unlike prefix."""
    doc = long_document(300, seed=3)
    if path == "plain":
        dataset = CharCorruptionDataset(
            [doc], letters_vocab, BLOCK, rng=random.Random(0), window="random"
        )
        rows = [parse(letters_vocab, *dataset[0], BLOCK) for _ in range(DRAWS)]
    else:
        torch.manual_seed(0)
        dataset = BatchedCorruptionDataset([doc], letters_vocab, BLOCK, window="random")
        x, y = dataset[[0] * DRAWS]
        rows = [parse(letters_vocab, x[i], y[i], BLOCK) for i in range(DRAWS)]
    starts = []
    for row in rows:
        assert 4 <= len(row.original) <= max_truncation(BLOCK)
        assert row.original in doc
        starts.append(doc.index(row.original))
    covered = {
        i for row, s in zip(rows, starts, strict=True) for i in range(s, s + len(row.original))
    }
    assert max(covered) == len(doc) - 1  # the last character is shown
    assert len(covered) == len(doc)
    assert sum(s > 0 for s in starts) > DRAWS // 2


def test_unknown_window_is_refused(letters_vocab: Vocabulary) -> None:
    with pytest.raises(ValueError, match="allowed: prefix, random"):
        CharCorruptionDataset(["abcd"], letters_vocab, BLOCK, window="middle")
    with pytest.raises(ValueError, match="allowed: prefix, random"):
        BatchedCorruptionDataset(["abcd"], letters_vocab, BLOCK, window="middle")
