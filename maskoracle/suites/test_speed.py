"""Speed (pytest-benchmark): each ``--mask-impl`` over ``--mask-bench-sizes``, gated by correctness.

A size is timed only for an implementation that passed the equivalence gate in this session and whose
result on that very input equals the oracle. Each benchmark's ``extra_info["maskoracle"]`` holds the
context of its number (bytes written, the write bound timed alongside, peak memory, machine), so that
``maskoracle report`` can read ``--benchmark-json`` output. Without pytest-benchmark, or with it disabled
(``--benchmark-disable``, or under xdist where it switches itself off), these tests skip and say why.
"""

from __future__ import annotations

from typing import Any

import pytest

from maskoracle.adapters import get_adapter
from maskoracle.checking.calling import call_with_timeout
from maskoracle.errors import UsageError
from maskoracle.speed.bench import (
    WORKLOADS,
    BenchTarget,
    gate,
    machine_info,
    parse_sizes,
    time_size,
    workload_inputs,
)

GATE_EXAMPLES = 30


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "speed_size" in metafunc.fixturenames:
        try:
            sizes = parse_sizes(metafunc.config.getoption("--mask-bench-sizes"))
        except UsageError as error:
            raise pytest.UsageError(str(error).replace("--sizes", "--mask-bench-sizes")) from None
        metafunc.parametrize("speed_size", sizes, ids=[f"{B}x{L}" for B, L in sizes])


NOT_INSTALLED = "speed suite: pytest-benchmark is not installed or not loaded (pip install 'maskoracle[bench]')"
DISABLED = ("speed suite: pytest-benchmark is disabled (--benchmark-disable, or under xdist, where it switches "
            "itself off); run without them to time")


def _skip_unless_benchmarking(config: pytest.Config) -> None:
    """Skip before any work when pytest-benchmark cannot time (checked on its session, before the gate)."""
    session = getattr(config, "_benchmarksession", None)
    if session is None:
        pytest.skip(NOT_INSTALLED)
    if getattr(session, "disabled", False):
        pytest.skip(DISABLED)


def _benchmark(request: pytest.FixtureRequest) -> Any:
    try:
        benchmark = request.getfixturevalue("benchmark")
    except pytest.FixtureLookupError:
        pytest.skip(NOT_INSTALLED)
    if getattr(benchmark, "disabled", False):
        pytest.skip(DISABLED)
    return benchmark


_GATES: dict[tuple[str, str, str], tuple[bool, str]] = {}


def _gate(target: BenchTarget, device: str) -> tuple[bool, str]:
    key = (target.name, target.framework, device)
    if key not in _GATES:
        _GATES[key] = gate(target, device, GATE_EXAMPLES)
    return _GATES[key]


def _timed_call(target: BenchTarget, device: str, B: int, L: int, workload: str,
                convert: Any = None) -> tuple[Any, dict[str, Any]]:
    """The call to benchmark (device-synchronised) and the context of its number, after the checks."""
    if workload not in WORKLOADS:
        raise UsageError(f"--mask-bench-workload: unknown workload {workload!r}; choose from {', '.join(WORKLOADS)}")
    passed, message = _gate(target, device)
    if not passed:
        pytest.skip(f"not timed: {target.name} failed the correctness gate: {message}")
    fn = target.fn if convert is None else (lambda pad, att: convert(target.fn(pad, att)))
    timed_target = BenchTarget(target.name if convert is None else f"{target.name}+to_additive_4d", fn,
                               target.framework)
    timing = time_size(timed_target, B, L, workload=workload, device=device, min_time=0.05)
    if timing.status != "timed":
        pytest.fail(f"{timed_target.name} at B={B}, L={L}: {timing.message}", pytrace=False)
    adapter = get_adapter(target.framework, device)
    pad, att = adapter.inputs(*workload_inputs(B, L, workload), "bool")
    synchronize = _synchronize(device)

    def call() -> Any:
        result = fn(pad, att)
        synchronize()
        return result

    context = {"target": timed_target.name, "framework": target.framework, "workload": workload,
               "size": timing.to_json(), "machine": machine_info()}
    return call, context


def _synchronize(device: str) -> Any:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.synchronize
    return lambda: None


def test_speed(request: pytest.FixtureRequest, mask_impl: Any, mask_options: dict[str, Any],
               speed_size: tuple[int, int], pytestconfig: pytest.Config) -> None:
    _skip_unless_benchmarking(pytestconfig)
    B, L = speed_size
    target = BenchTarget(mask_impl.target, mask_impl.fn, mask_options["framework"])
    call, context = _timed_call(target, mask_options["device"], B, L,
                                pytestconfig.getoption("--mask-bench-workload"))
    benchmark = _benchmark(request)
    benchmark.extra_info["maskoracle"] = context
    benchmark(call)


def test_additive_conversion_speed(request: pytest.FixtureRequest, mask_impl: Any, mask_options: dict[str, Any],
                                   speed_size: tuple[int, int], pytestconfig: pytest.Config) -> None:
    """The implementation followed by the built-in ``to_additive_4d``: the 4D mask a model's attention reads."""
    _skip_unless_benchmarking(pytestconfig)
    if mask_options["framework"] != "torch":
        pytest.skip("to_additive_4d is a PyTorch conversion; --mask-framework is not torch")
    import torch  # lazily: torch is an optional extra

    from maskoracle.implementations.torch import to_additive_4d  # lazily: it imports torch

    B, L = speed_size
    target = BenchTarget(mask_impl.target, mask_impl.fn, "torch")
    passed, message = _gate(target, mask_options["device"])
    if not passed:
        pytest.skip(f"not timed: {target.name} failed the correctness gate: {message}")
    inputs = tuple(torch.from_numpy(x).to(mask_options["device"]) for x in workload_inputs(1, 4))
    probe = call_with_timeout(mask_impl.fn, inputs, mask_options["timeout"])  # it passed the gate: no surprise
    if not isinstance(probe, torch.Tensor) or probe.dtype != torch.bool or probe.dim() != 3:
        pytest.skip("the implementation does not return a bool [B, L, L] mask to convert")
    call, context = _timed_call(target, mask_options["device"], B, L,
                                pytestconfig.getoption("--mask-bench-workload"), convert=to_additive_4d)
    benchmark = _benchmark(request)
    benchmark.extra_info["maskoracle"] = context
    benchmark(call)
