"""The `chunked` body: a bottleneck that every input reaches, at a cost linear in the length.

The sequence is cut into chunks of `chunk_size` positions. In every block, a position attends to
the positions of its own chunk up to itself, and to the last position of each of the
`chunk_window` chunks before its own. Those chunk-end states are the latents: all earlier
context reaches a position through them (a chunk's end has read its whole chunk, and the
chunk ends before it, in the block below). Per block the cost is O(L (c + w) d + L d^2) for
chunk c and window w, linear in L; the blocks and parameters are vanilla's. Chunks start at
each example's first position, and a chunk end's states are final once it is reached, so
cached decoding is exact.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from knowledge_probe.models.attention import causal_mask

UNUSED = -2  # the segment of a window slot before an example's first chunk


def windows_of(values: torch.Tensor, window: int, fill: float) -> torch.Tensor:
    """For each chunk k of `values` [B, n, ...]: those of chunks k-window..k-1 [B, n, w, ...],
    `fill` before the first chunk."""
    extra = values.dim() - 2
    padded = F.pad(values, (0, 0) * extra + (window, 0), value=fill)
    unfolded = padded.unfold(1, window, 1)[:, : values.size(1)]  # window dim last
    return unfolded.movedim(-1, 2)


def chunk_attention(
    attn, h: torch.Tensor, chunk: int, window: int, ranks: torch.Tensor, segments: torch.Tensor
) -> torch.Tensor:
    """h [B, n*c, d] -> each position's read of its own chunk up to itself and of the chunk ends
    of the `window` chunks before, of its own example (chunk i of a row is chunk `ranks` [B, n]
    of example `segments` [B, n])."""
    b, length, d = h.shape
    n = length // chunk
    ends = windows_of(h[:, chunk - 1 :: chunk], window, 0.0)  # [B, n, w, d]
    same = windows_of(segments, window, UNUSED) == segments[..., None]  # [B, n, w]
    inputs = h.reshape(b, n, chunk, d)
    keys = torch.cat([ends, inputs], dim=2).reshape(b * n, window + chunk, d)
    end_positions = (windows_of(ranks, window, 0) * chunk + chunk - 1).clamp(min=0)
    input_positions = ranks[..., None] * chunk + torch.arange(chunk, device=h.device)
    k_positions = torch.cat([end_positions, input_positions], dim=2).reshape(b * n, -1)
    local = causal_mask(chunk, chunk, 0, h.device).expand(b, n, -1, -1)  # [B, n, c, c]
    mask = torch.cat([same[:, :, None, :].expand(-1, -1, chunk, -1), local], dim=-1)
    read = attn(
        inputs.reshape(b * n, chunk, d),
        keys,
        mask=mask.reshape(b * n, 1, chunk, window + chunk),
        q_positions=input_positions.reshape(b * n, chunk),
        k_positions=k_positions,
    )
    return read.reshape(b, length, d)


def chunked_hidden(
    model, x: torch.Tensor, positions: torch.Tensor | None = None, segments=None
) -> torch.Tensor:
    """Final hidden states of the chunked body for embedded inputs x [B, T, d]: one example per
    row, or packed ones (`positions`, `segments` [B, T], each example in whole chunks)."""
    chunk, window = model.config.chunk_size, model.config.chunk_window
    b, length, _ = x.shape
    if positions is None:
        whole = -(-length // chunk) * chunk
        x = F.pad(x, (0, 0, 0, whole - length))  # padding after the end changes nothing earlier
        positions = torch.arange(whole, device=x.device).expand(b, -1)
        segments = torch.zeros_like(positions)
    ranks, chunk_segments = positions[:, ::chunk] // chunk, segments[:, ::chunk]
    for block in model.blocks:
        x = x + chunk_attention(block.attn, block.ln1(x), chunk, window, ranks, chunk_segments)
        x = x + block.mlp(block.ln2(x))
    return x[:, :length]


def chunked_mask(
    q_positions: torch.Tensor, k_positions: torch.Tensor, chunk: int, window: int
) -> torch.Tensor:
    """[Tq, Tk] which keys a query reads in the chunked body, for one example's positions."""
    q_chunk, k_chunk = q_positions[:, None] // chunk, k_positions[None, :] // chunk
    own = (q_chunk == k_chunk) & (k_positions[None, :] <= q_positions[:, None])
    is_end = (k_positions[None, :] % chunk) == chunk - 1
    before = (k_chunk < q_chunk) & (k_chunk >= q_chunk - window)
    return own | (is_end & before)
