"""Shared by the benchmark scripts: data, models and a small table printer."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import torch

from knowledge_probe.data import Vocabulary, read_corpus, read_questions
from knowledge_probe.data.synthetic import SyntheticSpec, generate
from knowledge_probe.models import GPT, GPTConfig

REAL_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cs224n"
HANDOUT = dict(block_size=128, n_layer=4, n_head=8, n_embd=256)


def corpus_and_questions(real: Path = REAL_DATA):
    """The real corpus and dev questions where present, else the synthetic stand-in."""
    if (real / "wiki.txt").is_file():
        return read_corpus(real / "wiki.txt"), read_questions(real / "birth_dev.tsv"), "cs224n"
    from knowledge_probe.data import Question

    data = generate(SyntheticSpec(n_train=2000, n_dev=500, n_test=0))
    return data.corpus, [Question(q, p) for q, p in data.dev], "synthetic"


def handout_model(vocab: Vocabulary, variant: str, fused: bool, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=len(vocab), variant=variant, fused_attention=fused, **HANDOUT))


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_table(headers: list[str], rows: list[list], file=sys.stdout) -> None:
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print(" | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)), file=file)
        if n == 0:
            print("-+-".join("-" * w for w in widths), file=file)
