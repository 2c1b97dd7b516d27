"""The `chunked` body: a bottleneck that every input reaches, at a cost linear in the length.

The sequence is cut into chunks of `chunk_size` positions. In every block, a position attends to
the `chunk_size` positions up to itself (a sliding local window), and to the last position of
each of the `chunk_window` chunks before its own that lies outside that window. Those chunk-end
states are the latents: all older context reaches a position through them (a chunk's end has
read its whole chunk, and the chunk ends before it, in the block below). The local window
slides, so a word reads the characters just before it wherever the chunk boundaries fall: a
name reads the same in a biography and in a question. Per block the cost is
O(L (2c + w) d + L d^2) for chunk c and window w, linear in L; the blocks and parameters are
vanilla's. Chunks start at each example's first position, and a position's states are final once
it is reached, so cached decoding is exact. Rows no longer than one chunk's keys (w + 2c, the
default experiment's context) run with one [T, T] mask of the same pattern, which reads no more
keys and copies none.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from knowledge_probe.models.attention import causal_mask
from knowledge_probe.models.packing import segment_mask

UNUSED = -2  # the segment of a window slot before an example's first chunk


def keys_per_chunk(chunk: int, window: int) -> int:
    """The key slots one chunk's queries read: `window` chunk ends, the previous chunk, its own.
    Rows no longer than this run with one dense mask instead (see `chunked_hidden`)."""
    return window + 2 * chunk


def windows_of(values: torch.Tensor, window: int, fill: float) -> torch.Tensor:
    """For each chunk k of `values` [B, n, ...]: those of chunks k-window..k-1 [B, n, w, ...],
    `fill` before the first chunk."""
    extra = values.dim() - 2
    padded = F.pad(values, (0, 0) * extra + (window, 0), value=fill)
    unfolded = padded.unfold(1, window, 1)[:, : values.size(1)]  # window dim last
    return unfolded.movedim(-1, 2)


@dataclass(frozen=True)
class ChunkPattern:
    """What each chunk's queries read, the same in every block: `mask` [B*n, 1, c, w + 2c] over
    its keys (the `window` chunk ends before it, the previous chunk, its own chunk), and the
    positions of its queries [B*n, c] and keys [B*n, w + 2c] (for rotary embeddings)."""

    chunk: int
    window: int
    mask: torch.Tensor
    q_positions: torch.Tensor
    k_positions: torch.Tensor


def chunk_pattern(
    chunk: int, window: int, ranks: torch.Tensor, segments: torch.Tensor
) -> ChunkPattern:
    """The pattern of rows whose chunk i is chunk `ranks` [B, n] of example `segments` [B, n]:
    each position reads the `chunk` positions up to itself and the chunk ends before them, of
    the `window` chunks before its own, of its own example."""
    b, n = ranks.shape
    end_positions = (windows_of(ranks, window, 0) * chunk + chunk - 1).clamp(min=0)
    input_positions = ranks[..., None] * chunk + torch.arange(chunk, device=ranks.device)
    k_positions = torch.cat(
        [end_positions, (input_positions - chunk).clamp(min=0), input_positions], dim=2
    )
    # which slots hold this example's keys: its earlier chunk ends, its previous chunk
    same_end = windows_of(segments, window, UNUSED) == segments[..., None]  # [B, n, w]
    same_previous = windows_of(segments, 1, UNUSED) == segments[..., None]  # [B, n, 1]
    # query i of chunk k reads key m of chunk k-1 when m > i, of chunk k when m <= i, and the
    # end of chunk k-1 (which is also key c-1 of chunk k-1) from the ends only when i = c-1
    causal = causal_mask(chunk, chunk, 0, ranks.device)
    local = torch.cat([~causal, causal], dim=1)  # [c, 2c]
    own = torch.ones_like(same_previous)
    slots = torch.cat([same_previous.expand(-1, -1, chunk), own.expand(-1, -1, chunk)], dim=-1)
    local = local[None, None] & slots[:, :, None, :]
    outside = torch.ones(chunk, window, dtype=torch.bool, device=ranks.device)
    outside[:-1, -1] = False  # the previous chunk's end is still in the local window
    read_ends = same_end[:, :, None, :] & outside
    mask = torch.cat([read_ends, local], dim=-1)  # [B, n, c, w + 2c]
    return ChunkPattern(
        chunk,
        window,
        mask.reshape(b * n, 1, chunk, keys_per_chunk(chunk, window)),
        input_positions.reshape(b * n, chunk),
        k_positions.reshape(b * n, -1),
    )


def chunk_attention(attn, h: torch.Tensor, pattern: ChunkPattern) -> torch.Tensor:
    """h [B, n*c, d] -> each position's read of the keys `pattern` gives it."""
    b, length, d = h.shape
    chunk, window = pattern.chunk, pattern.window
    n = length // chunk

    def keyed(x: torch.Tensor) -> torch.Tensor:
        """x [B, n*c, d] as each chunk's keys [B*n, w + 2c, d]: ends, previous chunk, own."""
        own = x.reshape(b, n, chunk, d)
        previous = windows_of(own, 1, 0.0)[:, :, 0]  # [B, n, c, d]
        ends = windows_of(x[:, chunk - 1 :: chunk], window, 0.0)  # [B, n, w, d]
        keys = torch.cat([ends, previous, own], dim=2)
        return keys.reshape(b * n, keys_per_chunk(chunk, window), d)

    # every input is a key of its own chunk, the next one and (its end) `window` more: project
    # each once, then place it in those windows
    read = attn(
        h.reshape(b * n, chunk, d),
        None,
        mask=pattern.mask,
        q_positions=pattern.q_positions,
        k_positions=pattern.k_positions,
        projected=(keyed(attn.key(h)), keyed(attn.value(h))),
    )
    return read.reshape(b, length, d)


def chunked_hidden(
    model, x: torch.Tensor, positions: torch.Tensor | None = None, segments=None
) -> torch.Tensor:
    """Final hidden states of the chunked body for embedded inputs x [B, T, d]: one example per
    row, or packed ones (`positions`, `segments` [B, T], each example in whole chunks)."""
    chunk, window = model.config.chunk_size, model.config.chunk_window
    b, length, _ = x.shape
    if length <= keys_per_chunk(chunk, window):
        # no longer than one chunk's keys: one [T, T] mask reads no more keys and copies none
        if positions is None:
            steps = torch.arange(length, device=x.device)
            mask = chunked_mask(steps, steps, chunk, window)
        else:
            pattern = chunked_mask(positions, positions, chunk, window).unsqueeze(1)
            mask = segment_mask(segments, positions, segments, positions) & pattern
        for block in model.blocks:
            x = block(x, mask=mask, positions=positions)
        return x
    if positions is None:
        whole = -(-length // chunk) * chunk
        x = F.pad(x, (0, 0, 0, whole - length))  # padding after the end changes nothing earlier
        positions = torch.arange(whole, device=x.device).expand(b, -1)
        segments = torch.zeros_like(positions)
    pattern = chunk_pattern(chunk, window, positions[:, ::chunk] // chunk, segments[:, ::chunk])
    for block in model.blocks:
        x = x + chunk_attention(block.attn, block.ln1(x), pattern)
        x = x + block.mlp(block.ln2(x))
    return x[:, :length]


def chunked_mask(
    q_positions: torch.Tensor, k_positions: torch.Tensor, chunk: int, window: int
) -> torch.Tensor:
    """[..., Tq, Tk] which keys a query reads in the chunked body, for an example's positions
    [..., T]."""
    q, k = q_positions[..., :, None], k_positions[..., None, :]
    local = (k <= q) & (k > q - chunk)
    is_end = (k % chunk) == chunk - 1
    before = (k // chunk < q // chunk) & (k // chunk >= q // chunk - window)
    return local | (is_end & before & (k <= q - chunk))
