"""DataModules for the two objectives: span corruption (pretraining) and name QA (finetuning)."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
)

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


class MixedBatchDataset(Dataset):
    """Batched corruption of documents plus fixed examples (indices past the documents), one batch.

    Lets pretraining see the training questions in their finetuning form alongside the corpus.
    """

    def __init__(self, corruption: BatchedCorruptionDataset, fixed: NameDataset):
        self.corruption, self.fixed = corruption, fixed
        self.fixed_x = torch.stack([x for x, _ in fixed.examples]) if len(fixed) else None
        self.fixed_y = torch.stack([y for _, y in fixed.examples]) if len(fixed) else None

    def __len__(self) -> int:
        return len(self.corruption) + len(self.fixed)

    def __getitem__(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        indices = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        n_docs = len(self.corruption)
        docs, extra = indices[indices < n_docs], indices[indices >= n_docs] - n_docs
        xs, ys = [], []
        if len(docs):
            x, y = self.corruption[docs]
            xs.append(x), ys.append(y)
        if len(extra):
            xs.append(self.fixed_x[extra]), ys.append(self.fixed_y[extra])
        return torch.cat(xs), torch.cat(ys)


class PretrainDataModule(pl.LightningDataModule):
    """`fast` corrupts whole batches in tensor operations; otherwise one example at a time.

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
        fast: bool = True,
        shuffle: bool = False,
        num_workers: int = 0,
        window: str = "prefix",
        questions: list[Question] = (),
    ):
        super().__init__()
        self.documents, self.vocab, self.block_size = documents, vocab, block_size
        self.batch_size, self.fast, self.shuffle, self.num_workers = (
            batch_size,
            fast,
            shuffle,
            num_workers,
        )
        self.window = window
        self.questions = NameDataset(list(questions), vocab, block_size)

    def __len__(self) -> int:
        return len(self.documents) + len(self.questions)

    def train_dataloader(self) -> DataLoader:
        options = _loader_options(self.num_workers)
        if self.fast:
            corruption = BatchedCorruptionDataset(
                self.documents, self.vocab, self.block_size, self.window
            )
            dataset = MixedBatchDataset(corruption, self.questions)
            order = RandomSampler(dataset) if self.shuffle else SequentialSampler(dataset)
            sampler = BatchSampler(order, self.batch_size, drop_last=False)
            return DataLoader(dataset, batch_size=None, sampler=sampler, **options)
        dataset = CharCorruptionDataset(
            self.documents, self.vocab, self.block_size, window=self.window
        )
        if len(self.questions):
            dataset = ConcatDataset([dataset, self.questions])
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
