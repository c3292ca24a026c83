"""What running the implementation in a worker process costs (issue "Out of process"): pytest-benchmark records
both forms side by side in one run; nothing asserts a timing.

    pytest benchmarks/test_isolation_cost.py --benchmark-only --benchmark-group-by=group

- ``default_check``: a default ``maskoracle check`` of the torch built-in (seed 0), the whole command as a user
  runs it, in-process and in a worker (the worker's start-up included; with a worker, maskoracle's own process
  never imports torch, the worker does); goal: worker / in-process <= 1.3.
- ``per_call``: one call of a trivial implementation, bare and through the worker's call reporting (two
  JSON lines on a pipe per call), in microseconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from maskoracle.checking.child import watched

TORCH_BUILTIN = "maskoracle.implementations.torch:block_causal"


@pytest.mark.parametrize("isolation", ["in-process", "process"])
def test_default_check(benchmark, isolation: str, tmp_path) -> None:
    pytest.importorskip("torch")
    benchmark.group = "default_check"
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "maskoracle", "check", TORCH_BUILTIN, "--seed", "0", "--db", "none", "--plain",
               "--isolation", isolation, "--json", str(report)]

    def run() -> int:
        return subprocess.run(command, stdout=subprocess.DEVNULL, check=False).returncode

    assert benchmark.pedantic(run, rounds=3, iterations=1) == 0
    benchmark.extra_info["isolation"] = json.loads(report.read_text())["worker"]["isolation"]


def _trivial(pad, att):
    return pad


@pytest.mark.parametrize("form", ["bare", "reported"])
def test_per_call(benchmark, form: str) -> None:
    benchmark.group = "per_call"
    pad = np.ones((1, 8), dtype=bool)
    with open(os.devnull, "w") as sink:
        def send(event: dict) -> None:  # as the worker sends: a JSON line, flushed (a write system call)
            sink.write(json.dumps(event) + "\n")
            sink.flush()

        fn = _trivial if form == "bare" else watched(_trivial, send)
        benchmark(fn, pad, pad)
