"""The GPT: parameter counts, fused vs explicit attention, causality, loss, config checks, init."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from knowledge_probe.data.vocab import PAD_ID
from knowledge_probe.models.attention import Attention, RotaryEmbedding, causal_mask
from knowledge_probe.models.gpt import GPT, GPTConfig

VARIANTS = ["vanilla", "perceiver", "chunked"]


@pytest.mark.parametrize(
    "variant, expected", [("vanilla", 3_323_392), ("perceiver", 3_331_584), ("chunked", 3_323_392)]
)
def test_parameter_count_of_the_reference_size(variant: str, expected: int) -> None:
    config = GPTConfig(
        vocab_size=256, block_size=128, n_layer=4, n_head=8, n_embd=256, variant=variant
    )
    assert config.bottleneck_dim == 32
    model = GPT(config)
    assert model.num_parameters() == expected
    assert sum(p.numel() for p in model.parameters()) == expected


def build(make_config: Callable[..., GPTConfig], seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    return GPT(make_config(**overrides)).eval()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("length", [3, 8, 20, 32])
@pytest.mark.parametrize("init", ["standard", "large"])
def test_fused_and_explicit_attention_agree(
    make_config, sensitive, variant: str, length: int, init: str
) -> None:
    fused = build(make_config, variant=variant, n_layer=3, bottleneck_dim=8)
    if init == "large":  # peaked attention, so a wrong mask could not hide behind uniform weights
        fused = sensitive(fused)
    plain = GPT(
        make_config(variant=variant, n_layer=3, bottleneck_dim=8, fused_attention=False)
    ).eval()
    plain.load_state_dict(fused.state_dict())
    assert all(not m.fused for m in plain.modules() if isinstance(m, Attention))
    assert all(m.fused for m in fused.modules() if isinstance(m, Attention))
    idx = torch.randint(0, 24, (3, length), generator=torch.Generator().manual_seed(length))
    with torch.no_grad():
        a, _ = fused(idx)
        b, _ = plain(idx)
        fused.set_fused_attention(False)
        c, _ = fused(idx)
    assert a.shape == (3, length, 24)
    rtol = 0 if init == "standard" else 1e-5
    torch.testing.assert_close(a, b, atol=1e-5, rtol=rtol)
    torch.testing.assert_close(a, c, atol=1e-5, rtol=rtol)


@pytest.mark.parametrize("fused", [True, False])
def test_attention_with_offset_matches_full_attention(fused: bool) -> None:
    """A query block at an offset (as with a key/value cache) equals the same rows of full attention."""
    torch.manual_seed(0)
    attn = Attention(16, 2, 0.0, 0.0, fused=fused).eval()
    x = torch.randn(2, 10, 16)
    with torch.no_grad():
        full = attn(x, x)
        for offset in (0, 3, 9):
            part = attn(x[:, offset:], x, q_offset=offset)
            torch.testing.assert_close(part, full[:, offset:], atol=1e-6, rtol=0)


def test_causal_mask_is_upper_left_aligned() -> None:
    mask = causal_mask(3, 5, 0, torch.device("cpu"))
    assert mask.tolist() == [
        [True, False, False, False, False],
        [True, True, False, False, False],
        [True, True, True, False, False],
    ]
    shifted = causal_mask(2, 5, 3, torch.device("cpu"))
    assert shifted.tolist() == [[True] * 4 + [False], [True] * 5]


BODIES = [("vanilla", "left"), ("perceiver", "left"), ("perceiver", "right"), ("chunked", "left")]


@pytest.mark.parametrize("variant, alignment", BODIES)
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("init", ["standard", "large"])
@pytest.mark.parametrize("position", ["learned", "rotary"])
def test_changing_a_token_never_changes_earlier_logits(
    make_config, sensitive, variant: str, alignment: str, fused: bool, init: str, position: str
) -> None:
    model = build(
        make_config,
        variant=variant,
        bottleneck_dim=8,
        fused_attention=fused,
        position=position,
        latent_alignment=alignment,
        chunk_size=4,
        chunk_window=8,
    )
    if init == "large":
        model = sensitive(model)
    idx = torch.randint(2, 24, (2, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        base, _ = model(idx)
        for t in (0, 1, 5, 7, 8, 12, 20, 31):
            changed = idx.clone()
            changed[:, t] = (changed[:, t] - 2 + 1) % 22 + 2
            logits, _ = model(changed)
            assert torch.equal(logits[:, :t], base[:, :t]), f"token {t} changed earlier logits"
            assert not torch.allclose(logits[:, t], base[:, t])
            if init == "standard" or t == 31:
                continue
            # with weights large enough to see every dependency: where does the change reach?
            later = (logits[:, t + 1 :] - base[:, t + 1 :]).abs().amax(dim=(0, 2)) > 1e-3
            positions = torch.arange(t + 1, 32)
            # chunked: later positions of its chunk, and every later chunk through the latents
            if variant in ("vanilla", "chunked") or (alignment == "left" and t < 8):
                expected = torch.ones_like(later)
            elif alignment == "left":  # past the bottleneck an input reaches no latent
                expected = torch.zeros_like(later)
            else:  # right-aligned latents sit on positions 24..31 and see every input before
                expected = positions >= 24
            assert torch.equal(later, expected), f"token {t} reaches {later.tolist()}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_loss_ignores_pad_targets(make_config, variant: str) -> None:
    model = build(make_config, variant=variant)
    idx = torch.randint(2, 24, (2, 16), generator=torch.Generator().manual_seed(3))
    targets = torch.full_like(idx, PAD_ID)
    targets[1, 6] = 5
    logits, loss = model(idx, targets)
    expected = F.cross_entropy(logits[1, 6][None], torch.tensor([5]))
    torch.testing.assert_close(loss, expected)
    # several targets: the mean over the non-pad positions only
    targets[0, 2] = 7
    logits, loss = model(idx, targets)
    manual = (
        F.cross_entropy(logits[1, 6][None], torch.tensor([5]))
        + F.cross_entropy(logits[0, 2][None], torch.tensor([7]))
    ) / 2
    torch.testing.assert_close(loss, manual)
    _, no_loss = model(idx)
    assert no_loss is None


def test_sequence_longer_than_context_is_refused(make_config) -> None:
    model = build(make_config, block_size=16)
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 17, dtype=torch.long))


@pytest.mark.parametrize(
    "overrides, fragments",
    [
        ({"variant": "mamba"}, ["mamba", "vanilla", "perceiver"]),
        ({"variant": "perceiver", "bottleneck_dim": 33}, ["bottleneck_dim", "block_size=32", "33"]),
        (
            {"variant": "perceiver", "bottleneck_dim": 0},
            ["bottleneck_dim", "[1, block_size=32]", "0"],
        ),
        ({"n_embd": 30, "n_head": 4}, ["n_embd", "30", "n_head", "4", "divisible"]),
        ({"variant": "perceiver", "n_layer": 1}, ["n_layer", "2"]),
        ({"vocab_size": 0}, ["vocab_size"]),
        ({"latent_alignment": "middle"}, ["middle", "left", "right"]),
    ],
)
def test_config_validation(make_config, overrides: dict, fragments: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        make_config(**overrides)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_right_aligned_latents_follow_each_examples_end(make_config, sensitive) -> None:
    """A padded example gives the same logits on its tokens as the same example unpadded."""
    model = sensitive(build(make_config, variant="perceiver", latent_alignment="right"))
    idx = torch.randint(2, 24, (1, 20), generator=torch.Generator().manual_seed(4))
    padded = torch.cat([idx, torch.full((1, 12), PAD_ID)], dim=1)
    with torch.no_grad():
        alone, _ = model(idx)
        in_batch, _ = model(padded)
    torch.testing.assert_close(in_batch[:, :20], alone)
    assert model.down.C is None  # queries come from the input at the aligned positions
    left = build(make_config, variant="perceiver")
    assert left.num_parameters() - model.num_parameters() == 8 * 16


def test_right_aligned_loss_skips_positions_before_the_latents(make_config) -> None:
    model = build(make_config, variant="perceiver", latent_alignment="right")
    idx = torch.randint(2, 24, (2, 32), generator=torch.Generator().manual_seed(5))
    targets = torch.randint(2, 24, (2, 32), generator=torch.Generator().manual_seed(6))
    logits, loss = model(idx, targets)
    expected = F.cross_entropy(logits[:, 24:].reshape(-1, 24), targets[:, 24:].reshape(-1))
    torch.testing.assert_close(loss, expected)


def test_bottleneck_dim_is_ignored_by_vanilla(make_config) -> None:
    wide = GPT(make_config(variant="vanilla", bottleneck_dim=1000))
    assert wide.num_parameters() == GPT(make_config(variant="vanilla")).num_parameters()
    assert not hasattr(wide, "down") and not hasattr(wide, "up")


def test_initialisation() -> None:
    torch.manual_seed(0)
    model = GPT(
        GPTConfig(
            vocab_size=64, block_size=32, n_layer=2, n_head=4, n_embd=128, variant="perceiver"
        )
    )
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 2 * (4 + 2) + 1  # down and up blocks, then the head
    weights = torch.cat([m.weight.flatten() for m in linears])
    assert abs(weights.std().item() - 0.02) < 0.001
    assert abs(weights.mean().item()) < 0.001
    for m in linears:
        assert abs(m.weight.std().item() - 0.02) < 0.002
        if m.bias is not None:
            assert torch.count_nonzero(m.bias) == 0
    assert model.head.bias is None
    assert abs(model.tok_emb.weight.std().item() - 0.02) < 0.002
    norms = [m for m in model.modules() if isinstance(m, nn.LayerNorm)]
    assert len(norms) == 2 * 2 + 1
    for m in norms:
        assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
    assert model.pos_emb.shape == (1, 32, 128)
    assert torch.count_nonzero(model.pos_emb) == 0
    assert model.down.C.shape == (1, 32, 128)
    assert model.down.C.std().item() > 0


def test_config_architecture_omits_runtime_switches(make_config) -> None:
    config = make_config(fused_attention=False, attn_pdrop=0.3)
    arch = config.architecture()
    assert "fused_attention" not in arch and "attn_pdrop" not in arch
    assert arch["variant"] == "vanilla" and arch["n_embd"] == 16
    assert GPTConfig(**config.to_dict()) == config


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("length", [3, 8, 32])
def test_fused_and_explicit_attention_agree_on_cuda(make_config, variant: str, length: int) -> None:
    fused = build(make_config, variant=variant, n_layer=3, bottleneck_dim=8).cuda()
    idx = torch.randint(0, 24, (3, length), generator=torch.Generator().manual_seed(length)).cuda()
    with torch.no_grad():
        a, _ = fused(idx)
        fused.set_fused_attention(False)
        b, _ = fused(idx)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=0)


def test_rotary_attention_depends_only_on_relative_positions() -> None:
    """Rotating queries and keys by positions (i, j) gives scores that depend on i - j only."""
    rotary = RotaryEmbedding(head_dim=8, max_positions=64)
    generator = torch.Generator().manual_seed(0)
    q, k = (
        torch.randn(1, 1, 1, 8, generator=generator),
        torch.randn(1, 1, 1, 8, generator=generator),
    )
    scores = {
        (i, j): float((rotary(q, i) * rotary(k, j)).sum()) for i, j in [(5, 2), (20, 17), (40, 37)]
    }
    assert max(scores.values()) - min(scores.values()) < 1e-4
    assert abs(float((rotary(q, 5) * rotary(k, 5)).sum()) - scores[(5, 2)]) > 1e-3
    torch.testing.assert_close(rotary(q, 0), q)  # position 0 is no rotation


def test_rotary_model_has_no_position_table(make_config) -> None:
    learned = build(make_config, position="learned")
    rotary = build(make_config, position="rotary")
    assert rotary.pos_emb is None
    assert learned.num_parameters() - rotary.num_parameters() == 32 * 16  # block x width
    assert "position" in rotary.config.architecture()
    with pytest.raises(ValueError, match="allowed: learned, rotary"):
        make_config(position="sinusoidal")
