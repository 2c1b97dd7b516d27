"""Span corruption for pretraining, in a plain per-example form and a batched tensor form.

Both draw from the same distribution: truncate a document to a random length in
[4, int(block*7/8)], cut out a span of length uniform in [1, max(1, L//2)] (mean about L/4)
at a uniform start, and emit `prefix MASK suffix MASK span PADS` of length block+1.

`window="prefix"` (the reference) always truncates from the document's start, so text beyond
int(block*7/8) characters is never seen; `window="random"` takes the truncated piece from a
uniform offset instead, so every part of every document is shown.
"""

from __future__ import annotations

import random

import torch
from torch.utils.data import Dataset

from knowledge_probe.data.vocab import MASK_ID, PAD_ID, Vocabulary


def max_truncation(block_size: int) -> int:
    """The longest prefix of a document that pretraining ever shows the model."""
    return int(block_size * 7 / 8)


WINDOWS = ("prefix", "random")


def check_window(window: str) -> None:
    if window not in WINDOWS:
        raise ValueError(f"unknown corruption window {window!r}; allowed: {', '.join(WINDOWS)}")


def corrupt(
    doc: list[int], trunc_len: int, span_len: int, start: int, block_size: int, offset: int = 0
) -> list[int]:
    """Build one corrupted sequence (length block+1) from explicit random draws."""
    truncated = doc[offset : offset + trunc_len]
    prefix, span, suffix = (
        truncated[:start],
        truncated[start : start + span_len],
        truncated[start + span_len :],
    )
    seq = prefix + [MASK_ID] + suffix + [MASK_ID] + span
    return seq + [PAD_ID] * (block_size + 1 - len(seq))


def draw_span(length: int, rng: random.Random) -> tuple[int, int]:
    """Span length uniform in [1, max(1, length//2)] and a uniform start that fits."""
    span_len = rng.randint(1, max(1, length // 2))
    span_len = min(span_len, length)
    return span_len, rng.randint(0, length - span_len)


class CharCorruptionDataset(Dataset):
    """The plain path: one example at a time in Python, as the reference does."""

    def __init__(
        self,
        documents: list[str],
        vocab: Vocabulary,
        block_size: int,
        rng: random.Random | None = None,
        window: str = "prefix",
    ):
        if block_size < 8:
            raise ValueError(f"block_size must be at least 8, got {block_size}")
        check_window(window)
        self.docs = [vocab.encode(d) for d in documents]
        self.vocab, self.block_size, self.window = vocab, block_size, window
        self._rng, self._rng_seed = rng, None

    @property
    def rng(self) -> random.Random:
        """Seeded from torch's per-process seed, so each DataLoader worker draws its own spans."""
        if self._rng is None or self._rng_seed not in (None, torch.initial_seed()):
            self._rng, self._rng_seed = random.Random(torch.initial_seed()), torch.initial_seed()
        return self._rng

    def __len__(self) -> int:
        return len(self.docs)

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        doc = self.docs[idx]
        trunc_len = self.rng.randint(4, max_truncation(self.block_size))
        offset = 0
        if self.window == "random":
            offset = self.rng.randint(0, max(0, len(doc) - trunc_len))
        length = min(trunc_len, len(doc) - offset)
        span_len, start = draw_span(length, self.rng)
        seq = torch.tensor(
            corrupt(doc, trunc_len, span_len, start, self.block_size, offset), dtype=torch.long
        )
        return seq[:-1], seq[1:]


def corrupt_batch(
    docs: torch.Tensor,
    lengths: torch.Tensor,
    trunc_len: torch.Tensor,
    span_len: torch.Tensor,
    start: torch.Tensor,
    block_size: int,
) -> torch.Tensor:
    """Vectorised `corrupt`: docs [B, D] (right-padded), all draws [B]; returns [B, block+1]."""
    length = torch.minimum(trunc_len, lengths)[:, None]
    span_len, start = span_len[:, None], start[:, None]
    pos = torch.arange(block_size + 1, device=docs.device)[None, :]
    suffix_end = length - span_len + 1  # output position of the second mask
    source = torch.where(pos < start, pos, pos - 1 + span_len)  # prefix, then suffix
    source = torch.where(pos > suffix_end, start + pos - suffix_end - 1, source)  # span
    gathered = docs.gather(1, source.clamp(0, docs.size(1) - 1))
    out = torch.where((pos == start) | (pos == suffix_end), MASK_ID, gathered)
    return torch.where(pos < length + 2, out, PAD_ID)


def draw_truncations(n: int, block_size: int, generator: torch.Generator | None = None):
    return torch.randint(4, max_truncation(block_size) + 1, (n,), generator=generator)


def draw_spans_batch(
    lengths: torch.Tensor,
    block_size: int,
    generator: torch.Generator | None = None,
    trunc_len: torch.Tensor | None = None,
):
    """Draw (trunc_len, span_len, start) for a batch from the same distribution as the plain path."""
    n = lengths.numel()
    if trunc_len is None:
        trunc_len = draw_truncations(n, block_size, generator)
    length = torch.minimum(trunc_len, lengths)
    upper = (length // 2).clamp(min=1)
    span_len = torch.minimum(1 + (torch.rand(n, generator=generator) * upper).long(), length)
    start = (torch.rand(n, generator=generator) * (length - span_len + 1)).long()
    return trunc_len, span_len, start


def draw_offsets(
    lengths: torch.Tensor, trunc_len: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A uniform window start in [0, max(0, length - trunc_len)] per document."""
    room = (lengths - trunc_len).clamp(min=0) + 1
    return (torch.rand(lengths.numel(), generator=generator) * room).long()


def windows(docs: torch.Tensor, offsets: torch.Tensor, width: int) -> torch.Tensor:
    """docs [B, D] shifted left by `offsets` [B] and cut to `width` columns (PAD beyond the end)."""
    pos = offsets[:, None] + torch.arange(width)[None, :]
    shifted = docs.gather(1, pos.clamp(max=docs.size(1) - 1))
    return torch.where(pos < docs.size(1), shifted, PAD_ID)


class BatchedCorruptionDataset(Dataset):
    """The fast path: documents encoded once into one tensor, whole batches corrupted at once.

    Index it with a list of indices (use it with a BatchSampler and `batch_size=None`).
    """

    def __init__(
        self, documents: list[str], vocab: Vocabulary, block_size: int, window: str = "prefix"
    ):
        if block_size < 8:
            raise ValueError(f"block_size must be at least 8, got {block_size}")
        check_window(window)
        self.window = window
        encoded = [vocab.encode(d) for d in documents]
        width = max_truncation(block_size)
        if window == "prefix":
            encoded = [e[:width] for e in encoded]
        else:
            width = max([width, *map(len, encoded)])
        self.lengths = torch.tensor([len(e) for e in encoded], dtype=torch.long)
        self.docs = torch.full((len(encoded), width), PAD_ID, dtype=torch.long)
        for i, e in enumerate(encoded):
            self.docs[i, : len(e)] = torch.tensor(e, dtype=torch.long)
        self.block_size = block_size

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        return self.batch(indices)

    def batch(
        self, indices, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Corrupt the documents at `indices`, drawing from `generator` (default: the global one)."""
        indices = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        docs, lengths = self.docs[indices], self.lengths[indices]
        trunc_len = draw_truncations(len(indices), self.block_size, generator)
        if self.window == "random":
            width = max_truncation(self.block_size)
            offsets = draw_offsets(lengths, trunc_len, generator)
            docs, lengths = windows(docs, offsets, width), (lengths - offsets).clamp(max=width)
        draws = draw_spans_batch(lengths, self.block_size, generator, trunc_len=trunc_len)
        seq = corrupt_batch(docs, lengths, *draws, self.block_size)
        return seq[:, :-1], seq[:, 1:]
