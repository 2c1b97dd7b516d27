"""The attention simulations measure what they claim to, and decide the seed's claims correctly."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge_probe.analysis.attention_exploration import (
    AttentionSpec,
    attend,
    averaging,
    copying,
    explore,
    noisy_single_head,
    noisy_small_variance,
    orthonormal,
    subspace_projection,
    two_heads,
)

SPEC = AttentionSpec(dim=32, n_keys=8, trials=40, draws=600)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_attend_is_a_convex_combination_of_values():
    keys, values = rng().standard_normal((2, 5, 4))
    weights, c = attend(rng(1).standard_normal(4), keys, values)
    assert weights.sum() == pytest.approx(1.0) and (weights > 0).all()
    np.testing.assert_allclose(c, weights @ values)


def test_orthonormal_rows():
    q = orthonormal(rng(), 10, 4, batch=3)
    np.testing.assert_allclose(
        q @ np.swapaxes(q, 1, 2), np.broadcast_to(np.eye(4), (3, 4, 4)), atol=1e-12
    )


def test_copying_error_shrinks_with_beta():
    result = copying(SPEC, rng())
    errors = result.series["error"]
    assert all(b < a for a, b in zip(errors, errors[1:], strict=False))
    assert errors[-1] < 1e-6 < errors[0] and result.verdict.passed


def test_averaging_matches_the_seeds_weight_formula():
    result = averaging(SPEC, rng())
    assert result.metrics["seed_formula_max_gap"] < 1e-12
    assert result.metrics["error_at_max_beta"] < 1e-6 and result.verdict.passed


def test_projection_works_and_the_seeds_a_transpose_does_not():
    result = subspace_projection(SPEC, rng())
    candidates = result.metrics["candidates"]
    assert candidates["A A^T"]["works"] and candidates["A A^T"]["relative_error"] < 1e-12
    assert not candidates["A^T"]["works"]
    assert candidates["A^T"]["output_dim"] == SPEC.dim // 4 != SPEC.dim
    # A^T gives the coordinates of v_a in the basis A: mapping them back with A recovers v_a
    assert candidates["A^T"]["coordinates_error"] < 1e-12
    assert result.verdict.passed is False and "wrong" in result.verdict.finding


def test_vanishing_key_variance_restores_the_average():
    result = noisy_small_variance(SPEC, rng())
    by_alpha = dict(zip(result.series["alphas"], result.series["error"], strict=True))
    assert by_alpha[1e-6] < SPEC.tolerance < by_alpha[1e-1]


def test_one_stretched_key_makes_a_single_head_swing():
    result = noisy_single_head(SPEC, rng())
    weights = np.array(result.series["weight_a"])
    assert ((weights < 0.1) | (weights > 0.9)).mean() > 0.7
    assert 0.3 < (weights > 0.9).mean() < 0.7  # both ways, about equally often
    assert result.metrics["gamma_variance"] == pytest.approx(SPEC.alpha + 0.5, rel=0.15)
    assert result.metrics["seed_formula_median_gap"] < 1e-3


def test_one_head_per_key_holds_the_average_and_the_seeds_design_does_not():
    result = two_heads(SPEC, rng())
    seed, per_key = result.metrics["seed"], result.metrics["per_key"]
    assert per_key["std"] < seed["std"] / 2
    assert per_key["at_average"] > 0.75 > 0.1 > seed["at_average"]
    assert result.metrics["better_design"] == "per_key" and result.verdict.passed
    # the per-key misses are the draws whose k_a lost its component along mu_a, as predicted
    assert 1 - per_key["at_average"] == pytest.approx(
        result.metrics["per_key_predicted_miss"], abs=0.05
    )


def test_explore_is_reproducible_and_covers_every_part():
    first, second = explore(SPEC), explore(SPEC)
    assert [e.name for e in first] == [
        "copying",
        "averaging",
        "subspace",
        "noisy_small_variance",
        "noisy_single_head",
        "two_heads",
    ]
    assert [e.summary() for e in first] == [e.summary() for e in second]


def test_spec_rejects_more_keys_than_dimensions():
    with pytest.raises(ValueError, match="n_keys"):
        AttentionSpec(dim=8, n_keys=9)
