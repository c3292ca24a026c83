"""``every_input`` (vectorised) against the definition it stands for: ``itertools.product`` filtered by the
row predicates ``fits_padding`` and ``fits_layout``, in the same order."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from maskoracle.strategies import MaskExample
from maskoracle.strategies._internal import LAYOUTS, PADDINGS
from maskoracle.strategies.families import every_input, fits, fits_layout, fits_padding


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_input_is_the_filtered_product_in_its_order(layout: str, padding: str) -> None:
    for length in range(0, 7):
        rows = list(itertools.product((False, True), repeat=length))
        expected = [(pad, att) for pad in rows if fits_padding(pad, padding)
                    for att in rows if fits_layout(att, layout)]
        example = every_input(length, layout, padding)
        assert example.pad_masks.dtype == bool and example.att_masks.dtype == bool
        assert example.shape == (len(expected), length), (layout, padding, length)
        assert np.array_equal(example.pad_masks, np.array([pad for pad, _ in expected], dtype=bool).reshape(len(expected), length))
        assert np.array_equal(example.att_masks, np.array([att for _, att in expected], dtype=bool).reshape(len(expected), length))


def test_every_input_counts_up_to_length_8() -> None:
    assert sum(every_input(L).shape[0] for L in range(1, 9)) == 87_380  # sum of 4**L
    assert every_input(3, "causal", "right").shape == (4, 3)  # 4 right paddings x the all-1 att row


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_fits_is_every_row_fitting(layout: str, padding: str) -> None:
    rng = np.random.default_rng(0)
    for length in (1, 2, 5):
        every = every_input(length)
        for _ in range(30):
            rows = rng.integers(0, 4 ** length, rng.integers(1, 4))
            example = MaskExample(every.pad_masks[rows], every.att_masks[rows])
            expected = all(fits_layout(tuple(row), layout) for row in example.att_masks) and \
                all(fits_padding(tuple(row), padding) for row in example.pad_masks)
            assert fits(example, layout, padding) == expected
