"""Failures during training and evaluation end in a clear error, never a silent wrong number."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from knowledge_probe.data import Question, Vocabulary
from knowledge_probe.data.errors import UnknownCharacterError
from knowledge_probe.data.readers import question_for
from knowledge_probe.evaluation.predict import predict
from knowledge_probe.models.gpt import GPT
from knowledge_probe.training import (
    NonFiniteLossError,
    OptimConfig,
    PretrainDataModule,
    ResumeCheckpoint,
    fit,
)

pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec.*is deprecated")


class PoisonWeightsAfter(pl.Callback):
    """Makes every following loss NaN, as a diverging run would."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            with torch.no_grad():
                pl_module.model.head.weight.fill_(float("nan"))


def test_nan_loss_names_the_step_and_keeps_the_last_good_checkpoint(
    tiny_corpus, tiny_vocab, make_config, tmp_path: Path
) -> None:
    model = GPT(make_config(vocab_size=len(tiny_vocab), block_size=48))
    resume_path = tmp_path / "resume.ckpt"
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at step 4") as info:
        fit(
            model,
            PretrainDataModule(tiny_corpus, tiny_vocab, 48, 2),
            OptimConfig(learning_rate=1e-3),
            max_epochs=5,
            trainer_options={"enable_progress_bar": False},
            callbacks=[PoisonWeightsAfter(4)],
            resume=ResumeCheckpoint(resume_path, 2, "run"),
        )
    assert "resume checkpoint" in str(info.value)
    saved = torch.load(resume_path, weights_only=True)
    assert saved["global_step"] == 2  # step 4 left NaN weights: not saved over the good state
    assert all(torch.isfinite(v).all() for v in saved["state_dict"].values())


@pytest.fixture
def model(tiny_vocab: Vocabulary, make_config) -> GPT:
    return GPT(make_config(vocab_size=len(tiny_vocab), block_size=40))


def test_question_too_long_for_the_context_is_refused(model: GPT, tiny_vocab: Vocabulary) -> None:
    long_name = "Ada Lovelace " * 3
    with pytest.raises(ValueError, match="leaves no room to answer in a context of 40"):
        predict(model, tiny_vocab, [Question(question_for(long_name.strip()))], progress=False)


def test_characters_missing_from_the_vocabulary_are_named(
    model: GPT, tiny_vocab: Vocabulary
) -> None:
    with pytest.raises(UnknownCharacterError, match="'Ø'") as info:
        predict(model, tiny_vocab, [Question(question_for("Øle"))], progress=False)
    assert "pretraining corpus" in str(info.value)
