"""The two ways a random search ends without a clean shrink (``run_property``, README "Decisions"):

- shrinking stopped by its time budget reports the *smallest* failure seen so far, not the first (largest) one;
- a failure that does not repeat is reported as "results are not reproducible", with the first failure.

The budget is driven by a fake clock that advances one second per failing call, so these tests do not depend
on how fast the machine is (STYLE: no timing in tests).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from maskoracle import Counterexample, check
from maskoracle.checking.engine import CheckState, RunSettings, run_property
from maskoracle.checking.results import Failure
from maskoracle.implementations.numpy import block_causal
from maskoracle.strategies import MaskExample, mask_examples

FAILS_FROM_LENGTH = 8  # the minimal failing input is [B, L] = [1, 8]; the first one found is longer


class FailingSearch:
    """A property that fails on every input of ``FAILS_FROM_LENGTH`` tokens or more, run under a fake clock."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 0.0
        self.failures: list[tuple[int, int]] = []  # [B, L] of each failing call, in order
        # run_property reads the clock as ``time.perf_counter()`` in its own module.
        monkeypatch.setitem(run_property.__globals__, "time", SimpleNamespace(perf_counter=lambda: self.now))

    def body(self, example: MaskExample) -> None:
        B, L = example.shape
        if L >= FAILS_FROM_LENGTH:
            self.now += 1.0  # each failing call costs one (fake) second of the shrinking budget
            self.failures.append((B, L))
            raise Failure(f"fails at [B, L] = [{B}, {L}]",
                          Counterexample(example.pad_masks.copy(), example.att_masks.copy()))

    def run(self, budget_s: float, seed: int) -> Any:
        self.now, self.failures = 0.0, []
        settings = RunSettings(max_examples=100, seed=seed, shrink_budget_s=budget_s, database=None, key="budget")
        return run_property(CheckState("budgeted"), mask_examples(), self.body, settings)


def test_shrinking_stopped_by_its_budget_reports_the_smallest_failure_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    search = FailingSearch(monkeypatch)
    # First, unbounded: the failing calls shrinking makes, in order (the same every time for one seed).
    for seed in range(10):
        unbounded = search.run(budget_s=1e9, seed=seed)
        lengths = [L for _, L in search.failures]
        # A seed whose first failure is long and whose shrinking passes a shorter failure before its end.
        shorter = [k for k, L in enumerate(lengths) if L < lengths[0]]
        if shorter and shorter[0] < len(lengths) - 1:
            break
    else:
        pytest.fail("no seed shrinks past a shorter failure; FAILS_FROM_LENGTH may need changing")
    assert unbounded.status == "failed" and unbounded.counterexample.shape[1] == FAILS_FROM_LENGTH
    stop_after = shorter[0]
    # Then stopped right after that shorter failure. After n failing calls the clock reads n, and it read 1 at
    # the first; the budget is spent at the next call once n - 1 > budget, so after stop_after + 1 failures.
    result = search.run(budget_s=stop_after - 0.5, seed=seed)
    seen = search.failures[:stop_after + 1]
    assert [L for _, L in seen] == lengths[:stop_after + 1], "the bounded run did not repeat the unbounded one"
    assert result.status == "failed"
    assert "(shrinking stopped after" in result.message, result.message
    smallest_length = min(L for _, L in seen)
    assert smallest_length < seen[0][1]  # the test can tell smallest from first
    B, L = result.counterexample.shape
    assert L == smallest_length, (f"reported [B, L] = [{B}, {L}]; failures seen before the budget ran out: {seen}")
    assert f"L] = [{B}, {L}]" in result.message


def test_a_failure_that_does_not_repeat_is_reported_as_not_reproducible() -> None:
    first: list[MaskExample] = []

    def fails_once(example: MaskExample) -> None:
        B, L = example.shape
        if L >= 3 and not first:
            first.append(example)
            raise Failure(f"fails once at [B, L] = [{B}, {L}]",
                          Counterexample(example.pad_masks.copy(), example.att_masks.copy()))

    settings = RunSettings(max_examples=50, seed=0, shrink_budget_s=60.0, database=None, key="flaky")
    result = run_property(CheckState("flaky"), mask_examples(), fails_once, settings)
    assert result.status == "failed"
    assert result.message.startswith("results are not reproducible: an input that failed once passed when "
                                     "repeated"), result.message
    B, L = first[0].shape
    assert result.message.endswith(f"; first failure: fails once at [B, L] = [{B}, {L}]"), result.message
    assert result.counterexample is not None
    np.testing.assert_array_equal(result.counterexample.pad, first[0].pad_masks)
    np.testing.assert_array_equal(result.counterexample.att, first[0].att_masks)


def test_check_reports_a_nondeterministic_implementation_with_its_first_failure() -> None:
    calls: list[int] = []

    def wrong_once(pad: np.ndarray, att: np.ndarray) -> np.ndarray:
        """Right, except that its first call on a length-3+ input drops every key of padding's rule."""
        mask = block_causal(pad, att)
        if pad.shape[1] >= 3 and not calls:
            calls.append(1)
            mask = ~mask
        return mask

    report = check(wrong_once, framework="numpy", checks=["equivalence"], max_examples=50, seed=0)
    [result] = report.checks
    assert result.status == "failed"
    assert result.message.startswith("results are not reproducible"), result.message
    assert "; first failure: cell (b=" in result.message
    example = result.counterexample
    assert example is not None and example.expected is not None and example.actual is not None
    assert example.differing_cells(), "the first failure's masks should differ"
