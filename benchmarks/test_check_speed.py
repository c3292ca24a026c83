"""How fast the suite itself is (issue: foundation): pytest-benchmark records, nothing asserts a timing.

    pytest benchmarks --benchmark-only

Figures recorded (see each benchmark's ``extra_info``):
- a default ``check()`` of the fast torch implementation, every check included (target: <= 20 s on 2 cores);
- the equivalence check's throughput at the default size distribution: Hypothesis examples per second (target:
  >= 300) and batch rows per second with the batched search (issue 15's target: >= 50,000);
- seconds until an off-by-one (``<`` for ``<=``) is found and shrunk (target: < 1 s).
"""

from __future__ import annotations

import pytest

from maskoracle import check
from maskoracle.implementations import numpy as numpy_impl
from maskoracle.implementations import torch as torch_impl
from maskoracle.zoo import torch_zoo


def test_default_check_of_torch_block_causal(benchmark) -> None:
    report = benchmark.pedantic(check, args=(torch_impl.block_causal,), kwargs={"seed": 0}, rounds=3, iterations=1)
    assert report.passed
    benchmark.extra_info["checks"] = {result.name: round(result.seconds, 3) for result in report.checks}


@pytest.mark.parametrize("framework, fn", [("torch", torch_impl.block_causal), ("numpy", numpy_impl.block_causal)])
def test_equivalence_throughput(benchmark, framework: str, fn) -> None:
    def run():
        return check(fn, framework=framework, checks=["equivalence"], max_examples=1000, seed=0)

    report = benchmark.pedantic(run, rounds=3, iterations=1)
    result = report.checks[0]
    assert result.passed and result.examples == 1000
    benchmark.extra_info["examples_per_second"] = round(result.examples / benchmark.stats.stats.mean, 1)
    # Batch rows compared, the Hypothesis examples' and the batched search's (issue 15)
    benchmark.extra_info["rows_per_second"] = round(result.rows / benchmark.stats.stats.mean, 1)
    benchmark.extra_info["longest"] = result.longest


def test_time_to_find_an_off_by_one(benchmark) -> None:
    def run():
        return check(torch_zoo.strict_less, checks=["equivalence"], seed=0)

    report = benchmark.pedantic(run, rounds=5, iterations=1)
    result = report.checks[0]
    assert not result.passed and result.counterexample.shape[1] <= 2
    benchmark.extra_info["counterexample_shape"] = list(result.counterexample.shape)
