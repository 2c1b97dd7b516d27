"""Name/place question answering examples for finetuning."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from knowledge_probe.data.readers import Question
from knowledge_probe.data.vocab import MASK_ID, PAD_ID, Vocabulary


def prompt_ids(question: str, vocab: Vocabulary) -> list[int]:
    """What the model is given at evaluation time: `question MASK`."""
    return vocab.encode(question) + [MASK_ID]


def check_fits(question: Question, block_size: int) -> None:
    needed = len(question.question) + len(question.place or "") + 2
    if needed > block_size + 1:
        raise ValueError(
            f"question and answer need {needed} positions but the model's context is {block_size}: "
            f"{question.question!r}; raise block_size or shorten the question"
        )


class NameDataset(Dataset):
    """`question MASK place MASK PADS`; targets are pads over the question, so only the answer is learned."""

    def __init__(self, questions: list[Question], vocab: Vocabulary, block_size: int):
        self.examples = []
        for q in questions:
            if q.place is None:
                raise ValueError(f"finetuning needs gold places; {q.question!r} has none")
            check_fits(q, block_size)
            ids = vocab.encode(q.question) + [MASK_ID] + vocab.encode(q.place) + [MASK_ID]
            ids = ids + [PAD_ID] * (block_size + 1 - len(ids))
            seq = torch.tensor(ids, dtype=torch.long)
            y = seq[1:].clone()
            y[: len(q.question) - 1] = PAD_ID
            self.examples.append((seq[:-1], y))

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.examples[idx]

    def batch(
        self, indices, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The examples at `indices`, stacked (nothing random here; `generator` is unused)."""
        rows = [self.examples[int(i)] for i in torch.as_tensor(indices).reshape(-1)]
        return torch.stack([x for x, _ in rows]), torch.stack([y for _, y in rows])
