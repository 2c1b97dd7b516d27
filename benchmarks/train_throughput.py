"""Training throughput, the reference's way (`fast=off`) vs the fast way (the defaults), for every
body at handout sizes.

    python benchmarks/train_throughput.py [--steps 8] [--rounds 3] [--batch-size 128]
        [--variants vanilla perceiver chunked] [--paths fast packed torch-dropout]

Each configuration runs in its own process (so peak memory is its own), once per round; the
rounds are interleaved, so other work on the machine slows every configuration alike. The plain
path is the reference (fp32, explicit softmax attention, torch's dropout, examples built one by
one in Python); the fast path is the defaults: fused attention, dropout masks from 16-bit
integers, batches corrupted in tensor operations, bf16 autocast (plus fused AdamW and TF32 on a
GPU, and torch.compile with --compile); the packed path is the fast path with each batch's
examples packed into as few rows as fit (`packing=true`); the torch-dropout path (only when
asked for) is the fast path with torch's dropout masks (`dropout=plain`). These are the
pipeline's switches `attention`, `dropout`, `corruption`, `trainer.precision`, `packing` and
`compile`.
Every path trains with the stages' code (`fit`: the LightningModule and the DataModule) on the
same number of examples per step; tokens per second count every position of every padded batch
(the reference's count), and examples per second the examples; data loading is included.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

import pytorch_lightning as pl
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    corpus_and_questions,
    handout_model,
    handout_model_settings,
    peak_rss_mb,
    print_table,
)

from knowledge_probe.data import Vocabulary  # noqa: E402
from knowledge_probe.models.gpt import VARIANTS  # noqa: E402
from knowledge_probe.models.packing import pack  # noqa: E402
from knowledge_probe.training import OptimConfig, PretrainDataModule, fit  # noqa: E402

# torch-dropout: the fast path with torch's dropout masks (`dropout=plain`), to measure that switch
PATHS = ("plain", "fast", "packed", "torch-dropout")


class StepTimer(pl.Callback):
    """The time after each training step, and the batches it trained on (data loading included,
    as it falls between two step ends)."""

    def __init__(self) -> None:
        self.ends: list[float] = []
        self.batches: list[tuple[torch.Tensor, torch.Tensor]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.ends.append(time.perf_counter())
        self.batches.append(batch)


def measure(variant: str, path: str, steps: int, batch_size: int, compile_model: bool) -> dict:
    """Train `steps` steps after 2 warm-up steps with the stages' training code (`fit`: the
    LightningModule and the DataModule) in this process; return throughput and memory."""
    fast, packed = path != "plain", path == "packed"
    corpus, _, source = corpus_and_questions()
    vocab = Vocabulary.from_corpus(corpus)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = fast
    model = handout_model(vocab, variant, fused=fast)
    datamodule = PretrainDataModule(corpus, vocab, 128, batch_size, batched=fast, shuffle=True)
    timer, warmup = StepTimer(), 2
    result = fit(
        model,
        datamodule,
        OptimConfig(fused=fast and device == "cuda"),
        max_epochs=10**6,
        trainer_options={
            "accelerator": "gpu" if device == "cuda" else "cpu",
            "precision": "bf16-mixed" if fast else "32-true",
            "max_steps": steps + warmup,
            "enable_progress_bar": False,
        },
        callbacks=[timer],
        packing=packed,
        trim_padding=fast and not packed,
        int16_dropout=fast and path != "torch-dropout",
        compile_model=compile_model,
    )
    seconds = timer.ends[-1] - timer.ends[warmup - 1]
    timed = timer.batches[warmup:]
    tokens = sum(y.numel() for _, y in timed)
    examples = sum(y.size(0) for _, y in timed)
    # the positions computed: fewer than the reference counts once packed
    computed = sum(
        (pack(x, y, unit=model.packing_unit)[1] if packed else y).numel() for x, y in timed
    )
    flops_per_token = 6 * model.num_parameters()  # the usual estimate, attention scores excluded
    memory = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else peak_rss_mb()
    return {
        "tokens_per_sec": tokens / seconds,
        "examples_per_sec": examples / seconds,
        "peak_mb": memory,
        "device": device,
        "source": source,
        "achieved_tflops": flops_per_token * computed / seconds / 1e12,
        "loss": result.final_loss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds, each running every configuration once; the table gives medians",
    )
    parser.add_argument("--compile", action="store_true", help="also torch.compile the fast path")
    parser.add_argument(
        "--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS), help="bodies to measure"
    )
    parser.add_argument(
        "--paths",
        nargs="+",
        choices=PATHS[1:],
        default=["fast", "packed"],
        help="paths to measure besides plain (the baseline of every ratio)",
    )
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=0.0,
        help="the device's bf16 peak, for MFU (e.g. 989 for an H100)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        variant, path = args.worker.split(":")
        print(
            json.dumps(
                measure(
                    variant, path, args.steps, args.batch_size, args.compile and path != "plain"
                )
            )
        )
        return
    configs = [(variant, path) for variant in args.variants for path in ["plain", *args.paths]]
    runs: dict[tuple[str, str], list[dict]] = {config: [] for config in configs}
    for round_ in range(args.rounds):  # every configuration once per round, so load hits all alike
        for variant, path in configs:
            cmd = [sys.executable, __file__, "--worker", f"{variant}:{path}"]
            cmd += ["--steps", str(args.steps), "--batch-size", str(args.batch_size)]
            cmd += ["--compile"] if args.compile else []
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            runs[variant, path].append(json.loads(out.strip().splitlines()[-1]))
            print(f"round {round_ + 1}: measured {variant} {path}", file=sys.stderr, flush=True)
    rows = []
    for variant, path in configs:
        r = runs[variant, path]
        plain = runs[variant, "plain"]
        ratios = [a["tokens_per_sec"] / b["tokens_per_sec"] for a, b in zip(r, plain, strict=True)]
        mfu = (
            median([x["achieved_tflops"] for x in r]) / args.peak_tflops if args.peak_tflops else 0
        )
        rows.append(
            [
                variant,
                path,
                f"{median([x['tokens_per_sec'] for x in r]):,.0f}",
                f"{median([x['examples_per_sec'] for x in r]):,.1f}",
                f"{median(ratios):.2f}x",
                f"{max(x['peak_mb'] for x in r):,.0f}",
                f"{100 * mfu:.1f}%" if args.peak_tflops else "-",
                f"{r[-1]['loss']:.3f}",
            ]
        )
    first, model = runs[configs[0]][0], handout_model_settings()
    print(
        f"\ntraining throughput, {first['source']} corpus, batch {args.batch_size}, context 128, "
        f"{model['n_layer']} layers x {model['n_head']} heads x {model['n_embd']} (perceiver: "
        f"{model['bottleneck_dim']} latents; chunked: chunks of {model['chunk_size']}, window "
        f"{model['chunk_window']}), device {first['device']}, "
        f"{args.steps} timed steps; median of {args.rounds} interleaved rounds (x plain: of the "
        "ratios within each round)\n"
    )
    headers = [
        "variant",
        "path",
        "tokens/s",
        "examples/s",
        "x plain",
        "peak MB",
        "MFU",
        "last loss",
    ]
    print_table(headers, rows)


if __name__ == "__main__":
    main()
