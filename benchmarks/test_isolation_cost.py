"""What running the implementation in a worker process costs (issue "Out of process"): pytest-benchmark records
both forms side by side in one run; nothing asserts a timing.

    pytest benchmarks/test_isolation_cost.py --benchmark-only --benchmark-group-by=group

- ``default_check``: a default ``maskoracle check`` of the torch built-in (seed 0), the whole command as a user
  runs it, in-process and in a worker (the worker's start-up and its import of torch included); goal: worker /
  in-process <= 1.3.
- ``per_call``: one call of a trivial implementation, bare and through the worker (a request and a reply on two
  pipes: the arguments and the result as raw buffers), in microseconds.
- ``result_64MiB``: the NumPy built-in on ``[16, 2048]``, bare and through the worker: what a big result costs
  to bring back.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

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


@pytest.fixture(scope="module")
def worker():
    from maskoracle.checking.isolation import Worker

    worker = Worker(None)
    yield worker
    worker.close()


@pytest.mark.parametrize("form", ["bare", "worker"])
@pytest.mark.parametrize("L", [8, 1024])
def test_per_call(benchmark, form: str, L: int, worker) -> None:
    """One call: ``[1, L]`` inputs, a ``[1, L]`` result (``_trivial`` returns its pad), bare or through the worker
    (arguments and result as raw buffers on two pipes, and the in-place and aliasing facts)."""
    from maskoracle.checking.isolation import RemoteFunction

    benchmark.group = f"per_call L={L}"
    pad = np.ones((1, L), dtype=bool)
    fn = _trivial if form == "bare" else RemoteFunction(
        worker, f"{__file__}:_trivial", {"kind": "mask", "framework": "numpy", "device": "cpu", "timeout": 10.0})
    benchmark(fn, pad, pad)


@pytest.mark.parametrize("form", ["bare", "worker"])
def test_big_result(benchmark, form: str, worker) -> None:
    """A bool ``[16, 2048, 2048]`` result (64 MiB) coming back: what the transport costs for the long inputs."""
    from maskoracle.checking.isolation import RemoteFunction

    benchmark.group = "result_64MiB"
    pad = np.ones((16, 2048), dtype=bool)
    target = "maskoracle.implementations.numpy:block_causal"
    from maskoracle.targets import load_target

    fn = load_target(target) if form == "bare" else RemoteFunction(
        worker, target, {"kind": "mask", "framework": "numpy", "device": "cpu", "timeout": 60.0})
    benchmark.pedantic(fn, (pad, pad), rounds=5, iterations=1)
