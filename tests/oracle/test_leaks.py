"""Multi-layer reachability and leaks (``maskoracle.oracle.leaks``; SPEC §2 last facts, §3)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maskoracle.oracle import INVARIANTS, find_leaks, reachability, reference_mask

USER_PAD, USER_ATT = [[1, 1, 1, 1, 1, 0]], [[0, 0, 0, 1, 1, 1]]


def test_users_example_under_rowwise_leaks_sub1_through_img0_into_sub0() -> None:
    mask = reference_mask(USER_PAD, USER_ATT, "rowwise")
    leaks = find_leaks(mask, np.array(USER_PAD, dtype=bool), layers=2)
    assert [(leak.reader, leak.source, leak.path) for leak in leaks] == [(3, 4, (3, 0, 4))]
    assert leaks[0].shortest_paths == 3  # through IMG0, IMG1 or LANG
    # The direction agrees with the existing invariant: path = (reader, via, source).
    violation = INVARIANTS["no_multilayer_leak"].mask_violation(mask, np.array(USER_PAD), np.array(USER_ATT))
    assert violation is not None and violation.path == leaks[0].path


def test_users_example_under_block_causal_has_no_leak_at_any_depth() -> None:
    mask = reference_mask(USER_PAD, USER_ATT)
    assert find_leaks(mask, np.array(USER_PAD, dtype=bool), layers=6) == []


def test_block_causal_never_leaks_exhaustively_up_to_length_5() -> None:
    # SPEC §2: "may attend" restricted to real tokens is transitive.
    for L in range(1, 6):
        rows = list(itertools.product(itertools.product((0, 1), repeat=L), repeat=2))
        pad = np.array([row[0] for row in rows], dtype=bool)
        att = np.array([row[1] for row in rows], dtype=bool)
        assert find_leaks(reference_mask(pad, att), pad, layers=L) == []


def test_a_leak_that_needs_three_layers_is_found_only_with_three() -> None:
    # 0 reads 1, 1 reads 2, 2 reads 3 (and each token itself): a chain.
    mask = (np.eye(4, dtype=bool) | np.eye(4, k=1, dtype=bool))[None]
    pad = np.ones((1, 4), dtype=bool)
    two = find_leaks(mask, pad, layers=2)
    assert [leak.path for leak in two] == [(0, 1, 2), (1, 2, 3)]
    three = find_leaks(mask, pad, layers=3)
    assert [leak.path for leak in three] == [(0, 1, 2), (1, 2, 3), (0, 1, 2, 3)]  # shortest first
    assert find_leaks(mask, pad, layers=1) == []


def _closure(mask: np.ndarray, pad: np.ndarray, layers: int) -> np.ndarray:
    """Reachability by boolean matrix powers: an independent formulation."""
    step = mask & pad[:, None, :] & pad[:, :, None]
    reach = step.copy()
    power = step.copy()
    for _ in range(layers - 1):
        power = (power.astype(int) @ step.astype(int)) > 0
        reach |= power
    return reach


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 7), st.integers(1, 4), st.data())
def test_reachability_equals_boolean_matrix_powers(L: int, layers: int, data: st.DataObject) -> None:
    bits = data.draw(st.lists(st.booleans(), min_size=L * L, max_size=L * L))
    mask = np.array(bits, dtype=bool).reshape(1, L, L)
    pad = np.array(data.draw(st.lists(st.booleans(), min_size=L, max_size=L)), dtype=bool).reshape(1, L)
    reach = reachability(mask, pad, layers)
    assert np.array_equal(reach[0], _closure(mask, pad[0][None], layers)[0])
    leaks = find_leaks(mask, pad, layers)
    expected_pairs = {(int(i), int(j)) for i, j in np.argwhere(reach[0] & ~mask[0])}
    assert {(leak.reader, leak.source) for leak in leaks} == expected_pairs
    step = (mask & pad[:, None, :] & pad[:, :, None])[0].astype(np.int64)
    for leak in leaks:  # every path is made of allowed steps and is no longer than the layers
        assert all(mask[0, a, b] for a, b in itertools.pairwise(leak.path)) and leak.layers <= layers
        # and is a shortest one: no walk is shorter, and the count is that of walks of this length
        walks = [np.linalg.matrix_power(step, n)[leak.reader, leak.source] for n in range(1, leak.layers + 1)]
        assert all(count == 0 for count in walks[:-1]) and walks[-1] == leak.shortest_paths


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="layers"):
        find_leaks(np.ones((1, 2, 2), dtype=bool), np.ones((1, 2), dtype=bool), layers=0)
    with pytest.raises(ValueError, match=r"\[B, L, L\]"):
        find_leaks(np.ones((2, 2), dtype=bool), np.ones((1, 2), dtype=bool))
