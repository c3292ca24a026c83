"""The mutant zoo (``maskoracle.zoo``): every entry's verdict holds, checked directly against the oracle.

Right-by-another-route entries must equal the oracle on every (pad, att) pair up to L = 4, batched and row by
row; bugs must differ from it there (or, for size-dependent ones, on a long causal or bidirectional input, while staying right
on the small scope). Bugs in the calling contract (mutation, aliasing, nondeterminism, device) have right
values by design, so each is shown directly instead. ``check()`` itself is run on the zoo by the selftest.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from maskoracle import reference_mask
from maskoracle.adapters import get_adapter
from maskoracle.checking.decode import decode_mask
from maskoracle.oracle import fast_reference_mask
from maskoracle.zoo import ZooEntry, zoo_entries
from maskoracle.zoo import torch_zoo as zoo

ENTRIES = zoo_entries()
BUGS = [entry for entry in ENTRIES if not entry.equivalent]
EQUIVALENT = [entry for entry in ENTRIES if entry.equivalent]
VALUE_BUGS = [entry for entry in BUGS if entry.name not in zoo.CONTRACT_BUGS]

EXHAUSTIVE_MAX_LENGTH = 4
# Past each length where a size-dependent bug breaks: int8 (127 blocks), uint8 and bfloat16 (255/256 blocks),
# a 1024-long cached buffer and 512-row chunks, float16 (2048 blocks).
LONG_LENGTHS = (129, 258, 1025, 2049)


def _name(entry: ZooEntry) -> str:
    return entry.name


def _scope(L: int, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """Every (pad, att) pair of length ``L`` whose att fits ``layout``, as one batch."""
    atts = [att for att in itertools.product((False, True), repeat=L) if layout != "causal" or all(att)]
    rows = [(pad, att) for pad in itertools.product((False, True), repeat=L) for att in atts]
    return (np.array([row[0] for row in rows], dtype=bool).reshape(-1, L),
            np.array([row[1] for row in rows], dtype=bool).reshape(-1, L))


def _small_inputs(entry: ZooEntry):
    """The exhaustive scope up to ``EXHAUSTIVE_MAX_LENGTH``: each length as one batch, then row by row."""
    for L in range(1, EXHAUSTIVE_MAX_LENGTH + 1):
        pad, att = _scope(L, entry.options.get("layout", "any"))
        yield pad, att
        for row in range(len(pad)):
            yield pad[row:row + 1], att[row:row + 1]


def _long_inputs():
    """Long causal inputs (block counts past the dtype boundaries) and long bidirectional ones (one long block)."""
    for L in LONG_LENGTHS:
        pad = np.ones((2, L), dtype=bool)
        pad[1, -1] = False
        yield pad, np.ones((2, L), dtype=bool)
        yield pad, np.zeros((2, L), dtype=bool)


def _agrees(entry: ZooEntry, pad: np.ndarray, att: np.ndarray) -> bool:
    """Whether the entry's result, decoded as ``check()`` decodes it, equals the oracle under its options."""
    adapter = get_adapter(entry.framework)
    B, L = pad.shape
    pad_in, att_in = adapter.inputs(pad, att, entry.options.get("att_dtype", "bool"))
    try:
        actual = decode_mask(entry.fn(pad_in, att_in), adapter, B, L)
    except Exception:  # raised, or a result the suite refuses (shape, dtype, a value the decoding rejects)
        return False
    spec = entry.options.get("spec", "block_causal")
    pad_queries = entry.options.get("pad_queries", "masked")
    oracle = reference_mask if B * L * L <= 4096 else fast_reference_mask
    differ = actual != oracle(pad, att, spec=spec, pad_queries=pad_queries)
    if pad_queries == "free":
        differ &= pad[:, :, None]
    return not differ.any()


# --- the registry ----------------------------------------------------------------------------------------

def test_names_are_unique() -> None:
    names = [entry.name for entry in ENTRIES]
    assert len(names) == len(set(names)), sorted({name for name in names if names.count(name) > 1})


def test_zoo_is_large_enough() -> None:
    assert len(BUGS) >= 30
    assert len(EQUIVALENT) >= 8


@pytest.mark.parametrize("entry", ENTRIES, ids=_name)
def test_entry_says_what_is_wrong_or_which_route_it_takes(entry: ZooEntry) -> None:
    assert entry.doc, f"{entry.name}: its function needs a docstring whose first line says what is wrong"
    assert entry.framework in ("torch", "numpy")


def test_contract_bugs_are_bugs_in_the_zoo() -> None:
    assert zoo.CONTRACT_BUGS <= {entry.name for entry in BUGS}


# --- verdicts on values ----------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", EQUIVALENT, ids=_name)
def test_right_by_another_route_equals_the_oracle(entry: ZooEntry) -> None:
    for pad, att in _small_inputs(entry):
        assert _agrees(entry, pad, att), f"{entry.name} differs from the oracle on pad={pad.astype(int).tolist()}, " \
                                         f"att={att.astype(int).tolist()}"


@pytest.mark.parametrize("entry", [entry for entry in VALUE_BUGS if not entry.size_dependent], ids=_name)
def test_bug_differs_from_the_oracle_on_the_small_scope(entry: ZooEntry) -> None:
    assert any(not _agrees(entry, pad, att) for pad, att in _small_inputs(entry))


@pytest.mark.parametrize("entry", [entry for entry in VALUE_BUGS if entry.size_dependent], ids=_name)
def test_size_dependent_bug_is_right_when_small_and_wrong_when_long(entry: ZooEntry) -> None:
    for L in range(1, EXHAUSTIVE_MAX_LENGTH + 1):
        assert _agrees(entry, *_scope(L, "any")), f"{entry.name} is wrong already at L = {L}"
    assert any(not _agrees(entry, pad, att) for pad, att in _long_inputs())


# --- bugs in the calling contract ------------------------------------------------------------------------

PAD = np.array([[1, 1, 1, 0], [1, 0, 1, 1]], dtype=bool)
ATT = np.array([[1, 0, 1, 1], [0, 1, 1, 0]], dtype=bool)


def _inputs(entry_name: str, pad: np.ndarray = PAD, att: np.ndarray = ATT) -> tuple[torch.Tensor, torch.Tensor]:
    entry = next(entry for entry in ENTRIES if entry.name == entry_name)
    pad_in, att_in = get_adapter(entry.framework).inputs(pad, att, entry.options.get("att_dtype", "bool"))
    return pad_in, att_in


def _right(result: torch.Tensor, pad: np.ndarray = PAD, att: np.ndarray = ATT) -> bool:
    return bool(np.array_equal(decode_mask(result, get_adapter("torch"), *pad.shape), reference_mask(pad, att)))


@pytest.mark.parametrize("name, which", [
    ("clears_first_att_bit_in_place", "att"),
    ("cumsum_in_place", "att"),
    ("unsqueezes_pad_in_place", "pad"),
])
def test_mutating_bugs_modify_an_input_and_return_the_right_mask(name: str, which: str) -> None:
    pad_in, att_in = _inputs(name)
    before = {"pad": pad_in.clone(), "att": att_in.clone()}
    result = getattr(zoo, name)(pad_in, att_in)
    after = {"pad": pad_in, "att": att_in}
    assert _right(result)
    assert after[which].shape != before[which].shape or not torch.equal(after[which], before[which])
    other = "att" if which == "pad" else "pad"
    assert torch.equal(after[other], before[other])


def test_fast_path_returns_a_view_of_pad() -> None:
    pad, att = np.ones((2, 4), dtype=bool), np.zeros((2, 4), dtype=bool)
    pad_in, att_in = _inputs("bidirectional_fast_path_view", pad, att)
    result = zoo.bidirectional_fast_path_view(pad_in, att_in)
    assert _right(result, pad, att)
    assert result.untyped_storage().data_ptr() == pad_in.untyped_storage().data_ptr()


def test_flaky_cell_gives_one_input_several_masks() -> None:
    pad_in, att_in = _inputs("flaky_cell")
    results = {tuple(zoo.flaky_cell(pad_in, att_in).flatten().tolist()) for _ in range(200)}
    assert len(results) > 1


def test_cached_by_id_serves_stale_masks_to_new_tensors() -> None:
    rng = np.random.default_rng(0)
    stale = 0
    for _ in range(50):
        pad, att = rng.random((2, 4)) < 0.7, rng.random((2, 4)) < 0.5
        stale += not _right(zoo.cached_by_id(*_inputs("cached_by_id", pad, att)), pad, att)
    assert stale > 0


def test_reused_output_buffer_overwrites_the_previous_result() -> None:
    pad = np.array([[1, 1, 1, 0]], dtype=bool)
    causal, bidirectional = np.ones((1, 4), dtype=bool), np.zeros((1, 4), dtype=bool)
    first = zoo.reused_output_buffer(*_inputs("reused_output_buffer", pad, causal))
    assert _right(first, pad, causal)
    second = zoo.reused_output_buffer(*_inputs("reused_output_buffer", pad, bidirectional))
    assert _right(second, pad, bidirectional)
    assert not _right(first, pad, causal)  # the first caller's mask changed under it


def test_numpy_round_trip_result_is_on_the_cpu_whatever_the_inputs_device() -> None:
    if not torch.cuda.is_available():
        assert _right(zoo.numpy_round_trip_on_cpu(*_inputs("numpy_round_trip_on_cpu")))
        pytest.skip("the wrong device shows only with CUDA inputs")
    pad_in, att_in = (tensor.cuda() for tensor in _inputs("numpy_round_trip_on_cpu"))
    assert zoo.numpy_round_trip_on_cpu(pad_in, att_in).device.type == "cpu"
