"""A behaviour check judged on no call that returned must not pass (issue "Out of process": under a memory cap,
checks whose every call raised MemoryError showed ✓)."""

from __future__ import annotations

import pytest

from maskoracle import check

BEHAVIOUR = ["inputs_unchanged", "deterministic", "results_stay_valid", "no_input_aliasing"]


def always_out_of_memory(pad, att):
    raise MemoryError("over the cap")


def test_behaviour_checks_whose_every_call_raised_fail() -> None:
    report = check(always_out_of_memory, framework="numpy", seed=2, max_examples=5, db="none", checks=BEHAVIOUR)
    assert [result.status for result in report.checks] == ["failed"] * len(BEHAVIOUR)
    assert all("none of its" in result.message for result in report.checks)


def test_result_device_whose_every_call_raised_fails() -> None:
    pytest.importorskip("torch")
    report = check(always_out_of_memory, seed=2, max_examples=5, db="none", checks=["result_device"])
    assert report.checks[0].status == "failed" and "none of its" in report.checks[0].message


def test_behaviour_checks_pass_when_calls_return() -> None:
    from maskoracle.implementations.numpy import block_causal

    report = check(block_causal, framework="numpy", seed=2, max_examples=5, db="none", checks=BEHAVIOUR)
    assert report.passed, [result.message for result in report.failed]


def test_a_check_with_no_input_to_call_on_is_skipped_saying_why() -> None:
    """Causal att and no padding give one mask per length: results_stay_valid has no second mask of the same
    shape to call with, so it makes no call, and says so rather than passing."""
    from maskoracle.implementations.numpy import block_causal

    report = check(block_causal, framework="numpy", layout="causal", padding="none", seed=2, max_examples=5,
                   db="none", checks=["results_stay_valid"])
    assert report.checks[0].status == "skipped"
    assert "lets this check call the implementation" in report.checks[0].message
