"""The chunked body computes what its attention pattern says, at a cost linear in the length."""

from __future__ import annotations

import pytest
import torch

from knowledge_probe.models.chunked import chunked_mask
from knowledge_probe.models.gpt import GPT

CHUNK, WINDOW, LENGTH = 4, 2, 32


def dense_logits(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """The same blocks over the whole sequence with the pattern as an explicit [T, T] mask."""
    positions = torch.arange(idx.size(1))
    mask = chunked_mask(positions, positions, CHUNK, WINDOW)
    x = model.embed(idx)
    for block in model.blocks:
        h = block.ln1(x)
        x = x + block.attn(h, h, mask=mask)
        x = x + block.mlp(block.ln2(x))
    return model.head(model.ln_f(x))


@pytest.mark.parametrize("position", ["learned", "rotary"])
@pytest.mark.parametrize("length", [5, 16, LENGTH])
def test_chunked_forward_equals_the_dense_pattern(make_config, sensitive, position, length):
    torch.manual_seed(0)
    config = make_config(
        variant="chunked", chunk_size=CHUNK, chunk_window=WINDOW, n_layer=3, position=position
    )
    model = sensitive(GPT(config))
    idx = torch.randint(2, 24, (3, length), generator=torch.Generator().manual_seed(length))
    with torch.no_grad():
        torch.testing.assert_close(model(idx)[0], dense_logits(model, idx), atol=1e-5, rtol=1e-5)


def test_short_rows_masked_densely_read_what_the_chunks_read(make_config, sensitive):
    """Rows no longer than one chunk's keys (WINDOW + 2 CHUNK) run the blocks with one [T, T]
    mask; a row one longer runs them chunk by chunk, and its prefix must give the same logits."""
    torch.manual_seed(0)
    config = make_config(variant="chunked", chunk_size=CHUNK, chunk_window=WINDOW, n_layer=3)
    model = sensitive(GPT(config))
    dense_length = WINDOW + 2 * CHUNK
    idx = torch.randint(2, 24, (2, dense_length + 1), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        dense = model(idx[:, :dense_length])[0]
        chunked = model(idx)[0][:, :dense_length]
    torch.testing.assert_close(dense, chunked, atol=1e-5, rtol=1e-5)


def test_one_block_reads_a_sliding_window_and_the_window_of_chunk_ends(make_config, sensitive):
    """With one block, a token reaches the `CHUNK` positions from itself on, wherever the chunk
    boundaries fall; a chunk end also reaches the rest of the `WINDOW` chunks after its own."""
    torch.manual_seed(0)
    config = make_config(variant="chunked", chunk_size=CHUNK, chunk_window=WINDOW, n_layer=1)
    model = sensitive(GPT(config))
    idx = torch.randint(2, 24, (1, LENGTH), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        base = model(idx)[0]
        for t in (1, 3, 9, 11):
            changed = idx.clone()
            changed[0, t] = (changed[0, t] - 2 + 1) % 22 + 2
            moved = (model(changed)[0] - base).abs().amax(dim=-1)[0] > 1e-4
            reached = {p for p in range(LENGTH) if moved[p]}
            local = set(range(t, t + CHUNK))
            later = set()
            if t % CHUNK == CHUNK - 1:
                later = set(range(t + 1, (t // CHUNK + 1 + WINDOW) * CHUNK))
            assert reached == local | later, t


def test_chunked_has_the_parameters_of_vanilla_and_validates_its_chunks(make_config):
    assert (
        GPT(make_config(variant="chunked")).num_parameters() == GPT(make_config()).num_parameters()
    )
    with pytest.raises(ValueError, match="multiple of chunk_size"):
        make_config(variant="chunked", block_size=30, chunk_size=4)
