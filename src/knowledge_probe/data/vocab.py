"""Character vocabulary: pad and mask first, then the sorted characters of the pretraining corpus."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import torch

from knowledge_probe.data.errors import DataFormatError, UnknownCharacterError
from knowledge_probe.io import write_json

PAD = "\u25a1"  # □
MASK = "\u2047"  # ⁇
PAD_ID, MASK_ID = 0, 1


class Vocabulary:
    """Maps characters to ids; the fingerprint lets checkpoints refuse a different vocabulary."""

    def __init__(self, characters: Iterable[str]):
        chars = sorted(set(characters) - {PAD, MASK})
        self.itos: list[str] = [PAD, MASK, *chars]
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_corpus(cls, documents: Iterable[str]) -> Vocabulary:
        """Characters of the corpus file as a whole, so the newline counts, as in the reference."""
        chars: set[str] = {"\n"}
        for doc in documents:
            chars.update(doc)
        return cls(chars)

    def __len__(self) -> int:
        return len(self.itos)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.itos == other.itos

    @property
    def fingerprint(self) -> str:
        """Stable across processes and machines: SHA-256 of the ordered symbol list."""
        return hashlib.sha256("\n".join(self.itos).encode("utf-8")).hexdigest()[:16]

    def missing(self, text: str) -> set[str]:
        return {c for c in set(text) if c not in self.stoi}

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[c] for c in text]
        except KeyError:
            raise UnknownCharacterError(self.missing(text), repr(text[:80])) from None

    def encode_tensor(self, text: str) -> torch.Tensor:
        return torch.tensor(self.encode(text), dtype=torch.long)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.itos[int(i)] for i in ids)

    def save(self, path: str | Path) -> None:
        write_json(path, {"itos": self.itos, "fingerprint": self.fingerprint})

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """Read a saved vocabulary; any damage is a DataFormatError that says how to rebuild it."""
        fix = "rerun `dvc repro prepare` to rebuild it"
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            itos = data["itos"]
            vocab = cls(itos)
        except FileNotFoundError:
            raise DataFormatError(path, None, "vocabulary not found", fix) from None
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise DataFormatError(
                path, None, f"damaged vocabulary file ({type(err).__name__}: {err})", fix
            ) from None
        if vocab.itos != itos or vocab.fingerprint != data.get("fingerprint", vocab.fingerprint):
            raise DataFormatError(
                path, None, "vocabulary file is inconsistent (edited by hand?)", fix
            )
        return vocab
