"""The batched search of ``equivalence`` (``engine.run_batched``) and its shrinker (``checking/shrink.py``).

A correct implementation gets tens of thousands of rows, long ones included; a bug found among thousands of
rows is cut out and shrunk as far as Hypothesis would: L <= 4 when the bug does not need length, the shortest
failing length when it does (int8 block ids wrap at 128 blocks).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maskoracle import check
from maskoracle.adapters import get_adapter
from maskoracle.checking.engine import CheckState, RunSettings, run_batched
from maskoracle.checking.plans.mask import MaskInputs
from maskoracle.checking.results import Counterexample, Failure
from maskoracle.checking.runner import Runner, equal_masks
from maskoracle.checking.shrink import shrink_failure
from maskoracle.implementations import numpy as numpy_impl
from maskoracle.strategies import MaskExample
from maskoracle.strategies.rows import RowSampler
from maskoracle.zoo import torch_zoo as zoo

RUN = RunSettings(max_examples=20, seed=0, shrink_budget_s=4.0, database=None, key="test")


def _search(fn, framework: str = "torch", layout: str = "any", padding: str = "any", run: RunSettings = RUN):
    runner = Runner(fn, get_adapter(framework, "cpu"), "block_causal", "masked", "bool", 10.0)
    return run_batched(CheckState("equivalence"), RowSampler(layout, padding), runner.compare_example, run,
                       call_budget_s=5.0)


def test_a_correct_implementation_gets_many_rows_long_ones_included() -> None:
    result = _search(numpy_impl.block_causal, "numpy", run=RunSettings(100, 0, 4.0, None, "test"))
    assert result.status == "passed"
    assert result.rows > 10_000 and result.longest > 160


@pytest.mark.parametrize("fn, largest", [(zoo.strict_less, [1, 1]), (zoo.transposed, [1, 2]),
                                         (zoo.first_row_padding, [2, 1]), (zoo.padding_not_counted, [1, 3]),
                                         (zoo.left_padding_as_right, [1, 2])],
                         ids=["strict_less", "transposed", "first_row_padding", "padding_not_counted",
                              "left_padding_as_right"])
def test_a_bug_found_among_many_rows_is_shrunk_to_a_few_tokens(fn, largest) -> None:
    result = _search(fn)
    assert result.status == "failed" and result.counterexample is not None
    B, L = result.counterexample.shape
    assert B <= largest[0] and L <= largest[1], result.message
    assert "batched search" in result.message


def test_a_size_dependent_bug_shrinks_to_its_boundary_length() -> None:
    result = _search(zoo.int8_blocks, layout="causal", padding="none")
    assert result.status == "failed" and result.counterexample is not None
    assert result.counterexample.shape == (1, 128), result.message


def test_the_shrinker_deletes_tokens_and_clears_bits() -> None:
    def body(example: MaskExample) -> None:
        if (example.att_masks.sum(axis=1) >= 3).any():
            raise Failure("three 1s", _counterexample(example))

    def _counterexample(example: MaskExample):
        return Counterexample(example.pad_masks.copy(), example.att_masks.copy())

    rng = np.random.default_rng(0)
    start = MaskExample(rng.random((5, 40)) < 0.5, rng.random((5, 40)) < 0.7)
    smallest = shrink_failure(body, Failure("start", _counterexample(start)), budget_s=10.0)
    assert smallest.counterexample.shape == (1, 3)
    assert smallest.counterexample.att.all() and smallest.counterexample.pad.all()


def test_the_shrinker_tries_only_inputs_the_families_admit() -> None:
    def body(example: MaskExample) -> None:
        if example.pad_masks.shape[1] >= 2:
            raise Failure("two tokens or more", Counterexample(example.pad_masks.copy(), example.att_masks.copy()))

    start = MaskExample(np.array([[True, True, True, False, False]]), np.ones((1, 5), dtype=bool))
    free = shrink_failure(body, Failure("start", Counterexample(start.pad_masks, start.att_masks)), budget_s=10.0)
    assert not free.counterexample.att.all()  # unguarded, it clears att bits (out of --layout causal)
    causal_right = MaskInputs("causal", "right")
    kept = shrink_failure(body, Failure("start", Counterexample(start.pad_masks, start.att_masks)), budget_s=10.0,
                          admits=causal_right.admits)
    assert kept.counterexample.shape == (1, 2)
    assert kept.counterexample.att.all()
    assert causal_right.admits(MaskExample(kept.counterexample.pad, kept.counterexample.att))


def test_a_causal_only_bug_keeps_a_causal_counterexample_under_layout_causal() -> None:
    # Ignores att (causal for every token) and attends padded keys: under --layout causal only the padding is
    # wrong. Shrunk freely, the batched search's failure lost its att bits and blamed the causal mask instead.
    def attends_padded_keys(pad, att):
        B, L = pad.shape
        return torch.ones(L, L, dtype=torch.bool).tril()[None].expand(B, L, L) & pad[:, :, None]

    runner = Runner(attends_padded_keys, get_adapter("torch", "cpu"), "block_causal", "masked", "bool", 10.0)
    result = run_batched(CheckState("equivalence"), RowSampler("causal", "any"), runner.compare_example, RUN,
                         call_budget_s=5.0, admits=MaskInputs("causal", "any").admits)
    assert result.status == "failed" and result.counterexample is not None
    assert result.counterexample.shape == (1, 2)
    assert result.counterexample.att.all() and not result.counterexample.pad.all(), result.message


def test_a_failure_the_batched_search_found_is_saved_and_replayed_first(tmp_path) -> None:
    from hypothesis.database import DirectoryBasedExampleDatabase  # lazily: only this test opens a database

    from maskoracle.checking.engine import replay_found

    database = DirectoryBasedExampleDatabase(str(tmp_path / "db"))
    run = RunSettings(20, 0, 4.0, database, "test/strict_less")
    runner = Runner(zoo.strict_less, get_adapter("torch", "cpu"), "block_causal", "masked", "bool", 10.0)
    found = run_batched(CheckState("equivalence"), RowSampler(), runner.compare_example, run, call_budget_s=5.0)
    assert found.status == "failed" and found.counterexample is not None
    replayed = replay_found(CheckState("equivalence"), runner.compare_example, run)
    assert replayed is not None and replayed.status == "failed" and replayed.examples == 0
    assert replayed.counterexample is not None and replayed.counterexample.shape == found.counterexample.shape
    # Fixed: the saved input passes, so it is forgotten.
    right = Runner(zoo.reference, get_adapter("torch", "cpu"), "block_causal", "masked", "bool", 10.0)
    assert replay_found(CheckState("equivalence"), right.compare_example, run) is None
    assert replay_found(CheckState("equivalence"), runner.compare_example, run) is None


def test_equal_masks_eight_cells_at_a_time_and_otherwise() -> None:
    rng = np.random.default_rng(0)
    mask = rng.random((3, 8, 8)) < 0.5
    other = mask.copy()
    assert equal_masks(mask, other)
    other[2, 7, 7] = ~other[2, 7, 7]
    assert not equal_masks(mask, other)
    assert equal_masks(mask[:, :, :5], mask.copy()[:, :, :5])  # strided views: compared cell by cell
    assert not equal_masks(mask[:, 5:, 5:], other[:, 5:, 5:])
    assert not equal_masks(mask[:, :7, :7], other[:, 1:, 1:])  # 147 cells: not a multiple of eight


def test_a_right_mask_whose_bool_bytes_are_not_0_and_1_still_passes() -> None:
    # Bytes of 2 read as True: "not equal" eight bytes at a time, so the runner locates the differing cells one
    # by one, finds none, and passes.
    everything = np.ones((3, 8, 8), dtype=bool)  # the oracle of all-real tokens with att all 0
    twos = (everything.view(np.uint8) * 2).view(np.bool_)
    assert np.array_equal(twos, everything) and not equal_masks(everything, twos)
    runner = Runner(lambda pad, att: twos, get_adapter("numpy", "cpu"), "block_causal", "masked", "bool", 10.0)
    runner.compare(np.ones((3, 8), dtype=bool), np.zeros((3, 8), dtype=bool))


def test_a_long_hypothesis_failure_is_shrunk_to_the_length_the_bug_needs() -> None:
    # Wrong from 1,000 tokens on: Hypothesis's long inputs sit on block-count boundaries (2,047-2,052 here), and
    # the small regime cannot reproduce it, so the failure is shrunk by deleting tokens.
    def wrong_from_1000_tokens(pad, att):
        mask = numpy_impl.block_causal(pad, att)
        if pad.shape[1] >= 1000:
            mask[:, -1, 0] = ~mask[:, -1, 0]
        return mask

    report = check(wrong_from_1000_tokens, framework="numpy", checks=["equivalence"], seed=0, db="none",
                   max_examples=100)
    result = report.checks[0]
    assert result.status == "failed" and result.counterexample is not None
    assert result.counterexample.shape == (1, 1000), result.message
    assert "shrunk by deleting tokens" in result.message
