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


def chunk_ends(n_chunks: int, chunk: int, device: torch.device) -> torch.Tensor:
    """[n] the input position each chunk's latent stands at (and summarises up to)."""
    return torch.arange(1, n_chunks + 1, device=device) * chunk - 1


def summarise_chunks(down, x: torch.Tensor, chunk: int, first: int = 0) -> torch.Tensor:
    """x [B, n*c, d] (whole chunks, from chunk `first` on) -> latents [B, n, d]: each chunk's
    last input reads the chunk."""
    b, length, d = x.shape
    n = length // chunk
    inputs = x.reshape(b * n, chunk, d)
    query = inputs[:, -1:]
    ends = (chunk_ends(n, chunk, x.device) + first * chunk).repeat(b)[:, None]  # [B*n, 1]
    positions = ends - chunk + 1 + torch.arange(chunk, device=x.device)[None, :]
    # q_offset: the query stands after every key (it is the chunk's last position)
    z = query + down.attn(
        down.ln1(query), inputs, chunk - 1, q_positions=ends, k_positions=positions
    )
    z = z + down.mlp(down.ln2(z))
    return z.reshape(b, n, d)


def latent_windows(latents: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For each chunk k: the latents of chunks k-window..k-1 [B, n, w, d] and which exist [n, w]."""
    b, n, d = latents.shape
    padded = F.pad(latents, (0, 0, window, 0))  # w empty slots before chunk 0
    windows = padded.unfold(1, window, 1)[:, :n].permute(0, 1, 3, 2)  # [B, n, w, d]
    slots = torch.arange(window, device=latents.device)
    index = torch.arange(n, device=latents.device)[:, None] - window + slots[None]
    return windows, index >= 0


def read_chunks(
    up, x: torch.Tensor, latents: torch.Tensor, chunk: int, window: int
) -> torch.Tensor:
    """x [B, n*c, d], latents [B, n, d] -> y: each position reads the `window` latents of the
    chunks before its own and its own chunk's inputs up to itself."""
    b, length, d = x.shape
    n = length // chunk
    windows, exists = latent_windows(up.ln1(latents), window)
    inputs = x.reshape(b, n, chunk, d)
    keys = torch.cat([windows, inputs], dim=2).reshape(b * n, window + chunk, d)
    starts = torch.arange(n, device=x.device) * chunk
    slots = torch.arange(window, device=x.device)
    latent_positions = (starts[:, None] + (slots[None] - window + 1) * chunk - 1).clamp(min=0)
    input_positions = starts[:, None] + torch.arange(chunk, device=x.device)[None]
    k_positions = torch.cat([latent_positions, input_positions], dim=1).repeat(b, 1)
    local = causal_mask(chunk, chunk, 0, x.device)  # [c, c]
    mask = torch.cat([exists[:, None, :].expand(n, chunk, window), local.expand(n, -1, -1)], -1)
    mask = mask.repeat(b, 1, 1).unsqueeze(1)  # [B*n, 1, c, w+c]
    queries = inputs.reshape(b * n, chunk, d)
    read = up.attn(
        queries,
        keys,
        mask=mask,
        q_positions=input_positions.repeat(b, 1),
        k_positions=k_positions,
    )
    y = x + read.reshape(b, length, d)
    return y + up.mlp(up.ln2(y))


def chunked_hidden(model, x: torch.Tensor) -> torch.Tensor:
    """Final hidden states of the chunked body for embedded inputs x [B, T, d]."""
    chunk, window = model.config.chunk_size, model.config.bottleneck_dim
    length = x.size(1)
    whole = -(-length // chunk) * chunk
    x = F.pad(x, (0, 0, 0, whole - length))  # padding after the end changes no earlier output
    z = summarise_chunks(model.down, x, chunk)
    for block in model.blocks:
        z = block(z)
    return read_chunks(model.up, x, z, chunk, window)[:, :length]


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
