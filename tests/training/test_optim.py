"""The reference schedule (token-based warm-up and cosine floor) and the weight-decay groups."""

from __future__ import annotations

import pytest
import torch

from knowledge_probe.models.gpt import GPT, GPTConfig
from knowledge_probe.training.optim import (
    OptimConfig,
    lr_multiplier,
    make_optimizer,
    parameter_groups,
)

WARMUP = 10_240
FINAL = 200 * 2000 * 128


def test_warmup_is_linear_from_zero() -> None:
    assert lr_multiplier(0, WARMUP, FINAL) == 0.0
    assert lr_multiplier(WARMUP // 4, WARMUP, FINAL) == pytest.approx(0.25)
    assert lr_multiplier(WARMUP // 2, WARMUP, FINAL) == pytest.approx(0.5)
    assert lr_multiplier(WARMUP - 1, WARMUP, FINAL) == pytest.approx((WARMUP - 1) / WARMUP)
    assert lr_multiplier(WARMUP, WARMUP, FINAL) == 1.0


def test_cosine_reaches_the_floor_before_final_tokens_and_stays() -> None:
    midpoint = WARMUP + (FINAL - WARMUP) // 2
    assert lr_multiplier(midpoint, WARMUP, FINAL) == pytest.approx(0.5, abs=1e-6)
    # 0.5 * (1 + cos(pi * p)) falls to 0.1 at p ~ 0.795, so the floor comes early
    assert lr_multiplier(int(WARMUP + 0.7 * (FINAL - WARMUP)), WARMUP, FINAL) > 0.1
    assert lr_multiplier(int(WARMUP + 0.85 * (FINAL - WARMUP)), WARMUP, FINAL) == pytest.approx(0.1)
    for tokens in (FINAL - 1, FINAL, FINAL + 1, 3 * FINAL, 100 * FINAL):
        assert lr_multiplier(tokens, WARMUP, FINAL) == pytest.approx(0.1)


def test_floor_is_configurable() -> None:
    assert lr_multiplier(3 * FINAL, WARMUP, FINAL, floor=0.0) == pytest.approx(0.0, abs=1e-12)
    assert lr_multiplier(3 * FINAL, WARMUP, FINAL, floor=0.3) == pytest.approx(0.3)


def test_monotone_after_warmup() -> None:
    points = [WARMUP + k * (3 * FINAL) // 1000 for k in range(1001)]
    values = [lr_multiplier(t, WARMUP, FINAL) for t in points]
    assert values[0] == 1.0
    assert all(b <= a for a, b in zip(values, values[1:], strict=False))
    assert min(values) == pytest.approx(0.1)
    assert all(0.1 - 1e-12 <= v <= 1.0 for v in values)


@pytest.fixture(scope="module")
def perceiver() -> GPT:
    return GPT(
        GPTConfig(
            vocab_size=20,
            block_size=16,
            n_layer=3,
            n_head=2,
            n_embd=8,
            variant="perceiver",
            bottleneck_dim=4,
        )
    )


def groups_by_name(model: GPT, scope: str) -> tuple[set[str], set[str]]:
    names = {id(p): n for n, p in model.named_parameters()}
    decay, no_decay = parameter_groups(model, scope, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    decayed = {names[id(p)] for p in decay["params"]}
    exempt = {names[id(p)] for p in no_decay["params"]}
    assert not decayed & exempt
    assert decayed | exempt == set(names.values())
    return decayed, exempt


def test_matmul_scope_decays_only_linear_weights(perceiver: GPT) -> None:
    decayed, exempt = groups_by_name(perceiver, "matmul")
    linear_weights = {
        f"{name}.weight" for name, m in perceiver.named_modules() if isinstance(m, torch.nn.Linear)
    }
    assert decayed == linear_weights
    assert "head.weight" in decayed and "down.attn.query.weight" in decayed
    for name in (
        "tok_emb.weight",
        "pos_emb",
        "down.C",
        "ln_f.weight",
        "down.ln1.weight",
        "up.mlp.0.bias",
    ):
        assert name in exempt


def test_reference_scope_decays_everything_but_biases(perceiver: GPT) -> None:
    decayed, exempt = groups_by_name(perceiver, "reference")
    assert exempt == {n for n, _ in perceiver.named_parameters() if n.endswith("bias")}
    for name in (
        "tok_emb.weight",
        "pos_emb",
        "down.C",
        "ln_f.weight",
        "blocks.0.ln2.weight",
        "head.weight",
    ):
        assert name in decayed


def test_unknown_decay_scope_raises() -> None:
    with pytest.raises(ValueError, match="unknown decay_scope 'everything'") as info:
        OptimConfig(decay_scope="everything")
    assert "matmul" in str(info.value) and "reference" in str(info.value)


def test_non_positive_learning_rate_raises() -> None:
    with pytest.raises(ValueError, match="learning_rate"):
        OptimConfig(learning_rate=0.0)


def test_make_optimizer_uses_the_reference_settings(perceiver: GPT) -> None:
    cfg = OptimConfig(learning_rate=6e-4, decay_scope="reference")
    optimizer = make_optimizer(perceiver, cfg)
    assert isinstance(optimizer, torch.optim.AdamW)
    assert len(optimizer.param_groups) == 2
    for group in optimizer.param_groups:
        assert group["lr"] == 6e-4
        assert group["betas"] == (0.9, 0.95)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0]
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(
        list(perceiver.parameters())
    )
