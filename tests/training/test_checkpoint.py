"""Checkpoints round-trip exactly and refuse other models, other vocabularies and broken files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from knowledge_probe.data.vocab import Vocabulary
from knowledge_probe.models.gpt import GPT
from knowledge_probe.training.checkpoint import CheckpointError, load_model, save_model


@pytest.fixture
def saved(tmp_path: Path, make_config, tiny_vocab: Vocabulary) -> tuple[Path, GPT]:
    torch.manual_seed(0)
    model = GPT(make_config(vocab_size=len(tiny_vocab), variant="perceiver", n_layer=3)).eval()
    path = tmp_path / "models" / "model.ckpt"
    save_model(path, model, tiny_vocab.fingerprint, {"stage": "pretrain", "loss": 1.5})
    return path, model


def test_round_trip_gives_identical_logits(saved, make_config, tiny_vocab: Vocabulary) -> None:
    path, model = saved
    assert [p.name for p in path.parent.iterdir()] == ["model.ckpt"]
    loaded, meta = load_model(path, vocab_fingerprint=tiny_vocab.fingerprint)
    loaded.eval()
    assert meta == {"stage": "pretrain", "loss": 1.5}
    assert loaded.config == model.config
    idx = torch.randint(0, len(tiny_vocab), (2, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(loaded(idx)[0], model(idx)[0])
    for (name, a), (_, b) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_runtime_switches_of_the_requested_config_win(saved, make_config, tiny_vocab) -> None:
    path, model = saved
    config = make_config(
        vocab_size=len(tiny_vocab),
        variant="perceiver",
        n_layer=3,
        fused_attention=False,
        attn_pdrop=0.0,
    )
    loaded, _ = load_model(path, config=config, vocab_fingerprint=tiny_vocab.fingerprint)
    assert loaded.config == config
    idx = torch.randint(0, len(tiny_vocab), (1, 20), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(idx)[0], model(idx)[0], atol=1e-5, rtol=0)


def test_different_variant_is_refused(saved, make_config, tiny_vocab) -> None:
    path, _ = saved
    config = make_config(vocab_size=len(tiny_vocab), variant="vanilla", n_layer=3)
    with pytest.raises(
        CheckpointError, match="variant: checkpoint 'perceiver' vs requested 'vanilla'"
    ) as info:
        load_model(path, config=config)
    assert str(path) in str(info.value)


def test_different_shape_is_refused(saved, make_config, tiny_vocab) -> None:
    path, _ = saved
    config = make_config(vocab_size=len(tiny_vocab), variant="perceiver", n_layer=3, n_embd=32)
    with pytest.raises(CheckpointError, match="n_embd: checkpoint 16 vs requested 32"):
        load_model(path, config=config)


def test_different_vocabulary_is_refused(saved, tiny_corpus, tiny_vocab) -> None:
    path, _ = saved
    other = Vocabulary.from_corpus([*tiny_corpus, "Zürich"])
    with pytest.raises(CheckpointError, match="vocabulary") as info:
        load_model(path, vocab_fingerprint=other.fingerprint)
    assert tiny_vocab.fingerprint in str(info.value)
    assert other.fingerprint in str(info.value)


def test_truncated_file_is_refused(saved) -> None:
    path, _ = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_random_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "noise.ckpt"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_model(path)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.ckpt"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError):
        load_model(path)


def test_other_torch_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not a knowledge-probe checkpoint"):
        load_model(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "missing.ckpt"
    with pytest.raises(CheckpointError, match="not found") as info:
        load_model(path)
    assert str(path) in str(info.value)
