"""The model's cached forward gives, position after position, the logits of a full forward pass."""

from __future__ import annotations

import pytest
import torch

from knowledge_probe.data.vocab import PAD_ID
from knowledge_probe.models.gpt import GPT, GPTConfig

# "perceiver-right": the perceiver with right-aligned latents
VARIANTS = ["vanilla", "perceiver", "perceiver-right", "chunked"]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("bottleneck_dim", [1, 5, 16])
@pytest.mark.parametrize("start", [0, 3, 10])
@pytest.mark.parametrize("position", ["learned", "rotary"])
def test_cached_step_logits_equal_full_forward(
    sensitive, variant: str, bottleneck_dim: int, start: int, position: str
) -> None:
    """Fill positions one at a time, as decoding does; every step's logits match a full forward pass.

    Comparing logits rather than argmax answers catches a stale cache even when the greedy
    answer happens not to change.
    """
    body, _, alignment = variant.partition("-")
    torch.manual_seed(bottleneck_dim + start)
    cfg = GPTConfig(
        vocab_size=12,
        block_size=16,
        n_layer=3,
        n_head=2,
        n_embd=16,
        variant=body,
        latent_alignment=alignment or "left",
        bottleneck_dim=bottleneck_dim,
        chunk_size=4,
        chunk_window=bottleneck_dim,
        position=position,
    )
    model = sensitive(GPT(cfg))
    generator = torch.Generator().manual_seed(start)
    final = torch.randint(2, 12, (3, 16), generator=generator)
    tokens = torch.full_like(final, PAD_ID)
    tokens[:, : start + 1] = final[:, : start + 1]
    stepper = model.cached_forward(tokens)
    with torch.no_grad():
        for t in range(start, 15):
            step = stepper.logits(t)
            tokens[:, t + 1] = final[:, t + 1]  # revealed after the step, as a generated token
            full, _ = model(final[:, : t + 1])
            torch.testing.assert_close(step, full[:, -1], atol=1e-4, rtol=1e-5)
