"""Answer questions with a trained model, in length-sorted batches, with a progress bar."""

from __future__ import annotations

from tqdm.auto import tqdm

from knowledge_probe.data.names import prompt_ids
from knowledge_probe.data.readers import Question
from knowledge_probe.data.vocab import Vocabulary
from knowledge_probe.evaluation.decode import decode_batch, decode_plain
from knowledge_probe.models.gpt import GPT


def length_buckets(lengths: list[int], batch_size: int, max_spread: int) -> list[list[int]]:
    """Indices grouped by prompt length (spread at most `max_spread`, at most `batch_size` each).

    Batched decoding walks every row through the positions between the shortest and longest
    prompt one at a time, so similar lengths keep those extra steps few.
    """
    buckets: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        if (
            not buckets
            or len(buckets[-1]) >= batch_size
            or lengths[i] - lengths[buckets[-1][0]] > max_spread
        ):
            buckets.append([])
        buckets[-1].append(i)
    return buckets


def predict(
    model: GPT,
    vocab: Vocabulary,
    questions: list[Question],
    *,
    batch_size: int = 512,
    max_new: int = 32,
    plain: bool = False,
    autocast: bool = False,
    progress: bool = True,
    max_spread: int = 4,
) -> list[str]:
    """Greedy answers in input order. `plain` decodes one question at a time without a cache."""
    limit = model.config.block_size
    prompts = []
    for q in questions:
        ids = prompt_ids(q.question, vocab)
        if len(ids) >= limit:
            raise ValueError(
                f"question {q.question!r} ({len(ids)} characters with the mask) leaves no room to answer in a context of {limit}"
            )
        prompts.append(ids)
    was_training = model.training
    model.eval()
    answers: list[list[int] | None] = [None] * len(prompts)
    try:
        with tqdm(
            total=len(prompts), desc="decode", unit="q", disable=not progress, leave=False
        ) as bar:
            if plain:
                for i, p in enumerate(prompts):
                    answers[i] = decode_plain(model, p, max_new)
                    bar.update()
            else:
                for chunk in length_buckets([len(p) for p in prompts], batch_size, max_spread):
                    for i, ids in zip(
                        chunk,
                        decode_batch(
                            model, [prompts[i] for i in chunk], max_new, autocast=autocast
                        ),
                        strict=True,
                    ):
                        answers[i] = ids
                    bar.update(len(chunk))
    finally:
        model.train(was_training)
    return [vocab.decode(a) for a in answers]
