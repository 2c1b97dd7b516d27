"""Decoding the dev questions: plain one-at-a-time greedy decoding vs batched with a cache.

    python benchmarks/decode_speed.py [--questions 500]

Both paths decode the same model (handout sizes, briefly trained so that it closes its answers
like a finetuned one) and must give identical answers; the table shows time and the ratio. The
plain path is the reference's: one question at a time, explicit softmax attention, fp32, every
character recomputing the whole sequence.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import corpus_and_questions, handout_model, print_table  # noqa: E402

from knowledge_probe.data import Vocabulary  # noqa: E402
from knowledge_probe.evaluation import predict  # noqa: E402
from knowledge_probe.models.gpt import VARIANTS  # noqa: E402
from knowledge_probe.training import FinetuneDataModule, OptimConfig, fit  # noqa: E402


def quick_finetune(model, vocab, questions, steps: int = 30) -> None:
    """A few finetuning steps (the stages' `fit`), so answers end with the mask as a finetuned
    model's do."""
    datamodule = FinetuneDataModule(
        questions, vocab, model.config.block_size, 64, shuffle=True, seed=0
    )
    fit(
        model,
        datamodule,
        OptimConfig(learning_rate=1e-3, final_tokens=10**9),
        max_epochs=10**6,
        trainer_options={
            "precision": "bf16-mixed",
            "max_steps": steps,
            "enable_progress_bar": False,
        },
        packing=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=512)
    args = parser.parse_args()
    corpus, dev, source = corpus_and_questions()
    dev = dev[: args.questions]
    vocab = Vocabulary.from_corpus(corpus)
    rows = []
    for variant in VARIANTS:
        model = handout_model(vocab, variant, fused=True)
        quick_finetune(model, vocab, dev)
        timings, answers = {}, {}
        for path in ("plain", "batched"):
            model.set_fused_attention(
                path == "batched"
            )  # the plain path is the reference's explicit softmax
            start = time.perf_counter()
            answers[path] = predict(
                model, vocab, dev, plain=path == "plain", batch_size=args.batch_size, progress=False
            )
            timings[path] = time.perf_counter() - start
        identical = answers["plain"] == answers["batched"]
        closed = sum(len(a) < 32 for a in answers["batched"])
        rows.append(
            [
                variant,
                f"{timings['plain']:.2f}",
                f"{timings['batched']:.3f}",
                f"{timings['plain'] / timings['batched']:.0f}x",
                identical,
                f"{closed}/{len(dev)}",
            ]
        )
    print(
        f"\ndecoding {len(dev)} {source} dev questions, handout-size model, {torch.get_num_threads()} threads\n"
    )
    print_table(
        ["variant", "plain s", "batched s", "speed-up", "identical answers", "answers closed"], rows
    )


if __name__ == "__main__":
    main()
