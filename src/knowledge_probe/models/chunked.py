"""The `chunked` body: a bottleneck that every input reaches, at a cost linear in the length.

The sequence is cut into chunks of `chunk_size` positions. The down block writes one latent per
chunk: the input at the chunk's last position reads the chunk's inputs (Perceiver AR's query).
The latent blocks are causal self-attention over the latents. In the up block, each position
reads the latents of the `bottleneck_dim` chunks before its own, plus the inputs of its own
chunk up to itself. So every input reaches a latent, a position never waits for a latent that
training had not finished either, and per layer the cost is O(L (c + w) d + L d^2) for chunk c
and window w (the latent blocks' own attention, O((L/c)^2 d), is a small quadratic term).
Chunks start at each example's first position; a latent is final once its chunk is complete,
which is what makes cached decoding exact.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from knowledge_probe.models.attention import causal_mask
from knowledge_probe.models.packing import segment_mask

UNUSED = -2  # the segment of a window slot before an example's first chunk


def summarise_chunks(down, x: torch.Tensor, chunk: int, ranks: torch.Tensor) -> torch.Tensor:
    """x [B, n*c, d] (whole chunks; chunk i is its example's chunk `ranks` [B, n]) -> latents
    [B, n, d]: each chunk's last input reads the chunk."""
    b, length, d = x.shape
    n = length // chunk
    inputs = x.reshape(b * n, chunk, d)
    query = inputs[:, -1:]
    starts = ranks.reshape(b * n, 1) * chunk
    positions = starts + torch.arange(chunk, device=x.device)[None, :]
    # q_offset: the query stands after every key (it is the chunk's last position)
    z = query + down.attn(
        down.ln1(query), inputs, chunk - 1, q_positions=positions[:, -1:], k_positions=positions
    )
    z = z + down.mlp(down.ln2(z))
    return z.reshape(b, n, d)


def windows_of(values: torch.Tensor, window: int, fill: float) -> torch.Tensor:
    """For each chunk k of `values` [B, n, ...]: those of chunks k-window..k-1 [B, n, w, ...],
    `fill` before the first chunk."""
    extra = values.dim() - 2
    padded = F.pad(values, (0, 0) * extra + (window, 0), value=fill)
    unfolded = padded.unfold(1, window, 1)[:, : values.size(1)]  # window dim last
    return unfolded.movedim(-1, 2)


def read_chunks(
    up,
    x: torch.Tensor,
    latents: torch.Tensor,
    chunk: int,
    window: int,
    ranks: torch.Tensor,
    segments: torch.Tensor,
) -> torch.Tensor:
    """x [B, n*c, d], latents [B, n, d] -> y: each position reads the latents of the `window`
    chunks before its own, of its own example (`segments` [B, n]), and its own chunk's inputs
    up to itself."""
    b, length, d = x.shape
    n = length // chunk
    seen = windows_of(up.ln1(latents), window, 0.0)  # [B, n, w, d]
    same = windows_of(segments, window, UNUSED) == segments[..., None]  # [B, n, w]
    inputs = x.reshape(b, n, chunk, d)
    keys = torch.cat([seen, inputs], dim=2).reshape(b * n, window + chunk, d)
    offsets = torch.arange(chunk, device=x.device)
    latent_positions = (windows_of(ranks, window, 0) * chunk + chunk - 1).clamp(min=0)
    input_positions = ranks[..., None] * chunk + offsets  # [B, n, c]
    k_positions = torch.cat([latent_positions, input_positions], dim=2).reshape(b * n, -1)
    local = causal_mask(chunk, chunk, 0, x.device).expand(b, n, -1, -1)  # [B, n, c, c]
    mask = torch.cat([same[:, :, None, :].expand(-1, -1, chunk, -1), local], dim=-1)
    read = up.attn(
        inputs.reshape(b * n, chunk, d),
        keys,
        mask=mask.reshape(b * n, 1, chunk, window + chunk),
        q_positions=input_positions.reshape(b * n, chunk),
        k_positions=k_positions,
    )
    y = x + read.reshape(b, length, d)
    return y + up.mlp(up.ln2(y))


def chunked_hidden(
    model, x: torch.Tensor, positions: torch.Tensor | None = None, segments=None
) -> torch.Tensor:
    """Final hidden states of the chunked body for embedded inputs x [B, T, d]: one example per
    row, or packed ones (`positions`, `segments` [B, T], each example in whole chunks)."""
    chunk, window = model.config.chunk_size, model.config.bottleneck_dim
    b, length, _ = x.shape
    if positions is None:
        whole = -(-length // chunk) * chunk
        x = F.pad(x, (0, 0, 0, whole - length))  # padding after the end changes nothing earlier
        positions = torch.arange(whole, device=x.device).expand(b, -1)
        segments = torch.zeros_like(positions)
    ranks, chunk_segments = positions[:, ::chunk] // chunk, segments[:, ::chunk]
    z = summarise_chunks(model.down, x, chunk, ranks)
    among = segment_mask(chunk_segments, ranks, chunk_segments, ranks)
    for block in model.blocks:
        z = block(z, mask=among, positions=ranks)
    y = read_chunks(model.up, x, z, chunk, window, ranks, chunk_segments)
    return y[:, :length]


def read_one(
    up, x_chunk: torch.Tensor, latents: torch.Tensor, position: int, chunk: int, window: int
) -> torch.Tensor:
    """Decoding: the up block for the last of `x_chunk` [B, t-kc+1, d] (its chunk's inputs so
    far, ending at `position` t), reading the window of `latents` [B, k, d] of earlier chunks."""
    k = position // chunk
    first = max(0, k - window)
    seen = up.ln1(latents[:, first:k])
    keys = torch.cat([seen, x_chunk], dim=1)
    device = x_chunk.device
    k_positions = torch.cat(
        [
            torch.arange(first + 1, k + 1, device=device) * chunk - 1,
            torch.arange(k * chunk, position + 1, device=device),
        ]
    ).expand(x_chunk.size(0), -1)
    q_positions = torch.full((x_chunk.size(0), 1), position, device=device)
    query = x_chunk[:, -1:]
    mask = torch.ones(1, 1, 1, keys.size(1), dtype=torch.bool, device=device)
    y = query + up.attn(query, keys, mask=mask, q_positions=q_positions, k_positions=k_positions)
    return y + up.mlp(up.ln2(y))
