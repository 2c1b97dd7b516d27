"""Dropout whose CPU training masks are cheaper to draw than torch's.

On a CPU, torch draws a dropout mask one Bernoulli sample at a time; with these masks instead,
handout-size training ran 1.22-1.29x as fast (the torch-dropout path of
benchmarks/train_throughput.py). Here one 64-bit draw of torch's default generator gives four
16-bit integers, and an element is kept when its integer clears a threshold: the same
distribution with p rounded to a multiple of 1/65536, and the kept elements scaled by
1 / (1 - that p), so the expectation is the input's exactly. Other devices keep torch's dropout,
which is fused and fast there.
"""

from __future__ import annotations

import math

import torch
from torch import nn

LEVELS = 2**16  # the values of one 16-bit integer


def rounded_probability(p: float) -> float:
    """The drop probability that `keep_mask` realises for `p`."""
    return round(p * LEVELS) / LEVELS


def keep_mask(shape: torch.Size, p: float, device: torch.device | None = None) -> torch.Tensor:
    """Boolean mask of `shape`, each element False with probability `rounded_probability(p)`."""
    count = math.prod(shape)
    # int64's full range (randint's bound is exclusive; leaving out 2**63 - 1 biases nothing
    # measurable), so each of the four 16-bit parts is uniform
    words = torch.randint(-(2**63), 2**63 - 1, (-(-count // 4),), dtype=torch.int64, device=device)
    threshold = round(p * LEVELS) - LEVELS // 2  # the int16 values are -32768..32767
    return (words.view(torch.int16)[:count] >= threshold).view(shape)


class Dropout(nn.Dropout):
    """`nn.Dropout`, drawing its CPU training masks with `keep_mask` while `int16_masks` is on."""

    def __init__(self, p: float):
        super().__init__(p)
        self.int16_masks = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.int16_masks and self.training and self.p > 0 and x.device.type == "cpu"):
            return super().forward(x)
        scale = 1.0 / (1.0 - rounded_probability(self.p))
        return x.mul(keep_mask(x.shape, self.p, x.device)).mul_(scale)
