"""Tests for ``maskoracle.strategies.rows``: the batched search's NumPy draws of many rows at once.

- every layout and padding draws numpy bool ``[rows, L]`` (at least the layout's minimum length);
- the generic layouts and the padding families obey their rules (``families.fits``);
- model layouts keep SPEC §8's att patterns: a bidirectional prefix, then their suffix;
- ``padding="any"`` reaches the corner cases real long inputs have: all-padding rows, lone real tokens, padding
  runs in the middle of a row, and rows of one batch that differ;
- lengths reach the block-count boundaries of SPEC §7 and 4,096.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis.errors import InvalidArgument

from maskoracle.strategies import BLOCK_COUNT_BOUNDARIES, LAYOUTS, PADDINGS
from maskoracle.strategies.families import GENERIC_LAYOUTS, fits, fits_layout
from maskoracle.strategies.rows import LONG_MAX_LENGTH, RowSampler, draw_length, draw_rows


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("padding", PADDINGS)
def test_rows_are_bool_batches_of_their_families(layout: str, padding: str) -> None:
    rng = np.random.default_rng(5)
    for length in (1, 2, 5, 12, 40, 300):
        example = draw_rows(rng, layout, padding, rows=64, length=length)
        B, L = example.shape
        assert B == 64 and L >= length
        assert example.pad_masks.dtype == bool and example.att_masks.dtype == bool
        if layout in GENERIC_LAYOUTS and padding != "any":
            assert fits(example, layout, padding)
        elif layout in GENERIC_LAYOUTS:
            assert all(fits_layout(tuple(row), layout) for row in example.att_masks)


@pytest.mark.parametrize("layout", ["pi0", "pi05", "pi05_subtask", "smolvla", "fast"])
def test_model_layouts_start_with_a_bidirectional_prefix(layout: str) -> None:
    example = draw_rows(np.random.default_rng(1), layout, "any", rows=200, length=30)
    first_one = example.att_masks.argmax(axis=1)
    assert (example.att_masks.any(axis=1)).all() and (first_one >= 2).all()
    if layout in ("pi05", "pi0"):
        assert (example.att_masks.sum(axis=1) == (2 if layout == "pi0" else 1)).all()
    # Their own padding: some rows padded, never the image tokens at the start.
    assert (~example.pad_masks).any() and example.pad_masks[:, 0].all()


def test_any_padding_reaches_the_corner_cases_of_real_long_inputs() -> None:
    pad = draw_rows(np.random.default_rng(2), "any", "any", rows=2000, length=64).pad_masks
    real = pad.sum(axis=1)
    assert (real == 0).any() and (real == 1).any() and (real == 64).any()
    # A run of padding strictly inside a row, real tokens on both sides.
    inside = [row for row in pad if not row.all() and row[0] and row[-1]]
    assert inside
    assert len({row.tobytes() for row in pad}) > 500  # rows of one batch differ


def test_lengths_reach_the_block_count_boundaries_and_4096() -> None:
    rng = np.random.default_rng(3)
    lengths = [draw_length(rng, "any") for _ in range(3000)]
    assert min(lengths) == 1 and max(lengths) <= LONG_MAX_LENGTH and max(lengths) > 2048
    assert {boundary for boundary in BLOCK_COUNT_BOUNDARIES if boundary in lengths}
    assert sum(length <= 12 for length in lengths) > len(lengths) / 3
    coarse = {draw_length(rng, "any", coarse=True) for _ in range(500)}
    assert len(coarse) <= 12 + 9


def test_sampler_validates_its_arguments() -> None:
    with pytest.raises(InvalidArgument, match="layout"):
        RowSampler("nope")
    with pytest.raises(InvalidArgument, match="padding"):
        draw_rows(np.random.default_rng(0), "any", "middle", rows=1, length=1)
