"""Tests for the pytest plugin (``maskoracle.suites.plugin``) and the suites it runs.

    pytest --pyargs maskoracle.suites --mask-impl package.module:function [--mask-impl ...] [--mask-spec ...]

Each case runs pytest in a subprocess (``pytester.runpytest_subprocess``): the plugin is loaded through its
``pytest11`` entry point there exactly as a user gets it.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

# Checked without importing torch: pytester restores sys.modules after each test, and torch cannot be
# imported twice in one process.
needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs PyTorch")

TORCH_BUILTIN = "maskoracle.implementations.torch:block_causal"
TORCH_BASELINE = "maskoracle.implementations.torch:block_causal_baseline"
NUMPY_BUILTIN = "maskoracle.implementations.numpy:block_causal"

EQUIVALENCE_TESTS = 5
INVARIANT_TESTS = 10
TESTS_PER_IMPL = EQUIVALENCE_TESTS + INVARIANT_TESTS

# Padding applied to keys only (SPEC §7): padded query rows attend real keys.
KEYS_ONLY_TORCH = """
import torch


def block_causal(pad_masks, att_masks):
    blocks = torch.cumsum(att_masks.long(), dim=1)
    return (blocks[:, None, :] <= blocks[:, :, None]) & pad_masks.bool()[:, None, :]
"""

# The explanation's model (SPEC §3, spec rowwise), padded queries masked.
ROWWISE_NUMPY = """
import numpy as np


def rowwise(pad_masks, att_masks):
    pad = np.asarray(pad_masks, dtype=bool)
    causal = np.asarray(att_masks) != 0
    L = pad.shape[-1]
    key_not_after_query = np.tri(L, dtype=bool)[None]
    return pad[:, :, None] & pad[:, None, :] & (~causal[:, :, None] | key_not_after_query)
"""

HEADER_SEED = re.compile(r"^maskoracle: spec (\w+), seed (\d+)", re.MULTILINE)


def run_suites(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # The speed suite (test_speed.py) has its own tests in tests/test_speed_suite.py; deselected here so
    # that these counts are the correctness suites' and no benchmark runs.
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--pyargs", "maskoracle.suites", "-rfEs",
                                         "-k", "not test_speed", *args)


def output_of(result: pytest.RunResult) -> str:
    return result.stdout.str() + "\n" + result.stderr.str()


def skip_reasons(result: pytest.RunResult) -> list[str]:
    return [line for line in result.stdout.lines if line.startswith("SKIPPED")]


@needs_torch
def test_builtin_passes_every_test_and_header_shows_the_seed(pytester):
    result = run_suites(pytester, "--mask-impl", TORCH_BUILTIN, "--mask-max-examples", "20", "--mask-seed", "123")
    result.assert_outcomes(passed=TESTS_PER_IMPL, failed=0, skipped=0, errors=0)
    assert result.ret == pytest.ExitCode.OK
    assert any(line.startswith("maskoracle: spec block_causal, seed 123") for line in result.stdout.lines)


@needs_torch
def test_two_implementations_are_both_checked(pytester):
    # unseeded: the subject is the seed drawn for the session (right implementations pass whatever it is)
    result = run_suites(pytester, "--mask-impl", TORCH_BUILTIN, "--mask-impl", TORCH_BASELINE,
                        "--mask-max-examples", "20", "-v")
    result.assert_outcomes(passed=2 * TESTS_PER_IMPL, failed=0, errors=0)
    passed = [line for line in result.stdout.lines if line.endswith("%]") and " PASSED " in line]
    assert sum(f"[{TORCH_BUILTIN}-" in line for line in passed) == TESTS_PER_IMPL
    assert sum(f"[{TORCH_BASELINE}-" in line for line in passed) == TESTS_PER_IMPL
    # A random seed is drawn once for the session and printed.
    assert HEADER_SEED.search(result.stdout.str())


@needs_torch
def test_wrong_implementation_fails_with_counterexample_and_reproduce_command(pytester):
    path = pytester.makepyfile(keys_only=KEYS_ONLY_TORCH)
    target = f"{path}:block_causal"
    result = run_suites(pytester, "--mask-impl", target, "--mask-max-examples", "20", "--mask-seed", "7")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 3
    failed = {line.split("::", 1)[1] for line in result.stdout.lines if line.startswith("FAILED")}
    for name in ("spec_examples", "exhaustive_small", "equivalence"):
        assert f"test_equivalence[{target}-{name}]" in {f.split(" ")[0] for f in failed}, failed
    assert f"test_invariant[{target}-padded_queries_empty]" in {f.split(" ")[0] for f in failed}

    text = result.stdout.str()
    header = HEADER_SEED.search(text)
    assert header, text[:2000]
    seed = header.group(2)
    # The failure text: the check, the shrunk input, expected vs actual tables, a command and a snippet.
    assert "✗ equivalence: cell (b=" in text
    assert "counterexample [B, L] = [" in text
    assert re.search(r"^\s+pad\[0\] = [01]+$", text, re.MULTILINE)
    assert re.search(r"^\s+att\[0\] = [01]+$", text, re.MULTILINE)
    assert re.search(r"^expected\s+actual$", text, re.MULTILINE)
    assert "[✓]" in text  # the padded query's cell that should be ✗
    assert f"maskoracle check {target} --max-examples 20 --seed {seed}" in text
    assert f"fn = load_target({target!r})" in text
    assert "Traceback" not in text


@needs_torch
def test_keys_only_padding_passes_with_pad_queries_free(pytester):
    path = pytester.makepyfile(keys_only=KEYS_ONLY_TORCH)
    result = run_suites(pytester, "--mask-impl", f"{path}:block_causal", "--mask-max-examples", "20",
                        "--mask-pad-queries", "free", "--mask-seed", "0")
    result.assert_outcomes(passed=TESTS_PER_IMPL - 1, skipped=1, failed=0, errors=0)
    reasons = skip_reasons(result)
    assert len(reasons) == 1 and "padded_queries_empty" in reasons[0], reasons


def test_rowwise_spec_skips_the_invariants_that_do_not_hold(pytester):
    path = pytester.makepyfile(rowwise_masks=ROWWISE_NUMPY)
    result = run_suites(pytester, "--mask-impl", f"{path}:rowwise", "--mask-spec", "rowwise",
                        "--mask-framework", "numpy", "--mask-max-examples", "20", "--mask-seed", "0")
    result.assert_outcomes(passed=TESTS_PER_IMPL - 3, skipped=3, failed=0, errors=0)
    reasons = "\n".join(skip_reasons(result))
    for invariant in ("full_block_rows", "first_att_bit_irrelevant", "no_multilayer_leak"):
        assert re.search(rf"{invariant} does not hold for spec rowwise", reasons), reasons
    header = HEADER_SEED.search(result.stdout.str())
    assert header and header.group(1) == "rowwise"


def test_rowwise_implementation_fails_the_default_spec(pytester):
    """The same implementation against block_causal: the suite must notice (it is the user's mistake)."""
    path = pytester.makepyfile(rowwise_masks=ROWWISE_NUMPY)
    result = run_suites(pytester, "--mask-impl", f"{path}:rowwise", "--mask-framework", "numpy",
                        "--mask-max-examples", "20", "-k", "spec_examples or no_multilayer_leak", "--mask-seed", "0")
    result.assert_outcomes(failed=2, passed=0)


def test_mask_exitfirst_stops_the_session_after_the_first_failed_check(pytester):
    path = pytester.makepyfile(rowwise_masks=ROWWISE_NUMPY)
    arguments = ("--mask-impl", f"{path}:rowwise", "--mask-framework", "numpy", "--mask-max-examples", "20",
                 "-k", "spec_examples or no_multilayer_leak", "--mask-seed", "0")
    result = run_suites(pytester, *arguments, "--mask-exitfirst")
    result.assert_outcomes(failed=1, passed=0)
    assert "--mask-exitfirst: " in output_of(result)


def test_missing_mask_impl_is_an_error_that_says_what_to_pass(pytester):
    result = run_suites(pytester)
    assert result.ret != pytest.ExitCode.OK
    assert "passed" not in result.parseoutcomes()
    assert "pass --mask-impl" in output_of(result)


def test_bad_mask_impl_names_the_reason(pytester):
    result = run_suites(pytester, "--mask-impl", "nope:fn", "--mask-seed", "0")
    assert result.ret != pytest.ExitCode.OK
    text = output_of(result)
    assert " passed" not in text
    lines = [line for line in text.splitlines() if "TARGET 'nope:fn' cannot be imported" in line]
    assert lines, text
    assert "No module named 'nope'" in lines[0]


def test_bad_mask_impl_is_a_one_line_usage_error(pytester):
    result = run_suites(pytester, "--mask-impl", "nope:fn", "--mask-seed", "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = output_of(result)
    assert text.count("TARGET 'nope:fn' cannot be imported") == 1, text
    assert "pluggy" not in text


def test_bad_mask_option_value_is_a_usage_error(pytester):
    result = run_suites(pytester, "--mask-impl", NUMPY_BUILTIN, "--mask-framework", "numpy",
                        "--mask-max-examples", "0", "--mask-seed", "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--mask-max-examples: must be at least 1" in output_of(result)
    assert " failed" not in output_of(result)


def test_unknown_choice_is_rejected_by_pytest(pytester):
    result = run_suites(pytester, "--mask-impl", NUMPY_BUILTIN, "--mask-spec", "nope", "--mask-seed", "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--mask-spec" in result.stderr.str()


def test_plugin_stays_out_of_unrelated_test_runs(pytester):
    pytester.makepyfile(test_unrelated="def test_ok():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "maskoracle:" not in result.stdout.str()
    assert "--mask-impl" in pytester.runpytest_subprocess("--help").stdout.str()


HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile.py"


def test_a_worker_death_fails_that_test_and_the_session_reaches_its_summary(pytester):
    """``os._exit(0)`` inside the implementation: the tests it runs in fail, the others pass, junit is written."""
    junit = pytester.path / "junit.xml"
    result = run_suites(pytester, "--mask-impl", f"{HOSTILE}:exits_zero", "--mask-framework", "numpy",
                        "--mask-max-examples", "10", "--mask-seed", "1", f"--junitxml={junit}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] >= 1 and outcomes["passed"] >= 1
    assert "exited with code 0" in output_of(result)
    assert junit.is_file() and "exited with code 0" in junit.read_text()


def test_a_target_whose_import_exits_is_a_usage_error_not_a_pass(pytester):
    target = Path(__file__).resolve().parents[1] / "fixtures" / "exits_at_import.py"
    result = run_suites(pytester, "--mask-impl", f"{target}:fn", "--mask-framework", "numpy")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "worker process exited with code 0 while importing the TARGET" in output_of(result)
