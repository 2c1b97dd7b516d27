"""How fast pretraining stores the dev people's birthplaces, and how much of it the model can say.

    python benchmarks/knowledge_curve.py [--every 20] [--threads 1] [OVERRIDE ...]
    python benchmarks/knowledge_curve.py --checkpoint models/vanilla/pretrain.ckpt [OVERRIDE ...]

Runs the `prepare` stage and one pretraining of the configured experiment (Hydra overrides as
for `python -m pipeline.experiment`, e.g. `model=vanilla pretrain.learning_rate=6e-3`) in a
temporary directory, and every `--every` epochs probes the dev people, whom no question in
training is about, two ways:

- stored: greedy completion of "NAME. NAME was born in " starts with the birthplace (the fact is
  in the weights, in the biographies' own words);
- answered: greedy answer to "Where was NAME born?" is the birthplace (the fact can be extracted
  by a question; without `pretrain.mix_questions` this needs finetuning first).

Prints one row per probe, with the mean training loss since the last probe (one batch's loss is
too noisy to compare settings by), and a JSON line with the whole curve, so settings can be
screened in minutes and the figures reproduced. With `--checkpoint`, probes that saved model once
instead of training (the overrides must describe its experiment, e.g. `experiment=laptop`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table  # noqa: E402

from knowledge_probe.data import Question  # noqa: E402
from knowledge_probe.data.corruption import max_truncation  # noqa: E402
from knowledge_probe.data.names import MASK_ID  # noqa: E402
from knowledge_probe.evaluation.decode import decode_batch  # noqa: E402
from knowledge_probe.evaluation.predict import predict  # noqa: E402
from knowledge_probe.models import GPT  # noqa: E402
from knowledge_probe.training import fit, load_model  # noqa: E402
from pipeline import prepare  # noqa: E402
from pipeline.cli import run_command  # noqa: E402
from pipeline.configs import fit_switches, model_config, optim_config, trainer_options  # noqa: E402
from pipeline.params import validate  # noqa: E402
from pipeline.prepared import read_prepared  # noqa: E402
from pipeline.pretrain import pretrain_datamodule  # noqa: E402
from pipeline.records import RunContext  # noqa: E402
from pipeline.runtime import seed_all  # noqa: E402
from pipeline.stages import stage_view  # noqa: E402
from pipeline.tracked import quiet_libraries  # noqa: E402


def stored_fraction(model: GPT, vocab, people: list[Question]) -> float:
    """Share of people whose completion of "NAME. NAME was born in " starts with the birthplace."""
    prompts = [vocab.encode(f"{q.name}. {q.name} was born in ") for q in people]
    longest = max(len(q.place) for q in people) + 1
    hits = 0
    for q, ids in zip(people, decode_batch(model, prompts, longest, stop_id=MASK_ID), strict=True):
        text = vocab.decode(ids)
        hits += text.startswith(q.place) and not text[len(q.place) : len(q.place) + 1].isalpha()
    return hits / len(people)


def birthplace_visibility(
    corpus: list[str], people: list[Question], block_size: int, window: str
) -> tuple[float, float]:
    """How often span corruption shows a whole birthplace, from its distribution (no sampling).

    Over the biographies that name their person's birthplace: the mean share of pretraining
    examples drawn from one that contain the whole place, and the share of them that never do.
    """
    places = {q.name: q.place for q in people}
    longest = max_truncation(block_size)
    shares = []
    for bio in corpus:
        place = places.get(bio.split(". ", 1)[0])
        start = bio.find(place) if place else -1
        if start < 0:
            continue
        end, seen = start + len(place), 0.0
        for length in range(4, longest + 1):  # the truncated length is uniform on [4, longest]
            if window == "prefix":
                seen += end <= length
            else:  # a uniform offset in [0, len(bio) - length]
                offsets = range(max(0, len(bio) - length) + 1)
                seen += sum(o <= start and end <= o + length for o in offsets) / len(offsets)
        shares.append(seen / (longest - 3))
    if not shares:
        return 0.0, 0.0
    return sum(shares) / len(shares), sum(s == 0 for s in shares) / len(shares)


def answered_fraction(model: GPT, vocab, people: list[Question]) -> float:
    answers = predict(model, vocab, people, progress=False)
    return sum(a == q.place for a, q in zip(answers, people, strict=True)) / len(people)


PROBED = ("dev_stored", "dev_answered", "train_answered")


def probe(model: GPT, vocab, dev: list[Question], train: list[Question]) -> dict:
    """The shares of dev people stored and answered, and of training people answered."""
    with torch.no_grad():
        return {
            "dev_stored": stored_fraction(model, vocab, dev),
            "dev_answered": answered_fraction(model, vocab, dev),
            "train_answered": answered_fraction(model, vocab, train),
        }


class Probe(pl.Callback):
    """Every `every` epochs, record how many dev birthplaces are stored and answered."""

    def __init__(self, vocab, dev: list[Question], train: list[Question], every: int):
        self.vocab, self.dev, self.train, self.every = vocab, dev, train, every
        self.rows: list[dict] = []
        self.start, self.probing = time.perf_counter(), 0.0
        self.losses: list[float] = []  # the training batches' losses since the last probe

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs["loss"]))

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        epoch = trainer.current_epoch + 1
        if epoch % self.every and epoch != trainer.max_epochs:
            return
        started = time.perf_counter()
        row = {
            "epoch": epoch,
            "train_seconds": round(started - self.start - self.probing, 1),
            "loss": round(sum(self.losses) / max(len(self.losses), 1), 3),
        } | probe(pl_module.model, self.vocab, self.dev, self.train)
        self.probing += time.perf_counter() - started
        self.losses.clear()
        self.rows.append(row)
        print(json.dumps(row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--every", type=int, default=20, help="probe every N epochs")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    parser.add_argument(
        "--checkpoint",
        help="probe this saved model (e.g. models/vanilla/pretrain.ckpt) instead of training one",
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. model=perceiver")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    quiet_libraries()
    with initialize_config_dir(str(REPO / "conf"), version_base=None):
        cfg = compose(config_name="config", overrides=["logger=none", *args.overrides])
    validate(cfg, "overrides")
    with tempfile.TemporaryDirectory() as tmp:
        cfg.paths.prepared = str(Path(tmp) / "prepared")
        cfg.paths.metrics = str(Path(tmp) / "metrics")
        cfg.paths.checkpoints = str(Path(tmp) / "checkpoints")
        prepare.run(stage_view(cfg, "prepare"), RunContext(cfg, "knowledge-curve"))
        data = read_prepared(cfg)
        shown, never = birthplace_visibility(
            data.corpus, data.train + data.dev, cfg.model.block_size, cfg.pretrain.window
        )
        print(
            f"span corruption shows a whole birthplace in {shown:.1%} of the pretraining examples "
            f"drawn from a biography that names it; {never:.1%} of those biographies never show it",
            flush=True,
        )
        config = model_config(cfg, cfg.model.variant, len(data.vocab))
        if args.checkpoint:
            model, _ = load_model(
                args.checkpoint, config=config, vocab_fingerprint=data.vocab.fingerprint
            )
            row = probe(model.eval(), data.vocab, data.dev, data.train)
            print_table(
                ["checkpoint", *PROBED], [[args.checkpoint] + [f"{row[k]:.1%}" for k in PROBED]]
            )
            print(json.dumps({"overrides": args.overrides, "checkpoint": args.checkpoint} | row))
            return
        seed_all(int(cfg.seed))
        model = GPT(config)
        datamodule = pretrain_datamodule(cfg, data, model.config.block_size)
        curve = Probe(data.vocab, data.dev, data.train, args.every)
        options = trainer_options(cfg, cfg.pretrain.grad_clip) | {"enable_progress_bar": False}
        fit(
            model,
            datamodule,
            optim_config(cfg.pretrain, len(datamodule), model.config.block_size),
            max_epochs=int(cfg.pretrain.epochs),
            trainer_options=options,
            callbacks=[curve],
            prefix="probe",
            **fit_switches(cfg),
        )
    print_table(
        ["epoch", "training s", "mean loss", "dev stored", "dev answered", "train answered"],
        [
            [r["epoch"], r["train_seconds"], r["loss"]] + [f"{r[k]:.0%}" for k in PROBED]
            for r in curve.rows
        ],
    )
    print(
        json.dumps(
            {
                "overrides": args.overrides,
                "birthplace_shown": round(shown, 4),
                "birthplace_never_shown": round(never, 4),
                "curve": curve.rows,
            }
        )
    )


if __name__ == "__main__":
    run_command("knowledge_curve", main)
