"""Analyses beyond the headline accuracies: the seed document's claims, checked by measurement.

attention_exploration: numerical experiments with explicit vectors (copying, averaging, noisy keys,
two heads); complexity: cost of the two attention variants against sequence length;
hallucination: what finetuned models answer about people who do not exist.
"""

from knowledge_probe.analysis.verdict import Verdict

__all__ = ["Verdict"]
