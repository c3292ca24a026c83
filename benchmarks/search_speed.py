"""Search power, side by side in one process (issue 15): rows compared per second by ``equivalence``.

    python benchmarks/search_speed.py [--rounds 3]

Three ways to check ``maskoracle.implementations.torch:block_causal`` at the default distribution:
- ``hypothesis only`` (before issue 15): the equivalence property alone, one call per Hypothesis example;
- ``equivalence`` (after): the property, then the batched search (thousands of rows per call);
- ``hand-written Hypothesis test``: ``@given(mask_examples())`` comparing with the vectorised oracle, the test a
  user would write without the suite.
and the default ``check()``'s total time. A benchmark, not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed

from maskoracle import check
from maskoracle.adapters import get_adapter
from maskoracle.checking.engine import CheckState, RunSettings, run_property
from maskoracle.checking.runner import Runner
from maskoracle.implementations import torch as torch_impl
from maskoracle.oracle import fast_reference_mask
from maskoracle.strategies import mask_examples

FN = torch_impl.block_causal


def hypothesis_only(seed: int) -> tuple[int, int, float]:
    runner = Runner(FN, get_adapter("torch"), "block_causal", "masked", "bool", 10.0)
    state = CheckState("equivalence")
    started = time.perf_counter()
    run_property(state, mask_examples(), runner.compare_example, RunSettings(100, seed, 4.0, None, "bench"))
    return state.rows, state.longest, time.perf_counter() - started


def equivalence(seed: int) -> tuple[int, int, float]:
    result = check(FN, checks=["equivalence"], seed=seed, db="none").checks[0]
    assert result.passed, result.message
    return result.rows, result.longest, result.seconds


def hand_written(seed: int) -> tuple[int, int, float]:
    counted = {"rows": 0, "longest": 0}

    @settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(mask_examples())
    def test(example):
        pad, att = example
        actual = FN(torch.from_numpy(pad), torch.from_numpy(att)).numpy()
        assert np.array_equal(actual, fast_reference_mask(pad, att))
        counted["rows"] += pad.shape[0]
        counted["longest"] = max(counted["longest"], pad.shape[1])

    test = hypothesis_seed(seed)(test)
    started = time.perf_counter()
    test()
    return counted["rows"], counted["longest"], time.perf_counter() - started


def default_check(seed: int) -> tuple[int, int, float]:
    report = check(FN, seed=seed, db="none")
    assert report.passed
    return sum(r.rows or r.examples for r in report.checks), 0, report.elapsed_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {rounds} seeded rounds\n")
    print("| what | rows compared | longest L | seconds | rows/s |")
    print("|---|---|---|---|---|")
    for name, run in (("hypothesis only (before)", hypothesis_only), ("equivalence (after)", equivalence),
                      ("hand-written Hypothesis test", hand_written), ("default check(), every check", default_check)):
        results = sorted((run(seed) for seed in range(rounds)), key=lambda result: result[2])
        rows, longest, seconds = results[len(results) // 2]
        print(f"| {name} | {rows:,} | {longest or ''} | {seconds:.2f} | {rows / seconds:,.0f} |")


if __name__ == "__main__":
    main()
