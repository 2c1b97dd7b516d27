"""A character-level GPT with a `vanilla` (causal self-attention), `perceiver` (bottleneck) or
`chunked` (chunk-end latents, see `models.chunked`) body."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from knowledge_probe.data.vocab import PAD_ID
from knowledge_probe.models.attention import Attention, KVCache, RotaryEmbedding
from knowledge_probe.models.cached import CachedForward
from knowledge_probe.models.chunked import chunked_hidden
from knowledge_probe.models.dropout import Dropout
from knowledge_probe.models.packing import NO_EXAMPLE, Layout, reachable, segment_mask

# every body a model can have: the reference experiment's two, and a bottleneck that every input
# reaches (models/chunked.py)
VARIANTS = ("vanilla", "perceiver", "chunked")
POSITIONS = ("learned", "rotary")
# left: latent j sees inputs 0..j (the reference). right: the latents sit on each example's last
# bottleneck_dim positions, as in Perceiver AR, so every input position reaches some latent.
LATENT_ALIGNMENTS = ("left", "right")
# the fields that only some bodies read; the others ignore them
READ_BY = {
    "bottleneck_dim": ("perceiver",),
    "latent_alignment": ("perceiver",),
    "chunk_size": ("chunked",),
    "chunk_window": ("chunked",),
}
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
    # chunked: a position reads the chunk_size positions up to itself and the ends of the
    # chunk_window chunks before its own (64 and 2 cover a context of 128)
    chunk_size: int = 64
    chunk_window: int = 2
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
        if self.variant == "chunked":
            if self.chunk_size < 1 or self.chunk_window < 1:
                raise ValueError(
                    f"chunk_size and chunk_window must be positive, got {self.chunk_size} "
                    f"and {self.chunk_window}"
                )
            if self.block_size % self.chunk_size:
                raise ValueError(
                    f"block_size ({self.block_size}) must be a multiple of chunk_size "
                    f"({self.chunk_size})"
                )
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
            Dropout(cfg.resid_pdrop),
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
        self,
        x: torch.Tensor,
        q_offset: int = 0,
        cache: KVCache | None = None,
        mask: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`mask` and `positions` ([B, T], per token) serve packed batches."""
        h = self.ln1(x)
        x = x + self.attn(h, h, q_offset, cache, mask, positions, positions)
        return x + self.mlp(self.ln2(x))


def aligned_positions(idx: torch.Tensor, bottleneck_dim: int) -> torch.Tensor:
    """[B, m'] input positions of right-aligned latents: each example's last m' = min(m, T) ones.

    An example's end is its last non-pad token (padding only trails); examples shorter than m'
    start at position 0, so their latents keep the reference's alignment.
    """
    count = min(bottleneck_dim, idx.size(1))
    lengths = (idx != PAD_ID).sum(dim=1).clamp(min=count)
    return (lengths - count)[:, None] + torch.arange(count, device=idx.device)


def first_latent_position(lengths: torch.Tensor, bottleneck_dim: int) -> torch.Tensor:
    """Right alignment: the input position of an example's first latent, by its length."""
    return (lengths - bottleneck_dim).clamp(min=0)


LATENT_SLOTS = 16


@dataclass(frozen=True)
class PackedLatents:
    """The latents of a packed batch, [B, Z]: every example has its own, as if it were alone.

    `index`: the token each latent stands at; `positions`: the input position it summarises up
    to; `ranks`: its place among its example's latents; `segments`: its example (`-2`: an
    unused slot, seen by no token).
    """

    index: torch.Tensor
    positions: torch.Tensor
    ranks: torch.Tensor
    segments: torch.Tensor


def packed_latents(layout: Layout, bottleneck_dim: int, right_aligned: bool) -> PackedLatents:
    """Left alignment: latent j of an example sits at its position j < bottleneck_dim. Right:
    the latents sit on its last bottleneck_dim positions (all of them when it is shorter)."""
    real = layout.segments != NO_EXAMPLE
    first = first_latent_position(layout.lengths, bottleneck_dim) if right_aligned else 0
    if right_aligned:
        chosen = real & (layout.positions >= first)
    else:
        chosen = real & (layout.positions < bottleneck_dim)
    counts = chosen.sum(dim=1)
    # the widest row's count rounded up to LATENT_SLOTS: fewer distinct shapes, so the CPU's
    # matrix-product kernels are reused (every new shape builds its own kernels)
    width = min(-(-max(int(counts.max()), 1) // LATENT_SLOTS) * LATENT_SLOTS, chosen.size(1))
    index = torch.argsort((~chosen).to(torch.int8), dim=1, stable=True)[:, :width]
    used = torch.arange(width, device=index.device)[None, :] < counts[:, None]
    positions = torch.where(used, layout.positions.gather(1, index), 0)
    ranks = positions
    if right_aligned:
        ranks = torch.where(used, positions - first.gather(1, index), 0)
    segments = torch.where(used, layout.segments.gather(1, index), -2)
    return PackedLatents(index, positions, ranks, segments)


def gather_rows(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x [B, T, d] at the per-example positions `index` [B, Z] -> [B, Z, d]."""
    return x.gather(1, index[..., None].expand(-1, -1, x.size(-1)))


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
        keys = torch.arange(x.size(1), device=x.device)
        mask = (keys[None, None, :] <= positions[..., None]).unsqueeze(1)  # [B, 1, m', T]
        return self.masked(x, gather_rows(x, positions), mask, positions)

    def masked(
        self,
        x: torch.Tensor,
        queries: torch.Tensor,
        mask: torch.Tensor,
        q_positions: torch.Tensor,
        k_positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Latents that start from `queries` [B, Z, d] and read the inputs that `mask` allows."""
        mask, _ = reachable(mask)  # an unused slot of a packed batch reads anything; none reads it
        z = queries + self.attn(
            self.ln1(queries), x, mask=mask, q_positions=q_positions, k_positions=k_positions
        )
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
        return self.masked(x, latents, visible.unsqueeze(1), k_positions=positions)

    def masked(
        self,
        x: torch.Tensor,
        latents: torch.Tensor,
        mask: torch.Tensor,
        q_positions: torch.Tensor | None = None,
        k_positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Each position reads the latents that `mask` [B, 1, T, Z] allows; one allowed none
        reads nothing."""
        mask, reached = reachable(mask)
        read = self.attn(
            x, self.ln1(latents), mask=mask, q_positions=q_positions, k_positions=k_positions
        )
        y = x + torch.where(reached.squeeze(1), read, 0.0)
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
        self.drop = Dropout(config.embd_pdrop)
        if config.variant == "vanilla":
            self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        elif config.variant == "chunked":  # vanilla's blocks, reading through chunk ends
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

    def set_int16_dropout(self, on: bool) -> None:
        """Draw CPU training dropout masks from 16-bit integers (`models.dropout`), or torch's way."""
        for module in self.modules():
            if isinstance(module, Dropout):
                module.int16_masks = on

    def embed(
        self, idx: torch.Tensor, offset: int = 0, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Token plus position embeddings, for positions offset.. or per token (`positions`)."""
        length = idx.size(1)
        if offset + length > self.config.block_size:
            raise ValueError(
                f"sequence of {offset + length} tokens exceeds block_size {self.config.block_size}"
            )
        x = self.tok_emb(idx)
        if self.pos_emb is not None:
            if positions is None:
                x = x + self.pos_emb[:, offset : offset + length]
            else:
                # embedding's backward sums repeated positions in a fixed order (indexing's
                # does not on CPU, so packed training would not repeat itself bit for bit)
                x = x + F.embedding(positions, self.pos_emb[0])
        return self.drop(x)

    @property
    def packing_unit(self) -> int:
        """Packed batches give each example a whole number of these (see `packing.pack`)."""
        return self.config.chunk_size if self.config.variant == "chunked" else 1

    @property
    def right_aligned(self) -> bool:
        return self.config.variant == "perceiver" and self.config.latent_alignment == "right"

    def latents(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Perceiver only: the bottleneck after the down block and the latent blocks."""
        if positions is None:
            # latent j reads inputs 0..j, so the fused way skips the later ones (the explicit
            # way masks them out of the whole block, as the reference does)
            read = x[:, : self.config.bottleneck_dim] if self.down.attn.fused else x
            z = self.down(read)
        else:
            z = self.down.aligned(x, positions)
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
        if self.config.variant == "chunked":
            return chunked_hidden(self, x)
        if self.right_aligned:
            if positions is None:
                positions = aligned_positions(idx, self.config.bottleneck_dim)
            return self.up.aligned(x, self.latents(x, positions), positions)
        return self.up(x, self.latents(x))

    def packed_hidden(self, idx: torch.Tensor, layout: Layout) -> torch.Tensor:
        """Final hidden states of a packed batch (see `packing`): each example as if alone."""
        segments, positions = layout.segments, layout.positions
        x = self.embed(idx, positions=positions)
        if self.config.variant == "chunked":
            return chunked_hidden(self, x, positions, segments)
        if self.config.variant == "vanilla":
            mask = segment_mask(segments, positions, segments, positions)
            for block in self.blocks:
                x = block(x, mask=mask, positions=positions)
            return x
        lat = packed_latents(layout, self.config.bottleneck_dim, self.right_aligned)
        if self.right_aligned:
            read = segment_mask(lat.segments, lat.positions, segments, positions)
            z = self.down.masked(x, gather_rows(x, lat.index), read, lat.positions, positions)
            among = segment_mask(lat.segments, lat.ranks, lat.segments, lat.ranks)
            for block in self.blocks:
                z = block(z, mask=among, positions=lat.ranks)
        else:
            z = self.packed_left_latents(x, layout, lat)
        write = segment_mask(segments, positions, lat.segments, lat.positions)
        return self.up.masked(x, z, write, positions, lat.positions)

    def packed_left_latents(
        self, x: torch.Tensor, layout: Layout, lat: PackedLatents
    ) -> torch.Tensor:
        """Left-aligned latents of a packed batch on its latent slots [rows, Z, d].

        Latent j of an example reads only its inputs 0..j, so the latents are computed per
        example, one example per row as in a padded batch ([examples, bottleneck_dim, d], no
        mask), and only the inputs and the up block stay packed. An example's slots past its
        end hold whatever follows it; only latents that no position reads depend on them.
        """
        rows, width, m = x.size(0), x.size(1), self.config.bottleneck_dim
        flat = x.reshape(rows * width, -1)
        first = (layout.positions == 0) & (layout.segments != NO_EXAMPLE)
        starts = first.reshape(-1).nonzero().squeeze(1)  # each example's first token
        inputs = (starts[:, None] + torch.arange(m, device=x.device)).clamp(max=flat.size(0) - 1)
        # embedding, not indexing: see `embed`
        z = self.latents(F.embedding(inputs, flat))
        slot_tokens = torch.arange(rows, device=x.device)[:, None] * width + lat.index
        example = (torch.searchsorted(starts, slot_tokens, right=True) - 1).clamp(min=0)
        return F.embedding(example * m + lat.ranks, z.reshape(-1, z.size(-1)))

    def cached_forward(self, tokens: torch.Tensor) -> CachedForward:
        """Next-position logits over `tokens` [B, T], one position after another, each reusing
        the work of the ones before (decoding; see `models.cached`)."""
        return CachedForward(self, tokens)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        layout: Layout | None = None,
    ):
        """`layout`, when given, says how `idx` packs several examples per row."""
        positions = None
        if layout is not None:
            hidden = self.packed_hidden(idx, layout)
        else:
            if self.right_aligned:
                positions = aligned_positions(idx, self.config.bottleneck_dim)
            hidden = self.hidden(idx, positions)
        logits = self.head(self.ln_f(hidden))
        loss = None
        if targets is not None:
            if self.right_aligned:  # positions before the first latent predict nothing
                if layout is not None:
                    first = first_latent_position(layout.lengths, self.config.bottleneck_dim)
                    targets = targets.masked_fill(layout.positions < first, PAD_ID)
                else:
                    rows = torch.arange(idx.size(1), device=idx.device)[None, :]
                    targets = targets.masked_fill(rows < positions[:, :1], PAD_ID)
            loss = F.cross_entropy(
                logits.view(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=PAD_ID
            )
        return logits, loss
