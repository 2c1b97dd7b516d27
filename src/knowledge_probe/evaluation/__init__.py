"""Evaluation: greedy decoding (plain and batched with a cache), exact-match metric, baselines."""

from knowledge_probe.evaluation.baseline import majority_place
from knowledge_probe.evaluation.decode import decode_batch, decode_plain
from knowledge_probe.evaluation.metric import ExactMatch
from knowledge_probe.evaluation.predict import predict
from knowledge_probe.evaluation.predictions import (
    format_records,
    read_predictions,
    write_predictions,
)

__all__ = [
    "ExactMatch",
    "decode_batch",
    "decode_plain",
    "format_records",
    "majority_place",
    "predict",
    "read_predictions",
    "write_predictions",
]
