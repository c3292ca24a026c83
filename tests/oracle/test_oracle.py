"""Tests that make the oracle (``maskoracle/oracle/specs.py`` and ``vectorized.py``) trustworthy.

Every table and worked example of SPEC.md is reproduced here with the expected mask written out literally,
row by row, never computed by another formula. Then the loop reference and the vectorised reference are
proven equal on every ``(pad, att)`` pair up to length 6 and on random larger inputs.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maskoracle.oracle import block_ids, fast_reference_mask, reference_mask

SPECS = ("block_causal", "rowwise")
POLICIES = ("masked", "free")
# The two references: each literal table below is checked against both.
REFERENCES = {
    "reference_mask": reference_mask,
    "fast_reference_mask": lambda pad, att, spec="block_causal", pad_queries="masked": fast_reference_mask(
        np.asarray(pad, dtype=bool).reshape(1, -1) if np.ndim(pad) == 1 else np.asarray(pad, dtype=bool),
        np.asarray(att, dtype=bool).reshape(1, -1) if np.ndim(att) == 1 else np.asarray(att, dtype=bool),
        spec,
        pad_queries,
    ),
}


def table(*rows: str) -> np.ndarray:
    """A literal ``[L, L]`` bool matrix: one string per query row, '1'/'✓' = attend, '0'/'✗' = masked."""
    cells = {"1": True, "✓": True, "0": False, "✗": False}
    parsed = [[cells[c] for c in row.replace(" ", "")] for row in rows]
    assert len({len(r) for r in parsed}) == 1 and len(parsed[0]) == len(parsed), "table must be square"
    return np.array(parsed, dtype=bool)


def bits(text: str) -> list[int]:
    """``"1 0 1"`` -> ``[1, 0, 1]``; ``"T T F"`` -> ``[1, 1, 0]``."""
    return [{"1": 1, "T": 1, "0": 0, "F": 0}[t] for t in text.split()]


def assert_mask(actual: np.ndarray, expected: np.ndarray) -> None:
    """``actual`` is ``[1, L, L]`` bool and equals the literal ``expected`` ``[L, L]``, with a readable diff."""
    assert actual.dtype == np.bool_
    assert actual.shape == (1, *expected.shape)
    if not np.array_equal(actual[0], expected):
        shown = "\n".join("".join("1" if c else "0" for c in row) for row in actual[0])
        wanted = "\n".join("".join("1" if c else "0" for c in row) for row in expected)
        bad = [tuple(int(x) for x in cell) for cell in np.argwhere(actual[0] != expected)]
        pytest.fail(f"mask differs at (query, key) {bad}\nactual:\n{shown}\nexpected:\n{wanted}")


@pytest.fixture(params=sorted(REFERENCES))
def ref(request):
    return REFERENCES[request.param]


# --------------------------------------------------------------------------------------------------------------
# SPEC §2: every listed fact, literally
# --------------------------------------------------------------------------------------------------------------


def test_pure_causal_is_lower_triangle(ref):
    """SPEC §2: ``att = [1 1 1 1 1 1]`` is pure causal (lower triangle)."""
    expected = table(
        "100000",
        "110000",
        "111000",
        "111100",
        "111110",
        "111111",
    )
    assert_mask(ref([bits("1 1 1 1 1 1")], [bits("1 1 1 1 1 1")]), expected)


def test_prefix_lm(ref):
    """SPEC §2: ``att = [0 0 0 1 1 1]`` is prefix-LM: tokens 0-2 see each other and nothing after them,
    tokens 3-5 are causal."""
    expected = table(
        "111000",
        "111000",
        "111000",
        "111100",
        "111110",
        "111111",
    )
    assert_mask(ref([bits("1 1 1 1 1 1")], [bits("0 0 0 1 1 1")]), expected)


def test_four_blocks_block_ids():
    """SPEC §1/§2: ``att = [1 0 1 0 1 0 0 1 0 0]`` has four blocks {0,1} {2,3} {4,5,6} {7,8,9}."""
    ids = block_ids([bits("1 0 1 0 1 0 0 1 0 0")])
    assert ids == [[1, 1, 2, 2, 3, 3, 3, 4, 4, 4]]
    groups = [[i for i, v in enumerate(ids[0]) if v == block] for block in sorted(set(ids[0]))]
    assert groups == [[0, 1], [2, 3], [4, 5, 6], [7, 8, 9]]


def test_four_blocks_mask(ref):
    """SPEC §2: with four blocks {0,1} {2,3} {4,5,6} {7,8,9}, each sees itself and all earlier blocks."""
    expected = table(
        "1100000000",
        "1100000000",
        "1111000000",
        "1111000000",
        "1111111000",
        "1111111000",
        "1111111000",
        "1111111111",
        "1111111111",
        "1111111111",
    )
    assert_mask(ref([[1] * 10], [bits("1 0 1 0 1 0 0 1 0 0")]), expected)


def test_first_att_bit_irrelevant(ref):
    """SPEC §2: the first entry of att never matters: ``[1 0 0 1 1 1]`` and ``[0 0 0 1 1 1]`` give the same mask
    (the prefix-LM mask)."""
    expected = table(
        "111000",
        "111000",
        "111000",
        "111100",
        "111110",
        "111111",
    )
    pad = [[1] * 6]
    assert_mask(ref(pad, [bits("1 0 0 1 1 1")]), expected)
    assert_mask(ref(pad, [bits("0 0 0 1 1 1")]), expected)


def test_a_one_starts_a_bidirectional_block(ref):
    """SPEC §2: a 1 does not mean "this token is causal": with ``att = [0 0 1 0 0]`` token 2 sees tokens 3 and 4
    (same block) and token 0 does not see token 2."""
    mask = ref([[1] * 5], [bits("0 0 1 0 0")])
    expected = table(
        "11000",
        "11000",
        "11111",
        "11111",
        "11111",
    )
    assert_mask(mask, expected)
    assert mask[0, 2, 3] and mask[0, 2, 4]
    assert not mask[0, 0, 2]


def test_pi0_action_suffix_is_one_bidirectional_block(ref):
    """SPEC §2 / §7: the pi0 action suffix ``[1, 0, 0, ...]`` is one bidirectional block, not "first action
    causal"."""
    # prefix of 2 (images/lang, att 0), state (1), actions 1 0 0
    expected = table(
        "110000",
        "110000",
        "111000",
        "111111",
        "111111",
        "111111",
    )
    assert_mask(ref([[1] * 6], [bits("0 0 1 1 0 0")]), expected)


def test_padded_positions_count_in_block_id(ref):
    """SPEC §2: padded positions still count in the block id: ``pad = [1 0 1]``, ``att = [0 1 0]`` gives
    ``[[1 0 0], [0 0 0], [1 0 1]]`` - token 0 cannot see token 2."""
    expected = table(
        "100",
        "000",
        "101",
    )
    mask = ref([bits("1 0 1")], [bits("0 1 0")])
    assert_mask(mask, expected)
    assert not mask[0, 0, 2]


def test_padded_query_empty_and_padded_key_unattended(ref):
    """SPEC §2: a padded query attends to nothing, not even itself; a padded key is attended by nobody."""
    pad = [bits("1 1 0 1 1")]
    att = [bits("0 0 0 1 0")]
    expected = table(
        "11000",
        "11000",
        "00000",
        "11011",
        "11011",
    )
    mask = ref(pad, att)
    assert_mask(mask, expected)
    assert not mask[0, 2, :].any(), "padded query row must be empty (not even the diagonal)"
    assert not mask[0, :, 2].any(), "padded key column must be empty"


def test_all_zero_att_is_bidirectional_among_real_tokens(ref):
    """SPEC §2: an all-zero att (inference without subtask tokens) gives full bidirectional attention among real
    tokens."""
    expected = table(
        "10110",
        "00000",
        "10110",
        "10110",
        "00000",
    )
    assert_mask(ref([bits("1 0 1 1 0")], [bits("0 0 0 0 0")]), expected)
    assert_mask(ref([[1] * 4], [[0] * 4]), table("1111", "1111", "1111", "1111"))


# --------------------------------------------------------------------------------------------------------------
# SPEC §3: the user's worked example, as the user wrote it and as the real function computes it
# --------------------------------------------------------------------------------------------------------------

USER_PAD = [bits("T T T T T F")]  # tokens: IMG IMG LANG SUB0 SUB1 PAD
USER_ATT = [bits("F F F T T T")]

USER_BLOCK_CAUSAL = table(  # SPEC §3, column "block_causal (the real function)"
    "✓✓✓✗✗✗",  # 0 IMG
    "✓✓✓✗✗✗",  # 1 IMG
    "✓✓✓✗✗✗",  # 2 LANG
    "✓✓✓✓✗✗",  # 3 SUB0
    "✓✓✓✓✓✗",  # 4 SUB1
    "✗✗✗✗✗✗",  # 5 PAD
)
USER_EXPLANATION_TABLE = table(  # SPEC §3, column "explanation's table"
    "✓✓✓✓✓✗",
    "✓✓✓✓✓✗",
    "✓✓✓✓✓✗",
    "✓✓✓✓✗✗",
    "✓✓✓✓✓✗",
    "✗✗✗✗✗✗",
)
USER_EXPLANATION_PSEUDOCODE = table(  # SPEC §3, column "explanation's pseudo-code"
    "✓✓✓✓✓✗",
    "✓✓✓✓✓✗",
    "✓✓✓✓✓✗",
    "✓✓✓✓✗✗",
    "✓✓✓✓✓✗",
    "✓✓✓✓✓✗",
)


def test_user_example_block_causal(ref):
    """SPEC §3: the user's example under the real function (``block_causal``): rows 0-2 do not see the subtask
    tokens 3-4, the padded row is empty."""
    assert_mask(ref(USER_PAD, USER_ATT, "block_causal", "masked"), USER_BLOCK_CAUSAL)


def test_user_example_explanation_table_is_rowwise_masked(ref):
    """SPEC §3: the explanation's table is spec ``rowwise`` with pad-query policy ``masked``."""
    assert_mask(ref(USER_PAD, USER_ATT, "rowwise", "masked"), USER_EXPLANATION_TABLE)


def test_user_example_explanation_pseudocode_is_rowwise_free(ref):
    """SPEC §3/§4: the explanation's pseudo-code is ``rowwise`` with ``pad_queries="free"``: its padded row 5 is
    ✓✓✓✓✓✗."""
    mask = ref(USER_PAD, USER_ATT, "rowwise", "free")
    assert_mask(mask, USER_EXPLANATION_PSEUDOCODE)
    assert mask[0, 5].tolist() == [True, True, True, True, True, False]


def test_user_example_block_causal_free_keeps_keys_only_rows(ref):
    """SPEC §4: ``free`` drops only the padded-query term; for block_causal on the user's example the padded
    row 5 (block 3, the last) then sees every real key. Real rows are unchanged."""
    mask = ref(USER_PAD, USER_ATT, "block_causal", "free")
    assert np.array_equal(mask[0, :5], USER_BLOCK_CAUSAL[:5])
    assert mask[0, 5].tolist() == [True, True, True, True, True, False]


def test_user_example_where_explanation_is_wrong():
    """SPEC §3: the explanation and the real function differ exactly where the section says: rows 0-2 on the
    subtask keys 3-4 (table), plus the padded row 5 (pseudo-code)."""
    table_diff = {tuple(int(x) for x in c) for c in np.argwhere(USER_EXPLANATION_TABLE != USER_BLOCK_CAUSAL)}
    assert table_diff == {(0, 3), (0, 4), (1, 3), (1, 4), (2, 3), (2, 4)}
    code_diff = {tuple(int(x) for x in c) for c in np.argwhere(USER_EXPLANATION_PSEUDOCODE != USER_BLOCK_CAUSAL)}
    assert code_diff == table_diff | {(5, 0), (5, 1), (5, 2), (5, 3), (5, 4)}


# --------------------------------------------------------------------------------------------------------------
# reference_mask: input handling
# --------------------------------------------------------------------------------------------------------------

PADDED_BLOCK_EXPECTED = table("100", "000", "101")


@pytest.mark.parametrize(
    "pad, att",
    [
        pytest.param([[1, 0, 1]], [[0, 1, 0]], id="nested-int-lists"),
        pytest.param([[True, False, True]], [[False, True, False]], id="nested-bool-lists"),
        pytest.param(np.array([[True, False, True]]), np.array([[False, True, False]]), id="numpy-bool"),
        pytest.param(np.array([[1, 0, 1]]), np.array([[0, 1, 0]]), id="numpy-int64"),
        pytest.param(np.array([[1, 0, 1]], np.uint8), np.array([[0, 1, 0]], np.int8), id="numpy-small-ints"),
        pytest.param(np.array([[1.0, 0.0, 1.0]]), np.array([[0.0, 1.0, 0.0]], np.float32), id="numpy-float-0-1"),
        pytest.param([1, 0, 1], [0, 1, 0], id="1d-row-list"),
        pytest.param(np.array([True, False, True]), np.array([0, 1, 0]), id="1d-row-numpy-mixed"),
    ],
)
def test_reference_mask_accepts_input_forms(pad, att):
    """SPEC §1: pad/att are [B, L] bool, int or float holding 0/1; a single [L] row is one batch entry."""
    mask = reference_mask(pad, att)
    assert isinstance(mask, np.ndarray)
    assert_mask(mask, PADDED_BLOCK_EXPECTED)


def test_reference_mask_batch_rows_are_separate():
    """SPEC §1: a [B, L] input gives a [B, L, L] mask, row b from pad[b], att[b] alone."""
    mask = reference_mask([bits("1 0 1"), bits("1 1 1")], [bits("0 1 0"), bits("1 1 1")])
    assert mask.shape == (2, 3, 3)
    assert np.array_equal(mask[0], PADDED_BLOCK_EXPECTED)
    assert np.array_equal(mask[1], table("100", "110", "111"))


@pytest.mark.parametrize(
    "pad, att, kwargs, message",
    [
        pytest.param([[1, 2, 1]], [[0, 1, 0]], {}, r"pad\[0, 1\].*only 0/1", id="value-2-in-pad"),
        pytest.param([[1, 1, 1]], [[0, 0.5, 0]], {}, r"att\[0, 1\].*only 0/1", id="float-0.5-in-att"),
        pytest.param([[1, 1, 1]], [[0, -1, 0]], {}, r"att\[0, 1\].*only 0/1", id="negative-in-att"),
        pytest.param([[1, 1, 1]], [[0, float("nan"), 0]], {}, r"att\[0, 1\].*only 0/1", id="nan-in-att"),
        pytest.param(np.ones((1, 2, 3)), np.ones((1, 2, 3)), {}, r"pad: expected shape \[B, L\].*\[1, 2, 3\]",
                     id="3d-array"),
        pytest.param([["a", "b"]], [[0, 1]], {}, r"pad: expected 0/1 or bools", id="strings"),
        pytest.param([[1, None]], [[0, 1]], {}, r"pad: rows have different lengths or hold non-numbers",
                     id="none-value"),
        pytest.param([[1, 1, 1]], [[0, 1]], {}, r"pad_masks \[1, 3\] and att_masks \[1, 2\] must have the same shape",
                     id="mismatched-length"),
        pytest.param([[1, 1], [1, 1]], [[0, 1]], {}, r"pad_masks \[2, 2\] and att_masks \[1, 2\] must have the same",
                     id="mismatched-batch"),
        pytest.param([[1]], [[1]], {"spec": "causal"}, r"unknown spec 'causal'.*block_causal, rowwise",
                     id="unknown-spec"),
        pytest.param([[1]], [[1]], {"pad_queries": "ignore"}, r"unknown pad-query policy 'ignore'.*masked, free",
                     id="unknown-pad-queries"),
    ],
)
def test_reference_mask_rejects_bad_input(pad, att, kwargs, message):
    """SPEC §1: anything other than [B, L] 0/1 values, matching shapes, a known spec and a known policy is a
    ValueError whose message names the problem (no rounding of 0.5, no guessing)."""
    with pytest.raises(ValueError, match=message):
        reference_mask(pad, att, **kwargs)


def test_reference_mask_rejects_ragged_rows():
    """SPEC §1: ragged rows are not a [B, L] array; reference_mask raises ValueError about the shape.

    (With NumPy >= 1.24 ``np.asarray`` itself raises "inhomogeneous shape" before the oracle's own
    "rows have different lengths" message is reached; either message names the problem.)"""
    with pytest.raises(ValueError, match=r"different lengths|inhomogeneous"):
        reference_mask([[1, 0, 1], [1, 1]], [[0, 1, 0], [0, 1]])
    with pytest.raises(ValueError, match=r"different lengths|inhomogeneous"):
        reference_mask([[1, 1]], [[0, 1, 0], [0, 1]])


def test_reference_mask_ragged_rows_message_names_the_argument():
    """SPEC §1: the ragged-rows error should say which argument is ragged (as every other input error does)."""
    with pytest.raises(ValueError, match=r"^att: rows have different lengths"):
        reference_mask([[1, 0, 1], [1, 1, 1]], [[0, 1, 0], [0, 1]])


# --------------------------------------------------------------------------------------------------------------
# loop oracle == vectorised oracle
# --------------------------------------------------------------------------------------------------------------


def all_pairs(length: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ``(pad, att)`` pair of one length, as a bool batch of ``4**length`` rows."""
    rows = np.array(list(itertools.product((False, True), repeat=length)), dtype=bool)  # [2**L, L]
    pad = np.repeat(rows, len(rows), axis=0)
    att = np.tile(rows, (len(rows), 1))
    return pad, att


def test_all_pairs_is_exhaustive():
    """The exhaustive generator really yields every distinct (pad, att) pair exactly once."""
    for length in range(1, 7):
        pad, att = all_pairs(length)
        assert pad.shape == att.shape == (4**length, length)
        distinct = {(p.tobytes(), a.tobytes()) for p, a in zip(pad, att, strict=True)}
        assert len(distinct) == 4**length


@pytest.mark.parametrize("length", range(1, 7))
@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("pad_queries", POLICIES)
def test_loops_equal_vectorised_on_every_input_up_to_length_6(length, spec, pad_queries):
    """Small-scope hypothesis: ``reference_mask`` (loops) and ``fast_reference_mask`` (broadcasting) agree on
    every one of the 4**L (pad, att) pairs for L = 1..6, both specs, both pad-query policies."""
    pad, att = all_pairs(length)
    slow = reference_mask(pad, att, spec, pad_queries)
    fast = fast_reference_mask(pad, att, spec, pad_queries)
    assert slow.shape == fast.shape == (4**length, length, length)
    assert slow.dtype == fast.dtype == np.bool_
    if not np.array_equal(slow, fast):
        b, i, j = (int(x) for x in np.argwhere(slow != fast)[0])
        pytest.fail(f"differ at b={b} pad={pad[b].astype(int)} att={att[b].astype(int)} (query {i}, key {j}): "
                    f"loops {slow[b, i, j]}, vectorised {fast[b, i, j]}")


@st.composite
def batches(draw):
    batch = draw(st.integers(1, 3))
    length = draw(st.integers(1, 40))
    row = st.lists(st.booleans(), min_size=length, max_size=length)
    pad = draw(st.lists(row, min_size=batch, max_size=batch))
    att = draw(st.lists(row, min_size=batch, max_size=batch))
    dtype = draw(st.sampled_from([bool, np.int64, np.float32]))
    return np.array(pad, dtype=dtype), np.array(att, dtype=dtype)


@settings(max_examples=200, deadline=None)
@given(batches())
def test_loops_equal_vectorised_on_random_larger_inputs(pad_att):
    """The two references agree on random inputs B in 1..3, L in 1..40, every spec and pad-query policy."""
    pad, att = pad_att
    for spec in SPECS:
        for pad_queries in POLICIES:
            slow = reference_mask(pad, att, spec, pad_queries)
            fast = fast_reference_mask(pad, att, spec, pad_queries)
            assert np.array_equal(slow, fast), (spec, pad_queries)


def test_vectorised_exact_past_small_dtype_limits():
    """SPEC §7: block counts past 127 (int8), 255 (uint8), 256 (bfloat16) and 2048 (float16) must stay exact in
    the oracle itself. Pure causal over 2100 tokens is the full lower triangle (SPEC §2), and block ids count up
    to 2100."""
    length = 2100
    ones = np.ones((1, length), dtype=bool)
    mask = fast_reference_mask(ones, ones)
    assert np.array_equal(mask[0], np.tri(length, dtype=bool))
    assert block_ids(ones.tolist())[0][-3:] == [2098, 2099, 2100]


def test_loops_equal_vectorised_on_long_sequences():
    """The two references agree on long sequences (600 tokens, more than 300 blocks): random att, a padded
    tail, and a pi0.5-with-subtasks-like layout (long 0 prefix, a run of 1s, a 1 0 0 ... action block)."""
    rng = np.random.default_rng(0)
    length = 600
    pad = np.ones((3, length), dtype=bool)
    pad[1, 550:] = False
    pad[2] = rng.random(length) < 0.9
    att = np.zeros((3, length), dtype=bool)
    att[0] = rng.random(length) < 0.6
    att[1, 200:520] = True
    att[2] = rng.random(length) < 0.5
    for spec in SPECS:
        for pad_queries in POLICIES:
            assert np.array_equal(reference_mask(pad, att, spec, pad_queries),
                                  fast_reference_mask(pad, att, spec, pad_queries)), (spec, pad_queries)


def test_vectorised_rejects_unknown_spec():
    """fast_reference_mask does not silently pick a spec for an unknown name."""
    with pytest.raises(ValueError, match="unknown spec 'causal'"):
        fast_reference_mask(np.ones((1, 3), bool), np.ones((1, 3), bool), "causal")


def test_vectorised_rejects_unknown_pad_query_policy():
    """SPEC §4 has two policies; an unknown one must be refused, as reference_mask does."""
    with pytest.raises(ValueError, match="unknown pad-query policy"):
        fast_reference_mask(np.array([[1, 0]], bool), np.array([[0, 0]], bool), pad_queries="Masked")


def test_empty_sequence():
    """L = 0 is accepted by both references and gives an empty [B, 0, 0] mask."""
    assert reference_mask([[]], [[]]).shape == (1, 0, 0)
    assert fast_reference_mask(np.zeros((2, 0), bool), np.zeros((2, 0), bool)).shape == (2, 0, 0)


# --------------------------------------------------------------------------------------------------------------
# SPEC §2 properties
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("pad_queries", POLICIES)
def test_appending_tokens_never_changes_earlier_submask(spec, pad_queries):
    """SPEC §2: appending tokens never changes the mask among the earlier tokens (checked on every input of
    length 5 and every prefix length; it holds for rowwise too, whose row rule only reads i, j, att[i])."""
    pad, att = all_pairs(5)
    full = reference_mask(pad, att, spec, pad_queries)
    for length in range(1, 5):
        prefix = reference_mask(pad[:, :length], att[:, :length], spec, pad_queries)
        assert np.array_equal(prefix, full[:, :length, :length]), length


def test_appending_tokens_never_changes_earlier_block_ids():
    """SPEC §2: block ids of earlier tokens are unchanged by appending."""
    _, att = all_pairs(5)
    full = block_ids(att.tolist())
    for length in range(1, 5):
        assert block_ids(att[:, :length].tolist()) == [row[:length] for row in full]


def test_block_ids_is_inclusive_cumsum_counting_padded_positions():
    """SPEC §1: ``block[b, i] = att[b, 0] + ... + att[b, i]``; padded positions count too (block_ids does not
    even take pad), so in ``pad = [1 0 1], att = [0 1 0]`` token 2 is in block 1, not token 0's block 0."""
    assert block_ids([[0, 1, 0]]) == [[0, 1, 1]]
    assert block_ids([[1, 1, 1, 1]]) == [[1, 2, 3, 4]]
    assert block_ids([[0, 0, 0]]) == [[0, 0, 0]]
    assert block_ids([[1, 0, 0, 1], [0, 0, 1, 1]]) == [[1, 1, 1, 2], [0, 0, 1, 2]]
    assert block_ids([[True, False, True]]) == [[1, 1, 2]]
    # the padded position 1 starts block 1: the mask must keep token 0 from seeing token 2
    mask = reference_mask([[1, 0, 1]], [[0, 1, 0]])
    assert not mask[0, 0, 2] and mask[0, 2, 0]


def test_block_ids_matches_spec_formula_exhaustively():
    """SPEC §1, checked against the sum written out, on every att row up to length 6."""
    for length in range(1, 7):
        rows = [list(r) for r in itertools.product((0, 1), repeat=length)]
        ids = block_ids(rows)
        for row, row_ids in zip(rows, ids, strict=True):
            assert row_ids == [sum(row[: i + 1]) for i in range(length)]


@pytest.mark.parametrize("length", [1, 2, 3, 4, 5])
def test_block_causal_matches_the_spec_sentence(length):
    """SPEC §2, read as a sentence: a real token sees every real token of its own block and of every earlier
    block. Checked cell by cell on every input of lengths 1..5 using block_ids and the words, not the formula's
    vectorisation."""
    pad, att = all_pairs(length)
    mask = reference_mask(pad, att)
    ids = block_ids(att.tolist())
    for b in range(len(pad)):
        for i in range(length):
            sees = {j for j in range(length) if mask[b, i, j]}
            if not pad[b, i]:
                assert sees == set()
                continue
            own_or_earlier = {j for j in range(length) if pad[b, j] and ids[b][j] <= ids[b][i]}
            assert sees == own_or_earlier
