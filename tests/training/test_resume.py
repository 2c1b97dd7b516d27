"""An interrupted run continued from its resume checkpoint ends with the uninterrupted run's weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from knowledge_probe.data import Question, Vocabulary
from knowledge_probe.models.gpt import GPT, GPTConfig
from knowledge_probe.training import (
    OptimConfig,
    PretrainDataModule,
    ResumeCheckpoint,
    fit,
)
from knowledge_probe.training.resume import usable_checkpoint

pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec.*is deprecated")

BLOCK = 48
EPOCHS = 3
BATCH = 3  # 8 documents + 8 questions: 6 batches per epoch, 18 steps in all


class Crash(RuntimeError):
    """Stands in for a process killed without warning."""


class CrashAtStep(pl.Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise Crash(f"killed after step {self.step}")


def train(
    corpus: list[str],
    vocab: Vocabulary,
    questions: list[Question],
    resume_path: Path,
    *,
    every: int,
    fingerprint: str = "run-a",
    crash_at: int | None = None,
) -> tuple[GPT, int]:
    pl.seed_everything(0, verbose=False)
    model = GPT(
        GPTConfig(
            vocab_size=len(vocab), block_size=BLOCK, n_layer=2, n_head=2, n_embd=16,
            embd_pdrop=0.1, resid_pdrop=0.1, attn_pdrop=0.1,
        )
    )  # fmt: skip
    datamodule = PretrainDataModule(
        corpus, vocab, BLOCK, BATCH, shuffle=True, questions=questions, seed=7
    )
    optim = OptimConfig(learning_rate=3e-3, warmup_tokens=100, final_tokens=5_000)
    result = fit(
        model,
        datamodule,
        optim,
        max_epochs=EPOCHS,
        trainer_options={"enable_progress_bar": False},
        callbacks=[CrashAtStep(crash_at)] if crash_at is not None else [],
        resume=ResumeCheckpoint(resume_path, every, fingerprint),
    )
    return model, result.resumed_at_step


def same_weights(a: GPT, b: GPT) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def uninterrupted(tiny_corpus, tiny_vocab, tiny_questions, tmp_path_factory) -> GPT:
    path = tmp_path_factory.mktemp("whole") / "resume.ckpt"
    model, resumed = train(tiny_corpus, tiny_vocab, tiny_questions, path, every=4)
    assert resumed == 0
    assert not path.exists()  # removed once training finished
    return model


@pytest.mark.parametrize(
    ("every", "crash_at", "resumed_at"),
    [
        (4, 10, 8),  # mid-epoch: the second epoch's fourth batch was the last one saved
        (6, 13, 12),  # exactly at an epoch's end
        (1, 2, 1),  # saved after every step, killed in the first epoch
    ],
)
def test_resumed_run_ends_with_the_uninterrupted_weights(
    tiny_corpus, tiny_vocab, tiny_questions, tmp_path, uninterrupted, every, crash_at, resumed_at
) -> None:
    path = tmp_path / "resume.ckpt"
    with pytest.raises(Crash):
        train(tiny_corpus, tiny_vocab, tiny_questions, path, every=every, crash_at=crash_at)
    assert path.is_file()
    assert not list(tmp_path.glob(".*.tmp"))  # no half-written checkpoint left behind
    model, resumed = train(tiny_corpus, tiny_vocab, tiny_questions, path, every=every)
    assert resumed == resumed_at
    assert same_weights(model, uninterrupted)
    assert not path.exists()


def test_checkpoint_of_another_configuration_is_ignored(
    tiny_corpus, tiny_vocab, tiny_questions, tmp_path, uninterrupted
) -> None:
    path = tmp_path / "resume.ckpt"
    with pytest.raises(Crash):
        train(tiny_corpus, tiny_vocab, tiny_questions, path, every=4, crash_at=6, fingerprint="old")
    assert usable_checkpoint(path, "new") is None
    assert not path.exists()


def test_unreadable_checkpoint_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "resume.ckpt"
    path.write_bytes(b"PK\x03\x04 truncated")
    assert usable_checkpoint(path, "any") is None
    assert not path.exists()
