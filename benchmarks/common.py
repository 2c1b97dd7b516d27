"""Shared by the benchmark scripts: data, models and a small table printer."""

from __future__ import annotations

import resource
import sys
from functools import cache
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from knowledge_probe.data import Vocabulary, read_corpus, read_questions  # noqa: E402
from knowledge_probe.data.synthetic import REAL_LIKE, SyntheticSpec, generate  # noqa: E402
from knowledge_probe.models import GPT, GPTConfig  # noqa: E402
from pipeline.schema import COURSE_DATA  # noqa: E402 - also registers the schema for compose

REAL_DATA = REPO / COURSE_DATA


@cache
def handout_model_settings() -> dict:
    """The handout's model settings as conf/experiment/handout.yaml composes them."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(REPO / "conf"), version_base=None):
        cfg = compose(config_name="config", overrides=["experiment=handout"])
    return {k: v for k, v in cfg.model.items() if k != "variant"}


def corpus_and_questions(real: Path = REAL_DATA):
    """The real corpus and dev questions where present, else the synthetic stand-in."""
    if (real / "wiki.txt").is_file():
        return read_corpus(real / "wiki.txt"), read_questions(real / "birth_dev.tsv"), "cs224n"
    from knowledge_probe.data import Question

    data = generate(SyntheticSpec(n_train=2000, n_dev=500, n_test=0, **REAL_LIKE))
    return data.corpus, [Question(q, p) for q, p in data.dev], "synthetic"


def handout_model(vocab: Vocabulary, variant: str, fused: bool, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    settings = handout_model_settings()
    return GPT(GPTConfig(vocab_size=len(vocab), variant=variant, fused_attention=fused, **settings))


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
