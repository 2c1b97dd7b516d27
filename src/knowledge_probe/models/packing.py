"""Packing: the examples of a batch laid end to end in as few rows as fit, none of them changed.

A row of a training batch holds one example and then padding; span corruption keeps 4 to 112
characters of a 128 context, so about half of a pretraining batch is padding. Packed, every
example keeps its own positions (0, 1, ...) and attends only within itself (a block-diagonal
causal mask), so the model computes for it exactly what it would alone, and the loss (the mean
over all non-pad targets) is the same up to float rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from knowledge_probe.data.vocab import PAD_ID

NO_EXAMPLE = -1  # the segment of the padding after a row's last example


@dataclass(frozen=True)
class Layout:
    """Where each token of a packed batch comes from, all [rows, T].

    `segments`: which example of its row (NO_EXAMPLE for padding); `positions`: its position in
    that example; `lengths`: that example's length (0 for padding).
    """

    segments: torch.Tensor
    positions: torch.Tensor
    lengths: torch.Tensor


def example_lengths(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """[B] the positions each example needs: its inputs up to its last input or target that is
    not a pad (padding only trails the inputs)."""
    columns = torch.arange(1, x.size(1) + 1)
    inputs = (x != PAD_ID).sum(dim=1)
    targets = torch.where(y != PAD_ID, columns, 0).amax(dim=1)
    return torch.maximum(inputs, targets)


def first_fit_decreasing(lengths: list[int], capacity: int) -> list[list[int]]:
    """Rows of example indices, each row's lengths summing to at most `capacity`; longest first,
    each into the first row with room (deterministic: equal lengths keep their order)."""
    rows: list[list[int]] = []
    room: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        need = lengths[index]
        for row, free in enumerate(room):
            if need <= free:
                rows[row].append(index)
                room[row] -= need
                break
        else:
            rows.append([index])
            room.append(capacity - need)
    return rows


def pack(
    x: torch.Tensor, y: torch.Tensor, capacity: int | None = None, unit: int = 1
) -> tuple[torch.Tensor, torch.Tensor, Layout]:
    """Pack the examples of (x, y) [B, T] into rows of at most `capacity` (default T) tokens.

    Each example takes a whole number of `unit`s (a chunk of the chunked body), its last one
    filled up with pads that belong to it and continue its positions. Examples with no target
    are left out (they add nothing to the loss or its gradients). The rows are as long as the
    fullest one. The layout is built in Python, the tokens are moved by one gather on the
    batch's device.
    """
    capacity = capacity or x.size(1)
    lengths = example_lengths(x, y).tolist()
    has_target = (y != PAD_ID).any(dim=1).tolist()
    kept = [i for i, n in enumerate(lengths) if n > 0 and has_target[i]]
    slots = {i: -(-lengths[i] // unit) * unit for i in kept}
    rows = first_fit_decreasing([slots[i] for i in kept], capacity)
    width = max([unit, *(sum(slots[kept[j]] for j in row) for row in rows)])
    source, segments, positions, example_length = [], [], [], []
    for row in rows or [[]]:
        row_start = len(source)
        for segment, j in enumerate(row):
            i, n, slot = kept[j], lengths[kept[j]], slots[kept[j]]
            source += [*range(i * x.size(1), i * x.size(1) + n), *[-1] * (slot - n)]
            segments += [segment] * slot
            positions += range(slot)
            example_length += [n] * slot
        fill = width - (len(source) - row_start)
        source += [-1] * fill
        segments += [NO_EXAMPLE] * fill
        positions += [0] * fill
        example_length += [0] * fill
    shape = (max(len(rows), 1), width)

    def tensor(values: list[int]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.long, device=x.device).view(shape)

    source = tensor(source)
    padding = source < 0
    px = x.reshape(-1)[source.clamp(min=0)].masked_fill(padding, PAD_ID)
    py = y.reshape(-1)[source.clamp(min=0)].masked_fill(padding, PAD_ID)
    return px, py, Layout(tensor(segments), tensor(positions), tensor(example_length))


def segment_mask(
    q_segments: torch.Tensor,
    q_positions: torch.Tensor,
    k_segments: torch.Tensor,
    k_positions: torch.Tensor,
) -> torch.Tensor:
    """[B, 1, Tq, Tk] True where a query may see a key: same example, key not after the query."""
    same = q_segments[:, :, None] == k_segments[:, None, :]
    causal = k_positions[:, None, :] <= q_positions[:, :, None]
    return (same & causal).unsqueeze(1)


def reachable(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(`mask` with every query that sees no key allowed all keys, which queries see some key).

    Softmax over no key at all is undefined; such a query's output must be discarded (or
    never read) by the caller.
    """
    reached = mask.any(dim=-1, keepdim=True)
    return mask | ~reached, reached
