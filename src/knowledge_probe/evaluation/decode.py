"""Greedy decoding: a plain one-question reference and a batched, cached fast path.

Both stop at the model's context end, so they give identical answers. The batched path walks
all rows in lockstep over absolute positions (rows still inside their prompt take the prompt's
next character), which keeps positions exact without left padding.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch

from knowledge_probe.data.vocab import MASK_ID, PAD_ID
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
    stepper = model.cached_forward(tokens)
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
