"""DataModules for the two objectives: span corruption (pretraining) and name QA (finetuning).

`batched`, both serve `ResumableBatches` (batches fixed by seed, epoch and position, so an
interrupted run resumes exactly); otherwise they keep the reference's DataLoader.
"""

from __future__ import annotations

import warnings

import pytorch_lightning as pl
import torch
from torch.utils.data import ConcatDataset, DataLoader

from knowledge_probe.data.corruption import BatchedCorruptionDataset, CharCorruptionDataset
from knowledge_probe.data.names import NameDataset
from knowledge_probe.data.readers import Question
from knowledge_probe.data.vocab import Vocabulary
from knowledge_probe.training.batches import ResumableBatches


def _loader_options(num_workers: int) -> dict:
    return {
        "num_workers": num_workers,
        "pin_memory": torch.cuda.is_available(),
        "persistent_workers": num_workers > 0,
    }


class MixedBatchDataset:
    """Batched corruption of documents plus fixed examples (indices past the documents), one batch.

    Lets pretraining see the training questions in their finetuning form alongside the corpus.
    """

    def __init__(self, corruption: BatchedCorruptionDataset, fixed: NameDataset):
        self.corruption, self.fixed = corruption, fixed

    def __len__(self) -> int:
        return len(self.corruption) + len(self.fixed)

    def batch(
        self, indices, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        indices = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        n_docs = len(self.corruption)
        docs, extra = indices[indices < n_docs], indices[indices >= n_docs] - n_docs
        parts = []
        if len(docs):
            parts.append(self.corruption.batch(docs, generator))
        if len(extra):
            parts.append(self.fixed.batch(extra))
        return torch.cat([x for x, _ in parts]), torch.cat([y for _, y in parts])


class _ResumableDataModule(pl.LightningDataModule):
    """Serves `ResumableBatches`, sharded over the trainer's processes, from `resume_at` on."""

    def __init__(self, batch_size: int, shuffle: bool, seed: int):
        super().__init__()
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self._start = (0, 0)

    def resume_at(self, epoch: int, batches_done: int) -> None:
        self._start = (epoch, batches_done)

    def resumable_batches(self, source) -> ResumableBatches:
        # These batches resume at their position (the resume checkpoint tells them where), which
        # Lightning cannot see: its warning that the loader is not resumable does not apply.
        warnings.filterwarnings(
            "ignore", message=r"You're resuming from a checkpoint that ended before the epoch ended"
        )
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        epoch, done = self._start
        return ResumableBatches(
            source,
            self.batch_size,
            shuffle=self.shuffle,
            seed=self.seed,
            rank=rank,
            world_size=world,
            start_epoch=epoch,
            skip=done,
        )


class PretrainDataModule(_ResumableDataModule):
    """`batched` corrupts whole batches in tensor operations; otherwise one example at a time.

    `window` picks where the corrupted piece of a document comes from (see `corruption`);
    `questions`, when given, are mixed into every epoch as finetuning-style examples.
    """

    def __init__(
        self,
        documents: list[str],
        vocab: Vocabulary,
        block_size: int,
        batch_size: int,
        *,
        batched: bool = True,
        shuffle: bool = False,
        num_workers: int = 0,
        window: str = "prefix",
        questions: list[Question] = (),
        seed: int = 0,
    ):
        super().__init__(batch_size, shuffle, seed)
        self.documents, self.vocab, self.block_size = documents, vocab, block_size
        self.batched, self.num_workers, self.window = batched, num_workers, window
        self.questions = NameDataset(list(questions), vocab, block_size)

    def __len__(self) -> int:
        return len(self.documents) + len(self.questions)

    def train_dataloader(self):
        if self.batched:
            corruption = BatchedCorruptionDataset(
                self.documents, self.vocab, self.block_size, self.window
            )
            return self.resumable_batches(MixedBatchDataset(corruption, self.questions))
        dataset = CharCorruptionDataset(
            self.documents, self.vocab, self.block_size, window=self.window
        )
        if len(self.questions):
            dataset = ConcatDataset([dataset, self.questions])
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            **_loader_options(self.num_workers),
        )


class FinetuneDataModule(_ResumableDataModule):
    def __init__(
        self,
        questions: list[Question],
        vocab: Vocabulary,
        block_size: int,
        batch_size: int,
        *,
        batched: bool = True,
        shuffle: bool = False,
        num_workers: int = 0,
        seed: int = 0,
    ):
        super().__init__(batch_size, shuffle, seed)
        self.dataset = NameDataset(questions, vocab, block_size)
        self.batched, self.num_workers = batched, num_workers

    def __len__(self) -> int:
        return len(self.dataset)

    def train_dataloader(self):
        if self.batched:
            return self.resumable_batches(self.dataset)
        return DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            **_loader_options(self.num_workers),
        )
