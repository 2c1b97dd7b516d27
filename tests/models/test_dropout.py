"""Dropout with 16-bit masks: torch's distribution (p rounded to 1/65536), its scaling and
gradients, reproducible from the seed, and torch's own dropout when switched off."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from knowledge_probe.models.dropout import LEVELS, Dropout, keep_mask, rounded_probability
from knowledge_probe.models.gpt import GPT, VARIANTS

SAMPLES = 2**22


@pytest.mark.parametrize("p", [0.05, 0.1, 0.3, 0.5, 0.9])
def test_each_of_the_four_parts_of_a_draw_drops_at_the_rate(p: float) -> None:
    """Every 16-bit part of the 64-bit draws (a part whose top bit were always clear, as with
    non-negative draws, would drop at the wrong rate) drops with the rounded probability."""
    assert abs(rounded_probability(p) - p) <= 0.5 / LEVELS
    torch.manual_seed(0)
    dropped = (~keep_mask(torch.Size([SAMPLES]), p)).view(-1, 4).double().mean(dim=0)
    sigma = math.sqrt(p * (1 - p) / (SAMPLES / 4))
    assert (dropped - rounded_probability(p)).abs().max() < 5 * sigma, dropped


def test_neighbouring_elements_are_independent() -> None:
    """Drops of adjacent elements (which share a 64-bit draw) are uncorrelated."""
    torch.manual_seed(1)
    dropped = (~keep_mask(torch.Size([SAMPLES]), 0.5)).double()
    both = (dropped[:-1] * dropped[1:]).mean()
    assert abs(float(both) - 0.25) < 5 * math.sqrt(0.25 * 0.75 / SAMPLES)


def test_kept_elements_are_scaled_so_the_expectation_is_the_input() -> None:
    dropout = Dropout(0.1).train()
    x = torch.rand(64, 256) + 1.0  # no zeros, so a zero output is a drop
    torch.manual_seed(2)
    out = dropout(x)
    kept = out != 0
    scale = 1 / (1 - rounded_probability(0.1))
    torch.testing.assert_close(out[kept], x[kept] * scale, rtol=0, atol=1e-6)
    assert 0.85 < kept.double().mean() < 0.95


def test_gradient_passes_through_the_kept_elements_only() -> None:
    dropout = Dropout(0.3).train()
    x = (torch.rand(32, 64) + 1.0).requires_grad_()
    torch.manual_seed(3)
    out = dropout(x)
    out.sum().backward()
    scale = 1 / (1 - rounded_probability(0.3))
    torch.testing.assert_close(x.grad, (out != 0).float() * scale)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_output_keeps_the_input_dtype_and_shape(dtype: torch.dtype) -> None:
    x = torch.ones(3, 5, 7, dtype=dtype)
    out = Dropout(0.2).train()(x)
    assert out.dtype == dtype and out.shape == x.shape


def test_same_seed_same_masks_and_another_seed_others() -> None:
    def masks(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)
        return keep_mask(torch.Size([4096]), 0.2)

    assert torch.equal(masks(4), masks(4))
    assert not torch.equal(masks(4), masks(5))


def test_switched_off_or_evaluating_it_is_torchs_dropout() -> None:
    x = torch.randn(16, 128)
    off = Dropout(0.2).train()
    off.int16_masks = False
    torch.manual_seed(6)
    mine = off(x)
    torch.manual_seed(6)
    assert torch.equal(mine, F.dropout(x, 0.2, training=True))
    assert torch.equal(Dropout(0.2).eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)


def test_the_model_switch_reaches_every_dropout(make_config) -> None:
    for variant in VARIANTS:
        model = GPT(make_config(variant=variant))
        dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
        assert dropouts and all(isinstance(m, Dropout) and m.int16_masks for m in dropouts)
        model.set_int16_dropout(False)
        assert not any(m.int16_masks for m in dropouts)
