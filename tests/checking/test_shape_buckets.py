"""Fewer input shapes where every shape compiles (JAX): the medium-length menu and full batches of equivalence's
Hypothesis search, and the bug kinds of the zoo, written in JAX, still killed through them."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.errors import InvalidArgument

from maskoracle.checking.plans.mask import MEDIUM_MENU_SIZE, full_batch, medium_menu
from maskoracle.strategies import MEDIUM_MAX_LENGTH, SMALL_MAX_LENGTH, MaskExample, mask_examples

MEDIUM = range(SMALL_MAX_LENGTH + 1, MEDIUM_MAX_LENGTH + 1)


def test_full_batch_repeats_the_rows_in_turn() -> None:
    pad = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1]], dtype=bool)
    att = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 0]], dtype=bool)
    full = full_batch(MaskExample(pad, att))
    assert full.shape == (4, 3)
    assert np.array_equal(full.pad_masks, pad[[0, 1, 2, 0]]) and np.array_equal(full.att_masks, att[[0, 1, 2, 0]])


def test_full_batch_leaves_full_and_long_batches_alone() -> None:
    full = MaskExample(np.ones((4, 5), bool), np.ones((4, 5), bool))
    long = MaskExample(np.ones((1, MEDIUM_MAX_LENGTH + 1), bool), np.ones((1, MEDIUM_MAX_LENGTH + 1), bool))
    assert full_batch(full) is full and full_batch(long) is long


def test_the_medium_menu_is_the_seeds_and_every_medium_length_is_some_seeds() -> None:
    assert medium_menu(7) == medium_menu(7)
    menus = [medium_menu(seed) for seed in range(1000)]
    assert all(len(set(menu)) == MEDIUM_MENU_SIZE and set(menu) <= set(MEDIUM) for menu in menus)
    assert len(set(menus)) > 900
    assert {length for menu in menus for length in menu} == set(MEDIUM)  # a length-specific bug stays reachable


@settings(max_examples=200, database=None)
@given(mask_examples(medium_lengths=(20, 77)))
def test_medium_inputs_take_the_menus_lengths(example: MaskExample) -> None:
    L = example.shape[1]
    assert L <= SMALL_MAX_LENGTH or L in (20, 77) or L > MEDIUM_MAX_LENGTH


@pytest.mark.parametrize("menu", [[], [12], [161], [20, "30"], 40])
def test_a_bad_medium_menu_is_refused(menu) -> None:
    with pytest.raises(InvalidArgument, match="medium_lengths"):
        mask_examples(medium_lengths=menu)


# --- through JAX ----------------------------------------------------------------------------------------------

jax = pytest.importorskip("jax", reason="needs JAX: pip install 'maskoracle[jax]'")
jnp = pytest.importorskip("jax.numpy")

from maskoracle import check  # noqa: E402
from maskoracle.implementations.jax import block_causal  # noqa: E402

RUN = {"framework": "jax", "seed": 0, "db": "none", "checks": ["equivalence"]}


def _mask(blocks, pad_keys, pad_queries):
    return (blocks[:, None, :] <= blocks[:, :, None]) & pad_keys[:, None, :] & pad_queries[:, :, None]


@jax.jit
def strict_less(pad, att):
    blocks = jnp.cumsum(att != 0, axis=1)
    return (blocks[:, None, :] < blocks[:, :, None]) & pad[:, None, :] & pad[:, :, None]


@jax.jit
def first_row_padding(pad, att):
    return _mask(jnp.cumsum(att != 0, axis=1), pad[:1], pad[:1])


@jax.jit
def last_row_padding(pad, att):
    return _mask(jnp.cumsum(att != 0, axis=1), pad[-1:], pad[-1:])


@jax.jit
def int8_blocks(pad, att):
    return _mask(jnp.cumsum(att != 0, axis=1, dtype=jnp.int8), pad, pad)


@jax.jit
def medium_rows_keys_only(pad, att):
    mask = _mask(jnp.cumsum(att != 0, axis=1), pad, pad)
    if pad.shape[1] > SMALL_MAX_LENGTH:  # a path for longer rows that forgets the padded queries
        return _mask(jnp.cumsum(att != 0, axis=1), pad, jnp.ones_like(pad))
    return mask


@pytest.mark.parametrize("bug", [strict_less, first_row_padding, last_row_padding, int8_blocks,
                                 medium_rows_keys_only], ids=lambda fn: fn.__name__)
def test_jax_twins_of_the_zoos_bugs_are_killed_by_the_bucketed_search(bug) -> None:
    report = check(bug, **RUN)
    assert not report.passed
    counterexample = report.checks[0].counterexample
    assert counterexample is not None
    if bug is int8_blocks:
        assert counterexample.shape[1] > 127  # needs length, and kept it
    elif bug is medium_rows_keys_only:
        assert SMALL_MAX_LENGTH < counterexample.shape[1] <= 16  # the shortest length that takes the path
    else:
        assert counterexample.shape[1] <= 4


def test_a_jax_equivalence_search_compiles_few_shapes() -> None:
    shapes: collections.Counter = collections.Counter()

    def counted(pad, att):
        shapes[tuple(pad.shape)] += 1
        return block_causal(pad, att)

    report = check(counted, **RUN)
    assert report.passed
    # Batches of fewer than 4 rows only where they are long (Hypothesis' long inputs are single rows); the
    # Hypothesis search's medium inputs only at the menu's lengths (the batched search has lengths of its own).
    assert all(L > MEDIUM_MAX_LENGTH for B, L in shapes if B < 4), sorted(shapes)
    hypothesis_medium = {L for B, L in shapes if B == 4 and SMALL_MAX_LENGTH < L <= MEDIUM_MAX_LENGTH}
    assert hypothesis_medium <= {*medium_menu(0), 16, 32, 64, 128, 160}, sorted(shapes)
