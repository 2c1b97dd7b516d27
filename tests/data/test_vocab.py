"""The vocabulary: reserved ids first, sorted characters after, stable fingerprint, strict encoding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from knowledge_probe.data.errors import UnknownCharacterError
from knowledge_probe.data.readers import read_corpus
from knowledge_probe.data.vocab import MASK, MASK_ID, PAD, PAD_ID, Vocabulary


def test_reserved_symbols_come_first_then_sorted_characters() -> None:
    vocab = Vocabulary.from_corpus(["cab", "b a"])
    assert PAD == "\u25a1" and MASK == "\u2047"
    assert (PAD_ID, MASK_ID) == (0, 1)
    assert vocab.itos[0] == "\u25a1"
    assert vocab.itos[1] == "\u2047"
    assert vocab.itos[2:] == sorted({"\n", " ", "a", "b", "c"})
    assert len(vocab) == 7
    assert all(vocab.stoi[c] == i for i, c in enumerate(vocab.itos))


def test_reserved_symbols_in_the_input_are_not_duplicated() -> None:
    vocab = Vocabulary(["x", PAD, MASK, "a"])
    assert vocab.itos == [PAD, MASK, "a", "x"]


def test_encode_decode_roundtrip(tiny_vocab: Vocabulary, tiny_corpus: list[str]) -> None:
    for doc in tiny_corpus:
        ids = tiny_vocab.encode(doc)
        assert len(ids) == len(doc)
        assert all(isinstance(i, int) and 2 <= i < len(tiny_vocab) for i in ids)
        assert tiny_vocab.decode(ids) == doc
    tensor = tiny_vocab.encode_tensor(tiny_corpus[0])
    assert tensor.dtype == torch.long
    assert tiny_vocab.decode(tensor) == tiny_corpus[0]
    assert tiny_vocab.decode([PAD_ID, MASK_ID]) == PAD + MASK


def test_unknown_characters_raise_and_are_listed(tiny_vocab: Vocabulary) -> None:
    with pytest.raises(UnknownCharacterError) as info:
        tiny_vocab.encode("Ada was born in Zürich ☃ ☃")
    assert info.value.characters == {"ü", "☃", "Z"} - set(tiny_vocab.itos)
    assert "ü" in str(info.value) and "U+00FC" in str(info.value)
    assert "U+2603" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_fingerprint_is_stable_and_distinguishes_vocabularies(tiny_corpus: list[str]) -> None:
    first = Vocabulary.from_corpus(tiny_corpus)
    second = Vocabulary.from_corpus(list(reversed(tiny_corpus)))
    assert first == second
    assert first.fingerprint == second.fingerprint
    assert len(first.fingerprint) == 16 and int(first.fingerprint, 16) >= 0
    other = Vocabulary.from_corpus([*tiny_corpus, "Zürich"])
    assert other != first
    assert other.fingerprint != first.fingerprint


def test_fingerprint_is_the_documented_digest() -> None:
    """Fixed value: the fingerprint must not depend on the process (e.g. hash randomisation)."""
    import hashlib

    vocab = Vocabulary(["a", "b"])
    expected = hashlib.sha256("\n".join([PAD, MASK, "a", "b"]).encode("utf-8")).hexdigest()[:16]
    assert vocab.fingerprint == expected


def test_save_load_roundtrip(tmp_path: Path, tiny_vocab: Vocabulary) -> None:
    path = tmp_path / "nested" / "vocab.json"
    tiny_vocab.save(path)
    loaded = Vocabulary.load(path)
    assert loaded == tiny_vocab
    assert loaded.itos == tiny_vocab.itos
    assert loaded.fingerprint == tiny_vocab.fingerprint
    assert json.loads(path.read_text(encoding="utf-8"))["fingerprint"] == tiny_vocab.fingerprint


def test_load_refuses_an_edited_file(tmp_path: Path, tiny_vocab: Vocabulary) -> None:
    path = tmp_path / "vocab.json"
    tiny_vocab.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["itos"] = list(reversed(data["itos"]))
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="inconsistent"):
        Vocabulary.load(path)


def test_real_corpus_gives_256_symbols(real_data_dir: Path) -> None:
    vocab = Vocabulary.from_corpus(read_corpus(real_data_dir / "wiki.txt"))
    assert len(vocab) == 256
    assert vocab.itos[:2] == [PAD, MASK]
    assert vocab.itos[2:] == sorted(vocab.itos[2:])
    assert "\n" in vocab.stoi
