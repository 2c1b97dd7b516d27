"""Greedy decoding: a plain one-question reference and a batched, cached fast path.

Both stop at the model's context end, so they give identical answers. The batched path walks
all rows in lockstep over absolute positions (rows still inside their prompt take the prompt's
next character), which keeps positions exact without left padding.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch

from knowledge_probe.data.vocab import MASK_ID, PAD_ID
from knowledge_probe.models.attention import KVCache
from knowledge_probe.models.chunked import chunked_mask
from knowledge_probe.models.gpt import GPT


def _answer(ids: list[int], stop_id: int) -> list[int]:
    return ids[: ids.index(stop_id)] if stop_id in ids else ids


@torch.inference_mode()
def decode_plain(
    model: GPT, prompt: list[int], max_new: int = 32, stop_id: int = MASK_ID
) -> list[int]:
    """Reference decoding: one question, the whole sequence recomputed for every character."""
    device = next(model.parameters()).device
    seq = torch.tensor([prompt], dtype=torch.long, device=device)
    for _ in range(max_new):
        if seq.size(1) >= model.config.block_size + 1:
            break
        logits, _ = model(seq[:, -model.config.block_size :])
        seq = torch.cat([seq, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return _answer(seq[0, len(prompt) :].tolist(), stop_id)


class _Stepper:
    """Returns the logits that predict position t+1, reusing the work of earlier positions.

    Vanilla: a key/value cache per block; chunked: the same, each new position reading only the
    keys of its pattern (see `models.chunked`). Perceiver: latent j sees inputs 0..j only and the
    latent blocks are causal, so latent j is final once input j is known; it is computed once,
    at position j, with caches in the down block, the latent blocks and the up block. From
    position bottleneck_dim on, a step is only the up block for the new position. Right-aligned
    latents move with the sequence's end, so that perceiver recomputes the prefix every step.
    """

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
        if model.config.variant in ("vanilla", "chunked"):
            mask = None
            if model.config.variant == "chunked":  # the keys the chunked body reads
                positions = torch.arange(t + 1, device=x.device)
                config = model.config
                mask = chunked_mask(
                    positions[first:], positions, config.chunk_size, config.chunk_window
                )
            for block, cache in zip(model.blocks, self.caches, strict=True):
                x = block(x, q_offset=first, cache=cache, mask=mask)
        else:
            new_latents = max(0, min(t + 1, model.config.bottleneck_dim) - first)
            z = x[:, :0]
            if new_latents:
                z = model.down(x[:, :new_latents], first, new_latents, self.down_cache)
                for block, cache in zip(model.blocks, self.caches, strict=True):
                    z = block(z, q_offset=first, cache=cache)
            x = model.up(x, z, q_offset=first, cache=self.up_cache)
        self.done = t + 1
        return model.head(model.ln_f(x[:, -1]))


@torch.inference_mode()
def decode_batch(
    model: GPT,
    prompts: list[list[int]],
    max_new: int = 32,
    stop_id: int = MASK_ID,
    autocast: bool = False,
) -> list[list[int]]:
    """Greedy answers for many prompts at once; equals `decode_plain` on each prompt."""
    device = next(model.parameters()).device
    block = model.config.block_size
    lengths = torch.tensor([len(p) for p in prompts], device=device)
    total = min(int(lengths.max()) + max_new, block + 1)
    tokens = torch.full((len(prompts), total), PAD_ID, dtype=torch.long, device=device)
    for i, p in enumerate(prompts):
        tokens[i, : len(p)] = torch.tensor(p[:total], device=device)
    finished = torch.zeros(len(prompts), dtype=torch.bool, device=device)
    stepper = _Stepper(model, tokens)
    precision = torch.autocast(device.type, dtype=torch.bfloat16) if autocast else nullcontext()
    with precision:
        for t in range(int(lengths.min()) - 1, total - 1):
            predicted = stepper.logits(t).argmax(-1)
            in_prompt = t + 1 < lengths
            generated = ~in_prompt & (t + 1 < lengths + max_new)
            tokens[:, t + 1] = torch.where(
                in_prompt, tokens[:, t + 1], torch.where(finished, PAD_ID, predicted)
            )
            finished |= generated & (predicted == stop_id)
            if bool((finished | (t + 1 >= lengths + max_new - 1)).all()) and not bool(
                in_prompt.any()
            ):
                break
    rows = tokens.tolist()
    return [
        _answer(row[n : n + max_new], stop_id)
        for row, n in zip(rows, lengths.tolist(), strict=True)
    ]
