"""The model's incremental forward for decoding: next-position logits that reuse earlier work.

Each body's cached forward lives here, next to the bodies, so decoding never reaches into a
model's parts. Vanilla: a key/value cache per block; chunked: the same, each new position
reading only the keys of its pattern (see `models.chunked`). Perceiver: latent j sees inputs
0..j only and the latent blocks are causal, so latent j is final once input j is known; it is
computed once, at position j, with caches in the down block, the latent blocks and the up block.
From position bottleneck_dim on, a step is only the up block for the new position.
Right-aligned latents move with the sequence's end, so that perceiver recomputes the prefix every
step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from knowledge_probe.models.attention import KVCache
from knowledge_probe.models.chunked import chunked_mask

if TYPE_CHECKING:
    from knowledge_probe.models.gpt import GPT


class CachedForward:
    """`logits(t)` predicts position t+1 of `tokens` [B, T]; t only grows between calls, and
    the positions up to t must be final when it is called."""

    def __init__(self, model: GPT, tokens: torch.Tensor):
        self.model, self.tokens = model, tokens
        capacity = model.config.block_size
        self.caches = [KVCache(capacity) for _ in model.blocks]
        if model.config.variant == "perceiver":
            self.down_cache, self.up_cache = KVCache(capacity), KVCache(capacity)
        self.done = 0  # positions already processed

    def logits(self, t: int) -> torch.Tensor:
        model, first = self.model, self.done
        if model.right_aligned:
            return model(self.tokens[:, : t + 1])[0][:, -1]
        x = model.embed(self.tokens[:, first : t + 1], offset=first)
        if model.config.variant == "perceiver":
            x = self._perceiver(x, first, t)
        else:
            x = self._self_attention(x, first, t)
        self.done = t + 1
        return model.head(model.ln_f(x[:, -1]))

    def _self_attention(self, x: torch.Tensor, first: int, t: int) -> torch.Tensor:
        """Vanilla and chunked: the new positions through every block, with the caches."""
        config, mask = self.model.config, None
        if config.variant == "chunked":  # the keys the chunked body reads
            positions = torch.arange(t + 1, device=x.device)
            mask = chunked_mask(
                positions[first:], positions, config.chunk_size, config.chunk_window
            )
        for block, cache in zip(self.model.blocks, self.caches, strict=True):
            x = block(x, q_offset=first, cache=cache, mask=mask)
        return x

    def _perceiver(self, x: torch.Tensor, first: int, t: int) -> torch.Tensor:
        """Left-aligned perceiver: the latents that became final, then the up block."""
        model = self.model
        new_latents = max(0, min(t + 1, model.config.bottleneck_dim) - first)
        z = x[:, :0]
        if new_latents:
            z = model.down(x[:, :new_latents], first, new_latents, self.down_cache)
            for block, cache in zip(model.blocks, self.caches, strict=True):
                z = block(z, q_offset=first, cache=cache)
        return model.up(x, z, q_offset=first, cache=self.up_cache)
