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
