"""Models: attention that is causal by absolute position, and the GPT with two bodies."""

from knowledge_probe.models.attention import Attention, KVCache, causal_mask
from knowledge_probe.models.gpt import GPT, VARIANTS, GPTConfig

__all__ = ["GPT", "VARIANTS", "Attention", "KVCache", "GPTConfig", "causal_mask"]
