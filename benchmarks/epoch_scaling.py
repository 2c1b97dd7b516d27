"""How pretraining time per epoch grows with the corpus: 1x, 4x and 16x the synthetic corpus.

    python benchmarks/epoch_scaling.py [--scales 1 4 16]

Fast path, default-experiment model (4 layers, 4 heads, 128 wide). Time per epoch should grow
linearly; the last column divides by the 1x time and the scale.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pytorch_lightning as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table  # noqa: E402

from knowledge_probe.data import Vocabulary  # noqa: E402
from knowledge_probe.data.synthetic import REAL_LIKE, SyntheticSpec, generate  # noqa: E402
from knowledge_probe.models import GPT, GPTConfig  # noqa: E402
from knowledge_probe.training import OptimConfig, PretrainDataModule, fit  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--variant", default="vanilla")
    args = parser.parse_args()
    base = SyntheticSpec(n_train=600, n_dev=150, n_test=150, **REAL_LIKE)
    rows, first = [], None
    for scale in args.scales:
        data = generate(
            SyntheticSpec(
                n_train=base.n_train * scale,
                n_dev=base.n_dev * scale,
                n_test=base.n_test * scale,
                **REAL_LIKE,
            )
        )
        vocab = Vocabulary.from_corpus(data.corpus)
        pl.seed_everything(0, verbose=False)
        model = GPT(GPTConfig(vocab_size=len(vocab), variant=args.variant))
        datamodule = PretrainDataModule(data.corpus, vocab, 128, 128, batched=True, shuffle=True)
        start = time.perf_counter()
        result = fit(
            model,
            datamodule,
            OptimConfig(final_tokens=10**9),
            max_epochs=1,
            trainer_options={"precision": "bf16-mixed", "enable_progress_bar": False},
        )
        seconds = time.perf_counter() - start
        first = first or (seconds, scale)
        rows.append(
            [
                f"{scale}x",
                len(data.corpus),
                f"{result.tokens:,}",
                f"{seconds:.2f}",
                f"{result.tokens / seconds:,.0f}",
                f"{seconds / first[0] / (scale / first[1]):.2f}",
            ]
        )
    print(f"\npretraining time per epoch vs corpus size ({args.variant}, fast path)\n")
    print_table(
        ["corpus", "documents", "tokens", "seconds/epoch", "tokens/s", "time / (1x time * scale)"],
        rows,
    )


if __name__ == "__main__":
    main()
