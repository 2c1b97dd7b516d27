"""The complexity benchmark counts the FLOPs the architecture implies and sees their growth."""

from __future__ import annotations

import pytest

from knowledge_probe.analysis.complexity import (
    ComplexitySpec,
    analytic_crossover,
    analytic_flops,
    crossover,
    fit_exponent,
    measure,
    summarise,
)
from knowledge_probe.models import GPTConfig

TINY = dict(vocab_size=16, n_layer=2, n_head=2, n_embd=8, bottleneck_dim=8, block_size=32)


def test_fit_exponent_recovers_powers():
    lengths = [64, 128, 256, 512]
    assert fit_exponent(lengths, [3 * x**2 for x in lengths]) == pytest.approx(2.0)
    assert fit_exponent(lengths, [5 * x for x in lengths]) == pytest.approx(1.0)


def test_crossover_is_the_start_of_the_final_cheaper_run():
    lengths = [1, 2, 3, 4]
    assert crossover(lengths, [5, 5, 5, 5], [6, 4, 6, 4]) == 4
    assert crossover(lengths, [5, 5, 5, 5], [4, 4, 4, 4]) == 1
    assert crossover(lengths, [5, 5, 5, 5], [6, 6, 6, 6]) is None


@pytest.mark.parametrize("variant", ["vanilla", "perceiver", "chunked"])
def test_counted_flops_equal_the_analytic_count(variant):
    config = GPTConfig(**TINY, variant=variant, chunk_size=4, chunk_window=2)
    # 8: up to w + 2c = 10 the chunked body runs one dense mask; 16 and 48: chunk by chunk
    rows = measure(config, ComplexitySpec(lengths=(8, 16, 48), fit_points=2))
    for row in rows:
        assert row["flops"] == row["analytic_flops"] == 3 * analytic_flops(config, row["length"])
        assert row["seconds"] > 0 and row["peak_bytes"] > 0


def test_vanilla_grows_quadratically_the_perceiver_and_chunked_linearly():
    spec = ComplexitySpec(lengths=(128, 256, 512, 1024), fit_points=3)
    rows = [
        r
        for v in ("vanilla", "perceiver", "chunked")
        for r in measure(GPTConfig(**TINY, variant=v, chunk_size=8), spec)
    ]
    result = summarise(rows, spec, GPTConfig(**TINY))
    flops = {v: e["flops"] for v, e in result["exponents"].items()}
    assert flops["vanilla"] == pytest.approx(2, abs=0.15)
    assert flops["perceiver"] == pytest.approx(1, abs=0.1)
    assert flops["chunked"] == pytest.approx(1, abs=0.05)
    # the fused kernel keeps no L x L scores, so memory grows about linearly for both
    assert result["exponents"]["vanilla"]["peak_bytes"] < 1.3
    assert result["exponents"]["perceiver"]["peak_bytes"] < 1.25
    assert result["crossover"]["flops"] == 128 and result["flops_vs_analytic_max_gap"] == 0
    assert result["verdict"]["passed"] is True


def test_explicit_attention_memory_grows_quadratically_and_its_flops_are_counted_the_same():
    spec = ComplexitySpec(lengths=(128, 256, 512, 1024), fit_points=3)
    fused = measure(GPTConfig(**TINY), spec)
    explicit = measure(GPTConfig(**TINY, fused_attention=False), spec)
    lengths = list(spec.lengths)[1:]
    # the explicit path keeps L x L scores for the backward pass
    assert fit_exponent(lengths, [r["peak_bytes"] for r in explicit][1:]) > 1.6
    assert [r["flops"] for r in explicit] == [r["flops"] for r in fused]


def test_analytic_crossover_sits_where_the_counts_cross():
    config = GPTConfig(**TINY)
    length = analytic_crossover(config, 256)
    perceiver = GPTConfig(**TINY, variant="perceiver")
    assert analytic_flops(perceiver, length) < analytic_flops(config, length)
    assert analytic_flops(perceiver, length - 1) >= analytic_flops(config, length - 1)


def test_spec_validation():
    with pytest.raises(ValueError, match="increasing"):
        ComplexitySpec(lengths=(128, 64))
    with pytest.raises(ValueError, match="fit_points"):
        ComplexitySpec(lengths=(64, 128), fit_points=3)
