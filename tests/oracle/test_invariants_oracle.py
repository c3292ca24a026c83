"""Tests that make the named invariants (``maskoracle/oracle/invariants.py``) trustworthy.

Three directions:
- exhaustively, every invariant SPEC claims for a spec holds on every input up to length 6, and for ``rowwise``
  the invariants that fail somewhere are exactly the ones SPEC says fail;
- the multi-layer leak of SPEC §3 is found on the user's example, with the path through a real token;
- every invariant is shown able to fail, on a deliberately wrong mask, at the right cell.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from maskoracle.oracle import INVARIANTS, Violation, fast_reference_mask, invariants_for, reference_mask

SPECS = ("block_causal", "rowwise")
POLICIES = ("masked", "free")

ALL_NAMES = {
    "padded_keys_never_attended",
    "padded_queries_empty",
    "real_query_sees_itself",
    "full_block_rows",
    "all_zero_att_bidirectional",
    "all_one_att_causal",
    "first_att_bit_irrelevant",
    "appending_preserves_prefix",
    "batch_rows_independent",
    "no_multilayer_leak",
}
# SPEC §3: what the explanation's per-row model (rowwise) breaks.
ROWWISE_BREAKS = {"full_block_rows", "first_att_bit_irrelevant", "no_multilayer_leak"}
METAMORPHIC = {
    "all_zero_att_bidirectional",
    "all_one_att_causal",
    "first_att_bit_irrelevant",
    "appending_preserves_prefix",
    "batch_rows_independent",
}

# SPEC §3: the user's worked example. tokens: IMG IMG LANG SUB0 SUB1 PAD
USER_PAD = np.array([[1, 1, 1, 1, 1, 0]], dtype=bool)
USER_ATT = np.array([[0, 0, 0, 1, 1, 1]], dtype=bool)


def arr(*rows: str) -> np.ndarray:
    """``arr("1 0 1", "1 1 1")`` -> bool ``[B, L]``."""
    return np.array([[c == "1" for c in row.split()] for row in rows], dtype=bool)


def all_pairs(length: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ``(pad, att)`` pair of one length, as a bool batch of ``4**length`` rows."""
    rows = np.array(list(itertools.product((False, True), repeat=length)), dtype=bool)
    return np.repeat(rows, len(rows), axis=0), np.tile(rows, (len(rows), 1))


def spec_compute(spec: str, pad_queries: str = "masked"):
    """The oracle's own mask for ``spec`` as a compute function (vectorised: proven equal to the loops in
    test_oracle.py)."""
    return lambda pad, att: fast_reference_mask(pad, att, spec, pad_queries)


# --------------------------------------------------------------------------------------------------------------
# the registry itself
# --------------------------------------------------------------------------------------------------------------


def test_registry_names_and_flags():
    """The invariant set of SPEC §2, with the metamorphic / masked-pad-query flags it must have."""
    assert set(INVARIANTS) == ALL_NAMES
    assert all(name == inv.name for name, inv in INVARIANTS.items())
    assert {inv.name for inv in INVARIANTS.values() if inv.metamorphic} == METAMORPHIC
    assert {inv.name for inv in INVARIANTS.values() if inv.needs_masked_pad_queries} == {"padded_queries_empty"}


def test_invariants_for_each_spec():
    """SPEC §2: every invariant holds for block_causal; SPEC §3: rowwise breaks exactly three of them."""
    assert {inv.name for inv in invariants_for("block_causal")} == ALL_NAMES
    assert {inv.name for inv in invariants_for("rowwise")} == ALL_NAMES - ROWWISE_BREAKS
    assert [inv.name for inv in invariants_for("block_causal")] == list(INVARIANTS)  # fixed order
    assert invariants_for("no_such_spec") == []


# --------------------------------------------------------------------------------------------------------------
# exhaustive: what holds, and (rowwise) exactly what fails
# --------------------------------------------------------------------------------------------------------------

LENGTHS = range(1, 7)


@pytest.mark.parametrize("pad_queries", POLICIES)
@pytest.mark.parametrize("length", LENGTHS)
def test_block_causal_satisfies_every_invariant_exhaustively(length, pad_queries):
    """SPEC §2: every invariant in ``invariants_for("block_causal")`` holds for block_causal on every (pad, att)
    pair of length L, under both pad-query policies (the compute uses the same policy, so under ``free`` its
    padded rows are the keys-only garbage that SPEC §4 allows)."""
    pad, att = all_pairs(length)
    compute = spec_compute("block_causal", pad_queries)
    for inv in invariants_for("block_causal"):
        found = inv.violation(compute, pad, att, pad_queries)
        assert found is None, f"{inv.name}: {found}"


@pytest.mark.parametrize("pad_queries", POLICIES)
def test_rowwise_fails_exactly_the_invariants_spec_says(pad_queries):
    """SPEC §3: on every (pad, att) pair up to length 6, the invariants rowwise violates for at least one input
    are exactly full_block_rows, first_att_bit_irrelevant and no_multilayer_leak (the ones missing from
    ``invariants_for("rowwise")``); every invariant in ``invariants_for("rowwise")`` holds everywhere."""
    compute = spec_compute("rowwise", pad_queries)
    failing: dict[str, Violation] = {}
    for length in LENGTHS:
        pad, att = all_pairs(length)
        for inv in INVARIANTS.values():
            if inv.name in failing:
                continue
            found = inv.violation(compute, pad, att, pad_queries)
            if found is not None:
                assert found.invariant == inv.name
                failing[inv.name] = found
    assert set(failing) == ROWWISE_BREAKS
    assert set(failing) == ALL_NAMES - {inv.name for inv in invariants_for("rowwise")}


def test_loop_reference_satisfies_invariants_on_small_inputs():
    """Same as the exhaustive check, but with the loop oracle ``reference_mask`` itself as compute (L <= 4)."""
    for length in range(1, 5):
        pad, att = all_pairs(length)
        for spec in SPECS:
            for pad_queries in POLICIES:
                compute = lambda p, a, s=spec, q=pad_queries: reference_mask(p, a, s, q)  # noqa: E731
                for inv in invariants_for(spec):
                    assert inv.violation(compute, pad, att, pad_queries) is None, (spec, pad_queries, inv.name)


# --------------------------------------------------------------------------------------------------------------
# SPEC §3: the leak path
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pad_queries", POLICIES)
def test_user_example_rowwise_leaks_sub1_to_sub0_through_a_real_token(pad_queries):
    """SPEC §3: under the explanation's rule, SUB0 (token 3) may not read SUB1 (token 4) but reads it after two
    layers through a bidirectional real token 0..2 (IMG0, IMG1 or LANG), which itself reads SUB1."""
    leak = INVARIANTS["no_multilayer_leak"]
    found = leak.violation(spec_compute("rowwise", pad_queries), USER_PAD, USER_ATT, pad_queries)
    assert isinstance(found, Violation)
    assert found.invariant == "no_multilayer_leak"
    assert (found.batch, found.query, found.key) == (0, 3, 4)
    assert found.path is not None and len(found.path) == 3
    reader, via, source = found.path
    assert found.path[0] == 3 and found.path[-1] == 4
    assert via in (0, 1, 2)
    # the path is real: 3 cannot see 4 in one layer, but 3 sees via and via sees 4
    mask = reference_mask(USER_PAD, USER_ATT, "rowwise", pad_queries)
    assert not mask[0, 3, 4] and mask[0, 3, via] and mask[0, via, 4]
    # the message names the path, in the direction information flows (SUB1 -> via -> SUB0)
    assert f"{source} -> {via} -> {reader}" in found.message
    assert "token 3" in found.message and "token 4" in found.message


@pytest.mark.parametrize("pad_queries", POLICIES)
def test_user_example_block_causal_has_no_leak(pad_queries):
    """SPEC §3: the real function blocks IMG/LANG from the subtask tokens, so there is no two-layer path."""
    leak = INVARIANTS["no_multilayer_leak"]
    assert leak.violation(spec_compute("block_causal", pad_queries), USER_PAD, USER_ATT, pad_queries) is None
    compute = lambda p, a: reference_mask(p, a, "block_causal", pad_queries)  # noqa: E731
    assert leak.violation(compute, USER_PAD, USER_ATT, pad_queries) is None


# --------------------------------------------------------------------------------------------------------------
# every invariant can fail: deliberately wrong masks
# --------------------------------------------------------------------------------------------------------------


def _correct(pad, att):
    return fast_reference_mask(pad, att)


def _attends_padded_keys(pad, att):
    """Padding applied to queries only (SPEC §7: "padding only on keys", mirrored)."""
    return fast_reference_mask(np.ones_like(pad), att) & pad[:, :, None]


def _keys_only_padding(pad, att):
    """Padded query rows left full (what a keys-only mask computes)."""
    return fast_reference_mask(pad, att, pad_queries="free")


def _no_diagonal(pad, att):
    return fast_reference_mask(pad, att) & ~np.eye(pad.shape[1], dtype=bool)[None]


def _strict_less_than(pad, att):
    """SPEC §7 off-by-one: ``<`` for ``<=`` in the block comparison."""
    block = np.cumsum(att, axis=1)
    return pad[:, :, None] & pad[:, None, :] & (block[:, None, :] < block[:, :, None])


def _rowwise(pad, att):
    return fast_reference_mask(pad, att, "rowwise")


def _ignores_att_causal(pad, att):
    return fast_reference_mask(pad, np.ones_like(att))


def _ignores_att_bidirectional(pad, att):
    return fast_reference_mask(pad, np.zeros_like(att))


def _transposed(pad, att):
    """SPEC §7: transposed comparison."""
    return fast_reference_mask(pad, att).transpose(0, 2, 1)


def _exclusive_cumsum(pad, att):
    """Block ids as an exclusive cumsum: att[:, 0] now decides whether token 0 shares token 1's block."""
    block = np.concatenate([np.zeros_like(att[:, :1], dtype=np.int64), np.cumsum(att, axis=1)[:, :-1]], axis=1)
    return pad[:, :, None] & pad[:, None, :] & (block[:, None, :] <= block[:, :, None])


def _drops_last_token(pad, att):
    """Off-by-one in the length: the last position is always treated as padding."""
    keep = np.arange(pad.shape[1]) < pad.shape[1] - 1
    return fast_reference_mask(pad & keep[None], att)


def _everyone_sees_last_token(pad, att):
    """A "register" at the end that every real token reads: earlier rows change when tokens are appended."""
    mask = fast_reference_mask(pad, att)
    mask[:, :, -1] |= pad & pad[:, -1:]
    return mask


def _first_row_padding_for_all(pad, att):
    """SPEC §7: one batch row's padding applied to every row."""
    return fast_reference_mask(np.broadcast_to(pad[:1], pad.shape), att)


def _cumsum_over_batch_axis(pad, att):
    block = np.cumsum(att, axis=0)
    return pad[:, :, None] & pad[:, None, :] & (block[:, None, :] <= block[:, :, None])


def _window_of_two(pad, att):
    """Sliding window: each token sees itself and the token before it (not transitive)."""
    L = pad.shape[1]
    band = np.tri(L, dtype=bool) & ~np.tri(L, k=-2, dtype=bool)
    return pad[:, :, None] & pad[:, None, :] & band[None]


# (invariant, wrong compute, pad, att, expected (batch, query, key))
BROKEN = [
    ("padded_keys_never_attended", _attends_padded_keys, arr("1 0 1"), arr("0 0 0"), (0, 0, 1)),
    ("padded_keys_never_attended", _rowwise, arr("1 1 0"), arr("0 0 0"), None),  # rowwise masks keys fine
    ("padded_queries_empty", _keys_only_padding, arr("1 1 0"), arr("0 0 0"), (0, 2, 0)),
    ("real_query_sees_itself", _no_diagonal, arr("0 1 1"), arr("0 0 0"), (0, 1, 1)),
    ("real_query_sees_itself", _strict_less_than, arr("0 1 1"), arr("1 1 1"), (0, 1, 1)),
    ("full_block_rows", _rowwise, arr("1 1 1"), arr("0 1 0"), (0, 1, 2)),
    ("full_block_rows", _strict_less_than, arr("1 1 1"), arr("0 1 0"), (0, 0, 0)),
    ("all_zero_att_bidirectional", _ignores_att_causal, arr("1 1 1"), arr("0 1 1"), (0, 0, 1)),
    ("all_zero_att_bidirectional", _ignores_att_causal, arr("1 0 1"), arr("0 0 0"), (0, 0, 2)),
    ("all_one_att_causal", _ignores_att_bidirectional, arr("1 1 1"), arr("0 0 0"), (0, 0, 1)),
    ("all_one_att_causal", _transposed, arr("1 1 1"), arr("0 0 0"), (0, 0, 1)),
    ("first_att_bit_irrelevant", _rowwise, arr("1 1 1"), arr("1 0 0"), (0, 0, 1)),
    ("first_att_bit_irrelevant", _exclusive_cumsum, arr("1 1 1"), arr("1 0 0"), (0, 0, 1)),
    ("appending_preserves_prefix", _drops_last_token, arr("1 1 1"), arr("0 0 0"), (0, 0, 0)),
    ("appending_preserves_prefix", _everyone_sees_last_token, arr("1 1 1"), arr("1 1 1"), (0, 0, 1)),
    ("batch_rows_independent", _first_row_padding_for_all, arr("1 1 1", "1 0 1"), arr("0 0 0", "0 0 0"),
     (1, 0, 1)),
    ("batch_rows_independent", _cumsum_over_batch_axis, arr("1 1 1", "1 1 1"), arr("0 1 0", "0 0 0"),
     (1, 0, 1)),
    ("no_multilayer_leak", _rowwise, USER_PAD, USER_ATT, (0, 3, 4)),
    ("no_multilayer_leak", _window_of_two, arr("1 1 1"), arr("1 1 1"), (0, 2, 0)),
]


@pytest.mark.parametrize(
    "name, compute, pad, att, cell",
    BROKEN,
    ids=[f"{name}-{compute.__name__.strip('_')}" for name, compute, *_ in BROKEN],
)
def test_invariant_catches_wrong_mask(name, compute, pad, att, cell):
    """Each invariant reports a deliberately wrong compute at the first wrong cell, and the correct mask passes
    on the same input (so the report is about the bug, not the input)."""
    inv = INVARIANTS[name]
    assert inv.violation(_correct, pad, att) is None
    found = inv.violation(compute, pad, att)
    if cell is None:
        assert found is None
        return
    assert isinstance(found, Violation), f"{name} did not catch {compute.__name__}"
    assert found.invariant == name
    assert (found.batch, found.query, found.key) == cell, found
    assert isinstance(found.message, str) and found.message
    assert f"{cell[1]}" in found.message and f"{cell[2]}" in found.message


def test_every_invariant_has_a_failing_case():
    """Coverage guard: each invariant appears above with at least one wrong compute it catches."""
    caught = {name for name, _, _, _, cell in BROKEN if cell is not None}
    assert caught == ALL_NAMES


def test_wrong_masks_checked_against_the_whole_invariant_set():
    """A wrong compute is caught by the invariants that describe its bug and passes the unrelated ones (the
    invariants are specific, not just 'anything is wrong')."""
    pad, att = all_pairs(4)
    failing = {inv.name for inv in INVARIANTS.values() if inv.violation(_no_diagonal, pad, att) is not None}
    # no diagonal also breaks transitivity: a token reads itself through a same-block partner after two layers
    assert failing == {"real_query_sees_itself", "full_block_rows", "all_zero_att_bidirectional",
                       "all_one_att_causal", "no_multilayer_leak"}
    pad, att = pad[::-1].copy(), att[::-1].copy()  # batch row 0 now all real: its padding hides nothing
    failing = {inv.name for inv in INVARIANTS.values()
               if inv.violation(_first_row_padding_for_all, pad, att) is not None}
    assert failing == {"padded_keys_never_attended", "padded_queries_empty", "batch_rows_independent"}


def test_violation_batch_index_points_at_the_bad_row():
    """Violations name the batch row in which the cell is wrong, not row 0."""
    pad = arr("1 1 1", "1 1 1", "1 0 1")
    att = arr("0 0 0", "0 0 0", "0 0 0")
    found = INVARIANTS["padded_keys_never_attended"].violation(_attends_padded_keys, pad, att)
    assert (found.batch, found.query, found.key) == (2, 0, 1)
    assert "batch 2" in found.message


# --------------------------------------------------------------------------------------------------------------
# mask_violation, metamorphic refusal, pad-query policy
# --------------------------------------------------------------------------------------------------------------

SINGLE_MASK = sorted(ALL_NAMES - METAMORPHIC)


@pytest.mark.parametrize("name", SINGLE_MASK)
def test_mask_violation_passes_correct_ready_masks(name):
    """mask_violation on the oracle's own ready mask of the user's example finds nothing."""
    mask = reference_mask(USER_PAD, USER_ATT)
    assert INVARIANTS[name].mask_violation(mask, USER_PAD, USER_ATT) is None


def test_mask_violation_finds_wrong_cells_in_ready_masks():
    """mask_violation reads the given mask: one flipped cell is reported at that cell by the right invariant."""
    good = reference_mask(USER_PAD, USER_ATT)

    bad = good.copy()
    bad[0, 1, 5] = True  # real query 1 attends the padded key 5
    found = INVARIANTS["padded_keys_never_attended"].mask_violation(bad, USER_PAD, USER_ATT)
    assert (found.invariant, found.batch, found.query, found.key) == ("padded_keys_never_attended", 0, 1, 5)

    bad = good.copy()
    bad[0, 5, 2] = True  # padded query 5 attends key 2
    found = INVARIANTS["padded_queries_empty"].mask_violation(bad, USER_PAD, USER_ATT)
    assert (found.invariant, found.batch, found.query, found.key) == ("padded_queries_empty", 0, 5, 2)
    assert INVARIANTS["padded_queries_empty"].mask_violation(bad, USER_PAD, USER_ATT, "free") is None

    bad = good.copy()
    bad[0, 4, 4] = False
    found = INVARIANTS["real_query_sees_itself"].mask_violation(bad, USER_PAD, USER_ATT)
    assert (found.invariant, found.batch, found.query, found.key) == ("real_query_sees_itself", 0, 4, 4)

    bad = good.copy()
    bad[0, 1, 2] = False  # IMG1 no longer sees LANG, same block 0
    found = INVARIANTS["full_block_rows"].mask_violation(bad, USER_PAD, USER_ATT)
    assert (found.invariant, found.batch, found.query, found.key) == ("full_block_rows", 0, 1, 2)

    rowwise_mask = reference_mask(USER_PAD, USER_ATT, "rowwise")  # the explanation's table, ready-made
    found = INVARIANTS["no_multilayer_leak"].mask_violation(rowwise_mask, USER_PAD, USER_ATT)
    assert (found.invariant, found.query, found.key) == ("no_multilayer_leak", 3, 4)


@pytest.mark.parametrize("name", sorted(METAMORPHIC))
def test_mask_violation_refuses_metamorphic_invariants(name):
    """Metamorphic invariants compare several masks; a single ready mask is not enough: ValueError."""
    mask = reference_mask(USER_PAD, USER_ATT)
    with pytest.raises(ValueError, match="compares several masks"):
        INVARIANTS[name].mask_violation(mask, USER_PAD, USER_ATT)


def test_needs_masked_pad_queries_invariants_are_skipped_under_free():
    """SPEC §4: under ``free`` padded rows are not compared, so invariants needing masked pad queries return
    None without even computing a mask; under ``masked`` they do compute."""
    def explode(pad, att):
        raise AssertionError("compute must not be called under pad_queries='free'")

    needing = [inv for inv in INVARIANTS.values() if inv.needs_masked_pad_queries]
    assert needing, "expected at least padded_queries_empty"
    for inv in needing:
        assert inv.violation(explode, USER_PAD, USER_ATT, "free") is None
        assert inv.violation(_keys_only_padding, USER_PAD, USER_ATT, "free") is None
        assert inv.violation(_keys_only_padding, USER_PAD, USER_ATT, "masked") is not None
        with pytest.raises(AssertionError, match="must not be called"):
            inv.violation(explode, USER_PAD, USER_ATT, "masked")


def test_free_policy_reads_only_real_query_rows():
    """SPEC §4: under ``free`` garbage in padded query rows is ignored by every invariant, while under
    ``masked`` it is reported."""
    def garbage_padded_rows(pad, att):
        mask = fast_reference_mask(pad, att)
        mask[~pad] = True  # padded rows attend everything, padded keys included
        return mask

    pad, att = all_pairs(4)
    for inv in INVARIANTS.values():
        assert inv.violation(garbage_padded_rows, pad, att, "free") is None, inv.name
    masked_failures = {inv.name for inv in INVARIANTS.values()
                       if inv.violation(garbage_padded_rows, pad, att, "masked") is not None}
    assert {"padded_keys_never_attended", "padded_queries_empty"} <= masked_failures
    # reading only real rows must not hide real-row bugs
    assert INVARIANTS["padded_keys_never_attended"].violation(_attends_padded_keys, pad, att, "free") is not None


def test_violation_accepts_int_inputs():
    """violation() takes 0/1 int arrays as well as bools (it converts them)."""
    pad = np.array([[1, 0, 1]])
    att = np.array([[0, 1, 0]])
    assert INVARIANTS["full_block_rows"].violation(_correct, pad, att) is None
    found = INVARIANTS["padded_keys_never_attended"].violation(_attends_padded_keys, pad, att)
    assert (found.batch, found.query, found.key) == (0, 2, 1)  # query 2 (block 1) reads padded key 1 (block 1)


def test_invariants_hold_on_empty_sequences():
    """reference_mask accepts L = 0 (an empty [B, 0, 0] mask); every invariant should then hold vacuously."""
    pad = np.zeros((2, 0), dtype=bool)
    att = np.zeros((2, 0), dtype=bool)
    for inv in INVARIANTS.values():
        assert inv.violation(spec_compute("block_causal"), pad, att) is None, inv.name
