"""DataModules for the two objectives: span corruption (pretraining) and name QA (finetuning)."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

from knowledge_probe.data.corruption import BatchedCorruptionDataset, CharCorruptionDataset
from knowledge_probe.data.names import NameDataset
from knowledge_probe.data.readers import Question
from knowledge_probe.data.vocab import Vocabulary


def _loader_options(num_workers: int) -> dict:
    return {
        "num_workers": num_workers,
        "pin_memory": torch.cuda.is_available(),
        "persistent_workers": num_workers > 0,
    }


class PretrainDataModule(pl.LightningDataModule):
    """`fast` corrupts whole batches in tensor operations; otherwise one example at a time."""

    def __init__(
        self,
        documents: list[str],
        vocab: Vocabulary,
        block_size: int,
        batch_size: int,
        *,
        fast: bool = True,
        shuffle: bool = False,
        num_workers: int = 0,
    ):
        super().__init__()
        self.documents, self.vocab, self.block_size = documents, vocab, block_size
        self.batch_size, self.fast, self.shuffle, self.num_workers = (
            batch_size,
            fast,
            shuffle,
            num_workers,
        )

    def __len__(self) -> int:
        return len(self.documents)

    def train_dataloader(self) -> DataLoader:
        options = _loader_options(self.num_workers)
        if self.fast:
            dataset = BatchedCorruptionDataset(self.documents, self.vocab, self.block_size)
            order = RandomSampler(dataset) if self.shuffle else SequentialSampler(dataset)
            sampler = BatchSampler(order, self.batch_size, drop_last=False)
            return DataLoader(dataset, batch_size=None, sampler=sampler, **options)
        dataset = CharCorruptionDataset(self.documents, self.vocab, self.block_size)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=self.shuffle, **options)


class FinetuneDataModule(pl.LightningDataModule):
    def __init__(
        self,
        questions: list[Question],
        vocab: Vocabulary,
        block_size: int,
        batch_size: int,
        *,
        shuffle: bool = False,
        num_workers: int = 0,
    ):
        super().__init__()
        self.dataset = NameDataset(questions, vocab, block_size)
        self.batch_size, self.shuffle, self.num_workers = batch_size, shuffle, num_workers

    def __len__(self) -> int:
        return len(self.dataset)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            **_loader_options(self.num_workers),
        )
