"""Hostile implementations: each misbehaviour gets a failed check with the right name, and the run always ends."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from maskoracle import UsageError, check
from maskoracle.adapters.base import TorchAdapter
from maskoracle.cli import main
from maskoracle.implementations import numpy as numpy_impl
from maskoracle.implementations import torch as torch_impl

FAST = {"max_examples": 20, "seed": 5}


def _by_name(report) -> dict:
    return {result.name: result for result in report.checks}


def test_hang_in_numpy_is_stopped_and_the_rest_skipped() -> None:
    calls = []

    def hangs(pad, att):
        calls.append(1)
        while True:
            pass

    report = check(hangs, framework="numpy", timeout=0.3, **FAST)
    # Stopped at once: one call, no second one to show the counterexample; the check's time is the 0.3 s limit
    # plus at most half a second of scheduling on a loaded machine (tests/test_timeouts.py bounds it tighter).
    assert calls == [1]
    assert report.checks[0].seconds < 0.3 + 0.5, report.checks[0].seconds
    results = _by_name(report)
    assert results["output_format"].status == "failed"
    assert results["output_format"].message.startswith("timed out")
    assert all(r.status == "skipped" and "timed out" in r.message for r in report.checks[1:])


def test_hang_only_for_long_inputs_is_reported_by_the_check_that_met_it() -> None:
    def hangs_when_long(pad, att):
        if pad.shape[1] > 100:
            time.sleep(60)
        return torch_impl.block_causal(pad, att)

    report = check(hangs_when_long, timeout=0.3, **FAST)
    failed = [r for r in report.checks if r.status == "failed"]
    assert failed and failed[0].message.startswith("timed out")
    assert failed[0].counterexample.shape[1] > 100
    assert any(r.status == "passed" for r in report.checks)  # checks before it kept their results


@pytest.mark.parametrize("framework", ["torch", "numpy"])
def test_mutating_inputs_fails_inputs_unchanged(framework: str) -> None:
    builtin = torch_impl.block_causal if framework == "torch" else numpy_impl.block_causal

    def clears_first_bit(pad, att):
        mask = builtin(pad, att)
        att[:, 0] = 0  # in place: the caller's tensor changes
        return mask

    results = _by_name(check(clears_first_bit, framework=framework, **FAST))
    assert results["inputs_unchanged"].status == "failed"
    assert "modified its att_masks input in place" in results["inputs_unchanged"].message
    assert results["equivalence"].status == "passed"  # the mask itself is right


def test_random_answers_fail_as_nondeterministic() -> None:
    generator = np.random.default_rng(0)

    def random_cells(pad, att):
        mask = torch_impl.block_causal(pad, att).clone()
        if generator.random() < 0.5:
            mask[0, 0, 0] = ~mask[0, 0, 0]
        return mask

    results = _by_name(check(random_cells, **FAST))
    assert results["deterministic"].status == "failed"
    assert "two calls on the same input disagree" in results["deterministic"].message


def test_a_view_of_an_input_fails_no_input_aliasing() -> None:
    def keys_view(pad, att):
        return pad[:, None, :].expand(pad.shape[0], pad.shape[1], pad.shape[1])  # bidirectional, keys only

    report = check(keys_view, layout="bidirectional", pad_queries="free", **FAST)
    results = _by_name(report)
    assert results["equivalence"].status == "passed"
    assert results["no_input_aliasing"].status == "failed"
    assert "shares memory with the pad_masks input" in results["no_input_aliasing"].message


def test_system_exit_from_the_implementation_is_a_failure_not_an_exit() -> None:
    def exits(pad, att):
        raise SystemExit(3)

    report = check(exits, **FAST)
    results = _by_name(report)
    assert results["output_format"].status == "failed"
    assert "raised SystemExit" in results["output_format"].message
    assert all(r.status == "skipped" for r in report.checks[1:])


def test_keyboard_interrupt_stops_the_run(capsys, tmp_path) -> None:
    module = tmp_path / "interrupting.py"
    module.write_text("def fn(pad, att):\n    raise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):
        check(lambda pad, att: (_ for _ in ()).throw(KeyboardInterrupt()), **FAST)
    # In maskoracle's own process a KeyboardInterrupt is the person at the terminal: stop, exit 130.
    assert main(["check", f"{module}:fn", "--seed", "1", "--isolation", "in-process"]) == 130
    assert capsys.readouterr().err.strip() == "maskoracle check: interrupted"
    # In a worker process it cannot be (Ctrl-C reaches maskoracle, not the worker's own session): it is the
    # implementation raising, a failed check that stops the run.
    assert main(["check", f"{module}:fn", "--seed", "1", "--plain"]) == 1
    assert "raised KeyboardInterrupt" in capsys.readouterr().out


def test_result_on_another_device_fails_result_device(monkeypatch) -> None:
    # No second device on a CPU-only machine: pretend the inputs' device is "meta" and return CPU tensors.
    monkeypatch.setattr(TorchAdapter, "device_name", lambda self: "meta")
    results = _by_name(check(torch_impl.block_causal, checks=["result_device"], **FAST))
    assert results["result_device"].status == "failed"
    assert results["result_device"].message == "the result is on cpu, the inputs on meta"


def test_device_of_reads_tensors_and_arrays() -> None:
    adapter = TorchAdapter("cpu")
    assert adapter.device_of(torch.zeros(1)) == "cpu"
    assert adapter.device_of(torch.zeros(1, device="meta")) == "meta"
    assert adapter.device_of(np.zeros(1)) == "cpu"
    assert adapter.device_of([0]) is None


def test_unreadable_result_is_a_bad_result_not_a_crash() -> None:
    def meta_result(pad, att):
        return torch_impl.block_causal(pad, att).to("meta")

    results = _by_name(check(meta_result, **FAST))
    assert results["output_format"].status == "failed"
    assert "cannot be read on the host" in results["output_format"].message


# --- reproducibility: profiles and the example database --------------------------------------------------

def test_ci_profile_is_derandomised(monkeypatch) -> None:
    first = check(numpy_impl.block_causal, framework="numpy", profile="ci", checks=["equivalence"])
    second = check(numpy_impl.block_causal, framework="numpy", profile="ci", checks=["equivalence"])
    assert first.options["seed"] == second.options["seed"] == 0
    assert first.options["profile"] == "ci" and first.options["max_examples"] == 100
    monkeypatch.setenv("MASKORACLE_PROFILE", "nightly")
    nightly = check(numpy_impl.block_causal, framework="numpy", checks=["spec_examples"], seed=0)
    assert nightly.options["profile"] == "nightly" and nightly.options["max_examples"] == 5000


def test_unknown_profile_is_a_usage_error(monkeypatch) -> None:
    with pytest.raises(UsageError, match="--profile: unknown profile 'fast'"):
        check(numpy_impl.block_causal, framework="numpy", profile="fast", seed=0)
    monkeypatch.setenv("MASKORACLE_PROFILE", "weekly")
    with pytest.raises(UsageError, match="MASKORACLE_PROFILE: unknown profile 'weekly'"):
        check(numpy_impl.block_causal, framework="numpy", seed=0)


def test_failures_are_saved_and_replayed_first(tmp_path) -> None:
    def pads_not_counted(pad, att):
        return numpy_impl.block_causal(pad, att & pad)

    database = tmp_path / "db"
    # Seed 0 finds it (about 1 seed in 6 does not, with equivalence alone; exhaustive_small always does).
    # (the nightly profile's shrinking budget, 100 examples as by default: a shrink cut short by a loaded machine
    # leaves inputs the next run may have to pass before it meets the failure)
    first = check(pads_not_counted, framework="numpy", checks=["equivalence"], db=str(database), target="mutant:x",
                  seed=0, profile="nightly", max_examples=100)
    assert first.checks[0].status == "failed"
    assert any(database.rglob("*")), "nothing saved in the example database"
    # A second run, seeded differently, replays the saved failure before generating anything new.
    second = check(pads_not_counted, framework="numpy", checks=["equivalence"], db=str(database),
                   target="mutant:x", profile="dev", seed=1)
    assert second.checks[0].status == "failed"
    assert second.checks[0].examples == 0, second.checks[0].message
    # The replayed example is the first run's shrunk one (or, if a loaded machine cut that shrinking short,
    # a start from which the second run shrinks further): never larger.
    first_shape, second_shape = first.checks[0].counterexample.shape, second.checks[0].counterexample.shape
    assert (second_shape[1], second_shape[0]) <= (first_shape[1], first_shape[0]), (first_shape, second_shape)
    # Another target's key does not replay it: its first input is not the saved one (a right implementation
    # passes either way, so what it is given is what tells; tests/test_database_keys.py has the failing case).
    given = []

    def builtin(pad, att):
        given.append((pad.tolist(), att.tolist()))
        return numpy_impl.block_causal(pad, att)

    other = check(builtin, framework="numpy", checks=["equivalence"], db=str(database), target="builtin:y",
                  max_examples=5, seed=0)
    assert other.checks[0].status == "passed"
    saved = (first.checks[0].counterexample.pad.tolist(), first.checks[0].counterexample.att.tolist())
    assert given and given[0] != saved


def test_explicit_seed_runs_without_the_database(hypothesis_default_profile) -> None:
    """Under Hypothesis's default profile (a directory database), a seeded run saves nothing, even a failure; an
    unseeded one (the control) does save it there."""
    database = hypothesis_default_profile

    def wrong(pad, att):
        return ~numpy_impl.block_causal(pad, att)

    assert not check(wrong, framework="numpy", checks=["equivalence"], seed=1, max_examples=5).passed
    assert not database.exists()
    # unseeded: the control, a run that does use the default database
    assert not check(wrong, framework="numpy", checks=["equivalence"], max_examples=5).passed
    assert any(database.rglob("*"))


def test_timeout_out_of_range_is_a_usage_error() -> None:
    for timeout in (0, -1, float("inf"), float("nan"), 1e12):
        with pytest.raises(UsageError, match="--timeout"):
            check(numpy_impl.block_causal, framework="numpy", timeout=timeout, seed=0)
