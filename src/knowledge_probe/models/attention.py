"""Multi-head attention that is causal by absolute position, for self- and cross-attention.

Query i (at absolute position q_offset + i) sees keys 0..q_offset+i. With q_offset = 0 this is
the lower-triangular block mask cut to [:Tq, :Tk], the reference's mask for both self- and
cross-attention; a positive offset serves decoding with a key/value cache.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from knowledge_probe.models.dropout import Dropout


def causal_mask(n_query: int, n_key: int, q_offset: int, device: torch.device) -> torch.Tensor:
    """Boolean [Tq, Tk] mask, True where attention is allowed."""
    q_pos = torch.arange(n_query, device=device)[:, None] + q_offset
    return torch.arange(n_key, device=device)[None, :] <= q_pos


class RotaryEmbedding(nn.Module):
    """Rotary position embedding: rotates query/key channel pairs by position-dependent angles,
    so attention scores depend on relative positions (no learned position table needed)."""

    def __init__(self, head_dim: int, max_positions: int, base: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary embeddings need an even head size, got {head_dim}")
        inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        angles = torch.outer(torch.arange(max_positions, dtype=torch.float32), inv_freq)
        angles = torch.cat([angles, angles], dim=-1)  # [positions, head_dim]
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(
        self, x: torch.Tensor, start: int = 0, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x [B, H, T, D] at absolute positions start..start+T-1, or at `positions` [B, T]."""
        if positions is None:
            end = start + x.size(2)
            cos, sin = self.cos[start:end], self.sin[start:end]
        else:
            cos, sin = self.cos[positions].unsqueeze(1), self.sin[positions].unsqueeze(1)
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        first, second = x.chunk(2, dim=-1)
        return x * cos + torch.cat([-second, first], dim=-1) * sin


class KVCache:
    """Keys and values of earlier positions, preallocated so that appending writes in place."""

    def __init__(self, capacity: int):
        self.capacity, self.length = capacity, 0
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.k is None:
            shape = (k.size(0), k.size(1), self.capacity, k.size(3))
            self.k, self.v = k.new_empty(shape), v.new_empty(shape)
        end = self.length + k.size(2)
        self.k[:, :, self.length : end], self.v[:, :, self.length : end] = k, v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]


class Attention(nn.Module):
    """Queries from one sequence, keys and values from another (the same one for self-attention)."""

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        attn_pdrop: float,
        resid_pdrop: float,
        fused: bool = True,
        rotary: RotaryEmbedding | None = None,
    ):
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd ({n_embd}) must be divisible by n_head ({n_head})")
        self.query = nn.Linear(n_embd, n_embd)
        self.key = nn.Linear(n_embd, n_embd)
        self.value = nn.Linear(n_embd, n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.attn_drop = Dropout(attn_pdrop)
        self.resid_drop = Dropout(resid_pdrop)
        self.n_head = n_head
        self.fused = fused
        self.rotary = rotary

    def _cpu_dropout(self, q: torch.Tensor) -> bool:
        """SDPA has no fused dropout on CPU: its fallback is slower and larger than the explicit
        path (measured by benchmarks/train_throughput.py), so CPU training with dropout skips it."""
        return self.training and self.attn_drop.p > 0 and q.device.type == "cpu"

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        return x.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)

    def forward(
        self,
        x_q: torch.Tensor,
        x_kv: torch.Tensor,
        q_offset: int = 0,
        cache: KVCache | None = None,
        mask: torch.Tensor | None = None,
        q_positions: torch.Tensor | None = None,
        k_positions: torch.Tensor | None = None,
        projected: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """`cache`, if given, holds earlier keys/values; those of `x_kv` are appended to it.

        `mask` (boolean, broadcastable to [B, H, Tq, Tk], every row allowing some key) replaces
        the causal mask; `q_positions`/`k_positions` ([B, T]) place rows at per-example positions
        for rotary embeddings. Both serve latents aligned to each example's end. `projected`:
        the keys and values of `x_kv` already through `key` and `value` (a caller that reads the
        same inputs in several windows projects them once).
        """
        if projected is None:
            projected = self.key(x_kv), self.value(x_kv)
        q, k, v = (
            self._split(self.query(x_q)),
            self._split(projected[0]),
            self._split(projected[1]),
        )
        if self.rotary is not None:  # queries start at q_offset, keys where the cache ends
            q = self.rotary(q, q_offset, q_positions)
            k = self.rotary(k, cache.length if cache is not None else 0, k_positions)
        if cache is not None:
            k, v = cache.append(k, v)
        n_query, n_key = q.size(2), k.size(2)
        fused = self.fused and not self._cpu_dropout(q)
        dropout = self.attn_drop.p if self.training else 0.0
        if mask is not None:
            y = self._masked(q, k, v, mask, fused, dropout)
        else:
            # one query on a CPU: the explicit path measured faster (cached decoding)
            fused = fused and not (n_query == 1 and q.device.type == "cpu")
            if fused and q_offset == 0:
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
            elif fused and q_offset >= n_key - 1:  # even the first query sees every key
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
            else:
                mask = causal_mask(n_query, n_key, q_offset, q.device)
                y = self._masked(q, k, v, mask, fused, dropout)
        y = y.transpose(1, 2).contiguous().view(x_q.size(0), n_query, -1)
        return self.resid_drop(self.proj(y))

    def _masked(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor,
        fused: bool,
        dropout: float,
    ) -> torch.Tensor:
        """Attention where `mask` allows: the fused kernel, or the reference's explicit softmax."""
        if fused:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))
        return self.attn_drop(F.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)) @ v
