"""Shared fixtures: a tiny corpus and vocabulary, small model configs, the real data directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from knowledge_probe.data.readers import Question, question_for
from knowledge_probe.data.vocab import Vocabulary
from knowledge_probe.models.gpt import GPTConfig
from pipeline.schema import COURSE_DATA

# The models in these tests are tiny: one thread is faster than several that wait on each other,
# above all when other jobs share the machine.
torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_DATA_DIR = REPO_ROOT / COURSE_DATA
REAL_FILES = ("wiki.txt", "birth_places_train.tsv", "birth_dev.tsv", "birth_test_inputs.tsv")

PEOPLE = [
    ("Ada Lovelace", "London"),
    ("Alan Turing", "London"),
    ("Marie Curie", "Warsaw"),
    ("Niels Bohr", "Copenhagen"),
    ("Enrico Fermi", "Rome"),
    ("Lise Meitner", "Vienna"),
    ("Emmy Noether", "Erlangen"),
    ("Kurt Godel", "Brno"),
]


@pytest.fixture(scope="session")
def tiny_corpus() -> list[str]:
    """One short biography per person, in the layout of the real corpus."""
    return [
        f"{name}. {name} was born in {place}. Who was {name}? A scientist."
        for name, place in PEOPLE
    ]


@pytest.fixture(scope="session")
def tiny_vocab(tiny_corpus: list[str]) -> Vocabulary:
    return Vocabulary.from_corpus(tiny_corpus)


@pytest.fixture(scope="session")
def tiny_questions() -> list[Question]:
    return [Question(question_for(name), place) for name, place in PEOPLE]


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real cs224n files (read-only); tests that need them are skipped when they are absent."""
    if not all((REAL_DATA_DIR / name).is_file() for name in REAL_FILES):
        pytest.skip(f"real cs224n data not found at {REAL_DATA_DIR.resolve()}")
    return REAL_DATA_DIR.resolve()


@pytest.fixture
def make_config() -> Callable[..., GPTConfig]:
    """Factory for small GPT configs; keyword arguments override the tiny defaults."""

    def factory(**overrides) -> GPTConfig:
        options = {
            "vocab_size": 24,
            "block_size": 32,
            "n_layer": 2,
            "n_head": 2,
            "n_embd": 16,
            "variant": "vanilla",
            "bottleneck_dim": 8,
            # chunks far shorter than the context, so that chunk ends carry the older context
            "chunk_size": 4,
            "chunk_window": 2,
        }
        options.update(overrides)
        return GPTConfig(**options)

    return factory


@pytest.fixture(scope="session")
def sensitive() -> Callable[[nn.Module], nn.Module]:
    """Re-draw a model's weights larger (std 0.3) and put it in eval mode.

    At the standard initialisation (std 0.02, C from Xavier) the perceiver's latents are dominated
    by C and barely depend on the input, so a test that changes an input or reuses a stale cache
    would see differences near rounding error. Larger weights make every dependency visible.
    """

    def redraw(model: nn.Module) -> nn.Module:
        with torch.no_grad():
            for name, param in model.named_parameters():
                is_norm = name.startswith("ln") or ".ln" in name
                if not name.endswith("bias") and not is_norm:
                    param.normal_(0.0, 0.3)
        return model.eval()

    return redraw
