"""How the FlexAttention kinds are evaluated cheaply: one flat vmap for small masks, a BlockMask's mask_mod cells
taken from its own ``create_block_mask`` rather than computed a second time. The cells must not change."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
flex_attention = pytest.importorskip("torch.nn.attention.flex_attention")

from maskoracle.adapters.flex import (  # noqa: E402
    FLAT_VMAP_MAX_CELLS,
    MaskModError,
    block_mask_to_dense,
    materialise_mask_mod,
    recording_create_mask,
    wrap_kind,
)
from maskoracle.implementations.flex import block_causal_block_mask, block_causal_mask_mod  # noqa: E402
from tests.fixtures import attention_fixtures as fixtures  # noqa: E402

MASK_MODS = [block_causal_mask_mod, fixtures.strict_less_mask_mod, fixtures.ignores_padding_mask_mod]
SHAPES = [(1, 1), (3, 5), (4, 12), (2, 50)]  # the last is past FLAT_VMAP_MAX_CELLS: the nested form


def _inputs(B: int, L: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.random((B, L)) < 0.7), torch.from_numpy(rng.random((B, L)) < 0.5)


@pytest.mark.parametrize("factory", MASK_MODS, ids=lambda fn: fn.__name__)
@pytest.mark.parametrize(("B", "L"), SHAPES)
def test_materialised_cells_are_create_masks(factory, B: int, L: int) -> None:
    pad, att = _inputs(B, L, seed=B * 100 + L)
    mask_mod = factory(pad, att)
    for heads in (1, 2):
        expected = flex_attention.create_mask(mask_mod, B, heads, L, L, device="cpu")
        assert torch.equal(materialise_mask_mod(mask_mod, B, L, "cpu", heads), expected)
    assert (B * L * L <= FLAT_VMAP_MAX_CELLS) == (L <= 12)


def test_unusable_mask_mods_fail_as_before_on_small_masks() -> None:
    pad, att = _inputs(2, 4, seed=0)
    with pytest.raises(MaskModError, match="vmap"):
        materialise_mask_mod(fixtures.python_if_mask_mod(pad, att), 2, 4)
    with pytest.raises(MaskModError, match="dtype"):
        materialise_mask_mod(fixtures.integer_mask_mod(pad, att), 2, 4)


def _counting(factory):
    calls = []

    def counted_factory(pad, att):
        mask_mod = factory(pad, att)

        def counted(b, h, q_idx, kv_idx):
            calls.append(1)
            return mask_mod(b, h, q_idx, kv_idx)

        return counted

    return counted_factory, calls


@pytest.mark.parametrize(("B", "L"), [(1, 3), (3, 7), (2, 130)])
def test_a_block_mask_is_evaluated_once_and_decoded_to_the_same_cells(B: int, L: int) -> None:
    mask_mod_factory, calls = _counting(block_causal_mask_mod)

    def factory(pad, att):
        return flex_attention.create_block_mask(mask_mod_factory(pad, att), B, None, L, L, device="cpu",
                                                _compile=False)

    pad, att = _inputs(B, L, seed=L)
    decoded = wrap_kind(factory, "block_mask")(pad, att)
    assert len(calls) == 1  # create_block_mask's evaluation only (vmap calls the Python function once)
    block_mask = factory(pad, att)
    assert torch.equal(decoded, block_mask_to_dense(block_mask, B, L))  # evaluated again: the same cells
    assert torch.equal(decoded, block_mask_to_dense(block_causal_block_mask(pad, att), B, L))


def test_a_block_mask_built_for_row_zero_is_still_evaluated_for_every_row() -> None:
    # B=None: create_block_mask evaluates the mask_mod for one row only; the decoding needs every row's cells.
    pad = torch.tensor([[True, True, True], [True, True, False]])
    att = torch.ones((2, 3), dtype=torch.bool)
    mask_mod_factory, calls = _counting(block_causal_mask_mod)

    def factory(pad, att):
        return flex_attention.create_block_mask(mask_mod_factory(pad, att), None, None, 3, 3, device="cpu",
                                                _compile=False)

    decoded = wrap_kind(factory, "block_mask")(pad, att)
    assert len(calls) == 2
    assert not decoded[1, 0, 2, 2]  # row 1's padded query, read from row 1's own cells
    assert decoded[0, 0, 2, 2]


def test_the_recorder_puts_create_mask_back() -> None:
    original = flex_attention.create_mask
    with pytest.raises(RuntimeError), recording_create_mask():
        assert flex_attention.create_mask is not original
        raise RuntimeError
    assert flex_attention.create_mask is original
