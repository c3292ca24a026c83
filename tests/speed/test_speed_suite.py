"""The speed suite (``maskoracle/suites/test_speed.py``) run as a user runs it, in a pytest subprocess."""

from __future__ import annotations

import json

import pytest

from maskoracle.reports.speed import load_bench_file

NUMPY_BUILTIN = "maskoracle.implementations.numpy:block_causal"
WRONG = """\
import numpy as np


def block_causal(pad_masks, att_masks):
    blocks = np.cumsum(att_masks, axis=-1)
    return pad_masks[:, None, :] & pad_masks[:, :, None] & (blocks[:, None, :] < blocks[:, :, None])
"""


def run_speed(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--pyargs", "maskoracle.suites.test_speed",
                                         "-rs", "--mask-framework", "numpy", "--mask-bench-sizes", "2x16,2x32", *args)


def test_gated_timings_land_in_pytest_benchmark_json(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(wrong=WRONG)
    result = run_speed(pytester, "--mask-impl", NUMPY_BUILTIN, "--mask-impl", "wrong.py:block_causal", "--mask-seed", "0",
                       "--benchmark-json", "out.json", "--benchmark-min-rounds", "3", "--benchmark-max-time", "0.01")
    # numpy: two sizes timed; the additive conversion is PyTorch's (skipped); the wrong one is not timed.
    result.assert_outcomes(passed=2, skipped=6, failed=0, errors=0)
    result.stdout.fnmatch_lines(["*not timed: wrong.py:block_causal failed the correctness gate: failed spec_examples*"])
    data = json.loads((pytester.path / "out.json").read_text())
    contexts = [bench["extra_info"]["maskoracle"] for bench in data["benchmarks"]]
    assert sorted((c["size"]["B"], c["size"]["L"]) for c in contexts) == [(2, 16), (2, 32)]
    assert all(c["target"] == NUMPY_BUILTIN and c["size"]["bytes_written"] == 2 * c["size"]["L"] ** 2
               and c["size"]["bound_best_s"] > 0 and c["machine"]["numpy"] for c in contexts)
    report = load_bench_file(str(pytester.path / "out.json"))
    assert [size.ratio_to_bound is not None for size in report.targets[0].sizes] == [True, True]


def test_skips_with_a_reason_when_benchmarking_is_off(pytester: pytest.Pytester) -> None:
    result = run_speed(pytester, "--mask-impl", NUMPY_BUILTIN, "--benchmark-disable", "--mask-seed", "0")
    result.assert_outcomes(skipped=4)
    result.stdout.fnmatch_lines(["*pytest-benchmark is disabled (--benchmark-disable, or under xdist*"])
    result = run_speed(pytester, "--mask-impl", NUMPY_BUILTIN, "-p", "no:benchmark", "--mask-seed", "0")
    result.assert_outcomes(skipped=4)
    result.stdout.fnmatch_lines(["*pytest-benchmark is not installed or not loaded*"])
