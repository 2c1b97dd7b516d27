"""A character-level GPT with a `vanilla` (causal self-attention) or `perceiver` (bottleneck) body."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from knowledge_probe.data.vocab import PAD_ID
from knowledge_probe.models.attention import Attention, KVCache, RotaryEmbedding

VARIANTS = ("vanilla", "perceiver")
POSITIONS = ("learned", "rotary")
# left: latent j sees inputs 0..j (the reference). right: the latents sit on each example's last
# bottleneck_dim positions, as in Perceiver AR, so every input position reaches some latent.
LATENT_ALIGNMENTS = ("left", "right")
# the fields that only the perceiver body reads; a vanilla model ignores them
PERCEIVER_ONLY = ("bottleneck_dim", "latent_alignment")
# the accepted Python types of GPTConfig's annotations (an int is a fine float)
FIELD_TYPES = {"int": int, "float": (int, float), "str": str, "bool": bool}


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int
    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    embd_pdrop: float = 0.05
    resid_pdrop: float = 0.05
    attn_pdrop: float = 0.05
    variant: str = "vanilla"
    bottleneck_dim: int = 32
    # learned: an absolute position table (the reference). rotary: rotary embeddings in attention.
    position: str = "learned"
    latent_alignment: str = "left"
    fused_attention: bool = True

    def __post_init__(self) -> None:
        """Reject mistyped settings and impossible shapes before any weight is allocated."""
        for field in fields(self):
            value, kind = getattr(self, field.name), FIELD_TYPES[field.type]
            if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
                raise ValueError(f"{field.name} must be {field.type}, got {value!r}")
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; allowed: {', '.join(VARIANTS)}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.position not in POSITIONS:
            raise ValueError(f"unknown position {self.position!r}; allowed: {', '.join(POSITIONS)}")
        if self.latent_alignment not in LATENT_ALIGNMENTS:
            raise ValueError(
                f"unknown latent_alignment {self.latent_alignment!r}; "
                f"allowed: {', '.join(LATENT_ALIGNMENTS)}"
            )
        if self.position == "rotary" and (self.n_embd // self.n_head) % 2:
            raise ValueError(
                f"rotary positions need an even head size, got {self.n_embd // self.n_head}"
            )
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.variant == "perceiver":
            if not 1 <= self.bottleneck_dim <= self.block_size:
                raise ValueError(
                    f"bottleneck_dim must be in [1, block_size={self.block_size}], got {self.bottleneck_dim}"
                )
            if self.n_layer < 2:
                raise ValueError(
                    f"the perceiver needs n_layer >= 2 (down and up blocks), got {self.n_layer}"
                )

    def to_dict(self) -> dict:
        return asdict(self)

    def architecture(self) -> dict:
        """The fields that decide the weights' shapes and meaning (not runtime switches)."""
        return {
            k: v
            for k, v in asdict(self).items()
            if k != "fused_attention" and not k.endswith("pdrop")
        }


class MLP(nn.Sequential):
    def __init__(self, cfg: GPTConfig):
        super().__init__(
            nn.Linear(cfg.n_embd, 4 * cfg.n_embd),
            nn.GELU(),
            nn.Linear(4 * cfg.n_embd, cfg.n_embd),
            nn.Dropout(cfg.resid_pdrop),
        )


def _attention(cfg: GPTConfig) -> Attention:
    rotary = None
    if cfg.position == "rotary":
        rotary = RotaryEmbedding(cfg.n_embd // cfg.n_head, cfg.block_size)
    return Attention(
        cfg.n_embd, cfg.n_head, cfg.attn_pdrop, cfg.resid_pdrop, cfg.fused_attention, rotary
    )


class Block(nn.Module):
    """Pre-LayerNorm transformer block with causal self-attention."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.n_embd), nn.LayerNorm(cfg.n_embd)
        self.attn, self.mlp = _attention(cfg), MLP(cfg)

    def forward(
        self, x: torch.Tensor, q_offset: int = 0, cache: KVCache | None = None
    ) -> torch.Tensor:
        h = self.ln1(x)
        x = x + self.attn(h, h, q_offset, cache)
        return x + self.mlp(self.ln2(x))


def aligned_positions(idx: torch.Tensor, bottleneck_dim: int) -> torch.Tensor:
    """[B, m'] input positions of right-aligned latents: each example's last m' = min(m, T) ones.

    An example's end is its last non-pad token (padding only trails); examples shorter than m'
    start at position 0, so their latents keep the reference's alignment.
    """
    count = min(bottleneck_dim, idx.size(1))
    lengths = (idx != PAD_ID).sum(dim=1).clamp(min=count)
    return (lengths - count)[:, None] + torch.arange(count, device=idx.device)


class DownProjectBlock(nn.Module):
    """Latents cross-attend causally to the input: z = Q + Attn(ln1(Q), x).

    Left alignment: Q is the learned C (1 x m x d) and latent j sees inputs 0..j. Right
    alignment: Q is the input itself at the aligned positions, and each latent sees the inputs
    up to its own position (Perceiver AR), so the latents keep no learned table.
    """

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.C = None
        if cfg.latent_alignment == "left":
            self.C = nn.Parameter(torch.empty(1, cfg.bottleneck_dim, cfg.n_embd))
            nn.init.xavier_uniform_(self.C)
        self.ln1, self.ln2 = nn.LayerNorm(cfg.n_embd), nn.LayerNorm(cfg.n_embd)
        self.attn, self.mlp = _attention(cfg), MLP(cfg)

    def forward(
        self,
        x: torch.Tensor,
        first: int = 0,
        count: int | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """Latents first..first+count-1 (all by default); with a cache, `x` holds only new inputs."""
        c = self.C[:, first : first + count if count is not None else None]
        z = c + self.attn(self.ln1(c).expand(x.size(0), -1, -1), x, first, cache)
        return z + self.mlp(self.ln2(z))

    def aligned(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Right-aligned latents at `positions` [B, m'] (see `aligned_positions`)."""
        q = x.gather(1, positions[..., None].expand(-1, -1, x.size(-1)))
        keys = torch.arange(x.size(1), device=x.device)
        mask = (keys[None, None, :] <= positions[..., None]).unsqueeze(1)  # [B, 1, m', T]
        z = q + self.attn(self.ln1(q), x, mask=mask, q_positions=positions)
        return z + self.mlp(self.ln2(z))


class UpProjectBlock(nn.Module):
    """The input cross-attends causally to the latents: y = x + Attn(x, ln1(latents))."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.n_embd), nn.LayerNorm(cfg.n_embd)
        self.attn, self.mlp = _attention(cfg), MLP(cfg)

    def forward(
        self,
        x: torch.Tensor,
        latents: torch.Tensor,
        q_offset: int = 0,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        y = x + self.attn(x, self.ln1(latents), q_offset, cache)
        return y + self.mlp(self.ln2(y))

    def aligned(
        self, x: torch.Tensor, latents: torch.Tensor, positions: torch.Tensor
    ) -> torch.Tensor:
        """Position t reads the right-aligned latents at positions <= t; earlier positions,
        which no latent is aligned to, read nothing (their outputs carry no loss)."""
        rows = torch.arange(x.size(1), device=x.device)
        visible = positions[:, None, :] <= rows[None, :, None]  # [B, T, m']
        reached = visible[..., :1]  # the first latent is visible wherever any is
        mask = (visible | ~reached).unsqueeze(1)  # rows without latents: a harmless placeholder
        read = self.attn(x, self.ln1(latents), mask=mask, k_positions=positions)
        y = x + torch.where(reached, read, 0.0)
        return y + self.mlp(self.ln2(y))


class GPT(nn.Module):
    """forward(idx, targets) -> (logits, loss); loss is cross-entropy that ignores the pad id."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = None
        if config.position == "learned":
            self.pos_emb = nn.Parameter(torch.zeros(1, config.block_size, config.n_embd))
        self.drop = nn.Dropout(config.embd_pdrop)
        if config.variant == "vanilla":
            self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        else:
            self.down = DownProjectBlock(config)
            self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer - 2))
            self.up = UpProjectBlock(config)
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def set_fused_attention(self, fused: bool) -> None:
        for module in self.modules():
            if isinstance(module, Attention):
                module.fused = fused

    def embed(self, idx: torch.Tensor, offset: int = 0) -> torch.Tensor:
        length = idx.size(1)
        if offset + length > self.config.block_size:
            raise ValueError(
                f"sequence of {offset + length} tokens exceeds block_size {self.config.block_size}"
            )
        x = self.tok_emb(idx)
        if self.pos_emb is not None:
            x = x + self.pos_emb[:, offset : offset + length]
        return self.drop(x)

    @property
    def right_aligned(self) -> bool:
        return self.config.variant == "perceiver" and self.config.latent_alignment == "right"

    def latents(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Perceiver only: the bottleneck after the down block and the latent blocks."""
        z = self.down(x) if positions is None else self.down.aligned(x, positions)
        for block in self.blocks:
            z = block(z)
        return z

    def hidden(self, idx: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Final hidden states; `positions` are the right-aligned latents' (computed if absent)."""
        x = self.embed(idx)
        if self.config.variant == "vanilla":
            for block in self.blocks:
                x = block(x)
            return x
        if self.right_aligned:
            if positions is None:
                positions = aligned_positions(idx, self.config.bottleneck_dim)
            return self.up.aligned(x, self.latents(x, positions), positions)
        return self.up(x, self.latents(x))

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        positions = None
        if self.right_aligned:
            positions = aligned_positions(idx, self.config.bottleneck_dim)
        logits = self.head(self.ln_f(self.hidden(idx, positions)))
        loss = None
        if targets is not None:
            if positions is not None:  # positions before the first latent predict nothing
                rows = torch.arange(idx.size(1), device=idx.device)[None, :]
                targets = targets.masked_fill(rows < positions[:, :1], PAD_ID)
            loss = F.cross_entropy(
                logits.view(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=PAD_ID
            )
        return logits, loss
