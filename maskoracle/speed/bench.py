"""Correctness-gated timings of mask implementations, with the machine's own write bound measured alongside.

    report = bench([BenchTarget("mypkg.masks:make_mask", fn, "torch")], sizes=[(8, 1024), (2, 4096)])

For every target, first the gate: ``check()`` (format, SPEC examples, exhaustive small inputs, random
equivalence; seeded) must pass, or the target is reported *not timed*. Then, for every ``(B, L)`` of the
grid, on a deterministic input of the chosen workload layout:

- the result is compared with the oracle on that very input (a wrong result at that size is not timed);
- the implementation and the *bound* (a fresh allocation of an output of the same shape, dtype and device,
  written once) are timed in alternating rounds, so that load on the machine hits both alike; on a GPU the
  device is synchronised around each round;
- bytes written, best and median seconds, their ratio to the bound, and peak memory of one call are kept.

Times are the best of the rounds (noise only ever adds time); medians and quartiles are kept for the noise
estimate that ``maskoracle report`` uses when it compares runs.
"""

from __future__ import annotations

import ctypes
import gc
import math
import os
import platform
import re
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .. import __version__ as maskoracle_version
from ..adapters import get_adapter
from ..checking import check
from ..checking.calling import call_implementation, helper_call
from ..checking.results import Aborted, Failure
from ..checking.runner import Runner
from ..errors import UsageError
from ..implementations import native_status

# Quick on 2 cores (a few seconds per target): bigger grids through ``sizes``.
DEFAULT_SIZES: tuple[tuple[int, int], ...] = ((8, 256), (8, 512), (8, 1024), (2, 2048), (2, 4096))
# The grid of the published report: B up to 64, L up to 4096.
FULL_SIZES: tuple[tuple[int, int], ...] = ((1, 256), (8, 256), (8, 512), (8, 1024), (64, 1024), (2, 2048),
                                           (2, 4096), (8, 4096))
GATE_CHECKS = ("output_format", "spec_examples", "exhaustive_small", "equivalence")
WORKLOADS = ("pi05_subtask", "causal", "bidirectional", "random")
MAX_ROUNDS = 200
MEASURE_TIMEOUTS = 20  # the timed rounds of one size may take this many per-call time limits
STEEP_MARGIN = 0.3  # a slope this much above 2 and above the bound's is reported as a finding


@dataclass(frozen=True)
class BenchTarget:
    """An implementation to time: its name (a TARGET string), the callable and the framework of its inputs."""

    name: str
    fn: Any
    framework: str = "torch"


@dataclass
class SizeTiming:
    """One ``(B, L)`` of one target. ``status``: ``timed``, ``wrong`` (differs from the oracle) or ``error``."""

    B: int
    L: int
    status: str
    message: str = ""
    output: str = ""  # e.g. "bool [8, 1024, 1024]"
    bytes_written: int = 0
    rounds: int = 0
    best_s: float | None = None
    median_s: float | None = None
    q1_s: float | None = None
    q3_s: float | None = None
    bound_best_s: float | None = None
    bound_median_s: float | None = None
    peak_memory_bytes: int | None = None
    memory_method: str = ""
    bound_method: str = ""

    @property
    def ratio_to_bound(self) -> float | None:
        if self.best_s is None or not self.bound_best_s:
            return None
        return self.best_s / self.bound_best_s

    @property
    def noise(self) -> float:
        """Relative spread of the rounds: interquartile range over median."""
        if self.median_s is None or self.q1_s is None or self.q3_s is None or not self.median_s:
            return 0.0
        return (self.q3_s - self.q1_s) / self.median_s

    def to_json(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["ratio_to_bound"] = self.ratio_to_bound
        payload["noise"] = self.noise
        payload["gbytes_per_s"] = (self.bytes_written / self.best_s / 1e9) if self.best_s else None
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SizeTiming:
        names = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in names})


@dataclass
class TargetBench:
    """A target's gate verdict and its timings over the grid."""

    target: str
    framework: str
    gate_passed: bool
    gate_message: str = ""
    sizes: list[SizeTiming] = field(default_factory=list)

    @property
    def timed(self) -> list[SizeTiming]:
        return [size for size in self.sizes if size.status == "timed"]

    def slopes(self, bound: bool = False) -> dict[int, float]:
        """Per B with at least two lengths timed: the log-log slope of best time (or of the bound's) against L.

        About 2 is expected of a materialised mask. The bound's own slope shows what the memory system adds:
        past the last cache level, or where fresh allocations start to cost page faults, it steepens too.
        """
        result = {}
        for B in sorted({size.B for size in self.timed}):
            measured = [(size.L, size.bound_best_s if bound else size.best_s) for size in self.timed if size.B == B]
            points = [(L, seconds) for L, seconds in measured if seconds]
            if len({L for L, _ in points}) >= 2:
                result[B] = loglog_slope([L for L, _ in points], [t for _, t in points])
        return result

    def steep_slopes(self) -> dict[int, float]:
        """The slopes that are findings: above 2 and above the bound's own growth (by more than 0.3)."""
        bounds = self.slopes(bound=True)
        return {B: slope for B, slope in self.slopes().items()
                if slope > 2 + STEEP_MARGIN and slope > bounds.get(B, 2.0) + STEEP_MARGIN}

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "framework": self.framework, "gate_passed": self.gate_passed,
                "gate_message": self.gate_message, "sizes": [size.to_json() for size in self.sizes],
                "slopes": {str(B): slope for B, slope in self.slopes().items()},
                "bound_slopes": {str(B): slope for B, slope in self.slopes(bound=True).items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TargetBench:
        return cls(data["target"], data.get("framework", "?"), bool(data["gate_passed"]),
                   data.get("gate_message", ""), [SizeTiming.from_json(size) for size in data.get("sizes", [])])


@dataclass
class BenchReport:
    """What ``bench()`` returns and ``maskoracle bench --json`` writes (``kind: maskoracle-bench``)."""

    machine: dict[str, Any]
    workload: str
    device: str
    targets: list[TargetBench] = field(default_factory=list)
    elapsed_s: float = 0.0
    created: str = ""
    source: str = ""  # the file it was read from, for reports

    @property
    def passed(self) -> bool:
        """Every target passed its gate and every size was timed."""
        return all(target.gate_passed and all(size.status == "timed" for size in target.sizes)
                   for target in self.targets)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "maskoracle-bench", "version": 1, "created": self.created, "machine": self.machine,
                "workload": self.workload, "device": self.device, "elapsed_s": self.elapsed_s,
                "passed": self.passed, "targets": [target.to_json() for target in self.targets]}

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "") -> BenchReport:
        return cls(data.get("machine", {}), data.get("workload", "?"), data.get("device", "?"),
                   [TargetBench.from_json(target) for target in data["targets"]], float(data.get("elapsed_s", 0.0)),
                   data.get("created", ""), source)


def loglog_slope(lengths: Sequence[float], seconds: Sequence[float]) -> float:
    """Least-squares slope of log(time) against log(L)."""
    x = np.log(np.asarray(lengths, dtype=float))
    y = np.log(np.asarray(seconds, dtype=float))
    return float(np.polyfit(x, y, 1)[0])


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"8x1024,2x4096"`` -> ``[(8, 1024), (2, 4096)]``; ``UsageError`` naming the bad item."""
    sizes = []
    for item in text.replace(" ", "").split(","):
        match = re.fullmatch(r"(\d+)[xX*](\d+)", item)
        if not match:
            raise UsageError(f"--sizes: {item!r} is not BxL (write sizes like 8x1024,2x4096)")
        B, L = int(match.group(1)), int(match.group(2))
        if B < 1 or L < 1:
            raise UsageError(f"--sizes: {item!r}: B and L must be at least 1")
        sizes.append((B, L))
    return sizes


def workload_inputs(B: int, L: int, workload: str = "pi05_subtask", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic bool ``(pad, att)`` pair of shape ``[B, L]`` for timing.

    ``pi05_subtask`` (default, SPEC §8): half the tokens image (att 0), a quarter language (att 0, right
    padded to a different length in every batch row), a sixteenth subtask tokens (att 1, causal), then one
    bidirectional action block. ``causal``: att all 1, no padding. ``bidirectional``: att all 0, right
    padded. ``random``: random att and pad bits (many tiny blocks, the hardest case for block-wise writers).
    """
    if workload not in WORKLOADS:
        raise UsageError(f"unknown workload {workload!r}; choose from {', '.join(WORKLOADS)}")
    rng = np.random.default_rng(seed)
    pad = np.ones((B, L), dtype=bool)
    att = np.zeros((B, L), dtype=bool)
    if workload == "causal":
        att[:] = True
    elif workload == "bidirectional":
        for b in range(B):
            pad[b, int(rng.integers(1, L + 1)):] = False
    elif workload == "random":
        pad = rng.random((B, L)) < 0.9
        att = rng.random((B, L)) < 0.5
    else:
        image, language, subtask = L // 2, L // 4, L // 16
        for b in range(B):
            real_language = int(rng.integers(1, language + 1)) if language else 0
            pad[b, image + real_language:image + language] = False
        att[:, image + language:image + language + subtask] = True
        if image + language + subtask < L:
            att[:, image + language + subtask] = True
    return pad, att


def machine_info() -> dict[str, Any]:
    """Machine and library versions, recorded in every result."""
    info: dict[str, Any] = {
        "python": platform.python_version(), "platform": platform.platform(), "machine": platform.machine(),
        "processor": _cpu_name(), "cpu_count": os.cpu_count(), "numpy": np.__version__,
    }
    try:
        info["load_average"] = [round(value, 2) for value in os.getloadavg()]
    except OSError:
        pass
    if "torch" in sys.modules or _importable("torch"):
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["cuda_device"] = torch.cuda.get_device_name()
            info["cuda"] = torch.version.cuda
    info["maskoracle"] = maskoracle_version
    info["cpu_writer"] = native_status()  # how the CPU built-ins write rows: C, or NumPy and why
    return info


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _synchronizer(result: Any) -> Callable[[], None]:
    module = type(result).__module__
    if module.startswith("torch"):
        import torch

        if result.device.type == "cuda":
            return torch.cuda.synchronize
    return lambda: None


def bound_writers(result: Any) -> dict[str, Callable[[], Any]]:
    """Ways to allocate a fresh output like ``result`` (shape, dtype, device) and write it once; the bound is
    the fastest of them. For a CPU tensor NumPy's allocations are candidates too: NumPy asks for huge pages,
    which makes first writes to fresh memory cheaper than ``torch.empty``'s."""
    if type(result).__module__.startswith("torch"):
        import torch

        shape, dtype, device = tuple(result.shape), result.dtype, result.device
        value = True if dtype == torch.bool else 1
        writers: dict[str, Callable[[], Any]] = {
            "torch.empty().fill_()": lambda: torch.empty(shape, dtype=dtype, device=device).fill_(value)}
        if device.type == "cpu" and dtype != torch.bfloat16:
            writers.update(_numpy_writers(shape, torch.empty(0, dtype=dtype).numpy().dtype))
        return writers
    array = np.asarray(result)
    return _numpy_writers(array.shape, array.dtype)


def _numpy_writers(shape: tuple[int, ...], dtype: np.dtype) -> dict[str, Callable[[], Any]]:
    """``fill`` is one ``memset``, which for outputs larger than the caches uses non-temporal stores; a
    broadcast copy of one row uses ordinary stores. Which is faster depends on the size and the machine."""
    row = np.ones(shape[-1:], dtype=dtype)

    def broadcast_row() -> np.ndarray:
        out = np.empty(shape, dtype=dtype)
        out[...] = row
        return out

    return {"numpy.empty().fill()": lambda: np.empty(shape, dtype=dtype).fill(1),
            "numpy.empty()[...] = row": broadcast_row}


def _describe_output(result: Any) -> tuple[str, int]:
    if type(result).__module__.startswith("torch"):
        dtype = str(result.dtype).replace("torch.", "")
        return f"{dtype} {list(result.shape)} on {result.device}", int(result.numel() * result.element_size())
    array = np.asarray(result)
    return f"{array.dtype} {list(array.shape)}", int(array.nbytes)


def _release_free_memory() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _resident_bytes() -> int | None:
    try:
        with open("/proc/self/statm", encoding="utf-8") as stream:
            return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def _peak_resident_bytes() -> int | None:
    try:
        with open("/proc/self/status", encoding="utf-8") as stream:
            for line in stream:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def peak_memory(call: Callable[[], Any], result: Any) -> tuple[int | None, str]:
    """Peak memory one call allocates, and how it was measured.

    CUDA: ``torch.cuda.max_memory_allocated``. NumPy: ``tracemalloc`` (NumPy reports its buffers to it).
    Other CPU code: the rise of the process's peak resident set (``VmHWM``, reset through ``clear_refs``)
    after free memory is handed back to the system; coarse (pages), but framework-agnostic.
    """
    if type(result).__module__.startswith("torch") and result.device.type == "cuda":
        import torch

        torch.cuda.synchronize()
        allocated = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        kept = call()
        torch.cuda.synchronize()
        peak_device = torch.cuda.max_memory_allocated() - allocated
        del kept
        return int(peak_device), "torch.cuda.max_memory_allocated"
    if isinstance(result, np.ndarray):
        _release_free_memory()
        tracemalloc.start()
        try:
            kept = call()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        del kept
        return int(peak), "tracemalloc"
    _release_free_memory()
    before = _resident_bytes()
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as stream:
            stream.write("5")
    except OSError:
        return None, "unavailable"
    kept = call()
    peak_resident = _peak_resident_bytes()
    del kept
    if before is None or peak_resident is None:
        return None, "unavailable"
    return max(0, peak_resident - before), "peak RSS rise"


def time_rounds(call: Callable[[], Any], bounds: dict[str, Callable[[], Any]], sync: Callable[[], None],
                min_time: float, min_rounds: int = 5) -> tuple[list[float], dict[str, list[float]]]:
    """Alternate rounds of ``call`` and each bound writer until ``call`` has had ``min_time`` seconds (and at
    least ``min_rounds`` rounds, at most ``MAX_ROUNDS``), so that load on the machine hits all alike; each
    round is synchronised with the device."""
    times: list[float] = []
    bound_times: dict[str, list[float]] = {name: [] for name in bounds}
    functions = [(times, call)] + [(bound_times[name], writer) for name, writer in bounds.items()]
    for _, function in functions:  # warm-up: first-call costs (lazy initialisation) are not the steady state
        function()
    sync()
    while len(times) < MAX_ROUNDS and (len(times) < min_rounds or sum(times) < min_time):
        for clock, function in functions:
            sync()
            started = time.perf_counter()
            output = function()
            sync()
            clock.append(time.perf_counter() - started)
            del output
    return times, bound_times


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def gate(target: BenchTarget, device: str, examples: int) -> tuple[bool, str]:
    """The correctness gate: the seeded equivalence checks; ``(passed, message)``."""
    report = check(target.fn, framework=target.framework, device=device, checks=GATE_CHECKS,
                   max_examples=examples, seed=0, db="none", target=target.name)
    if report.passed:
        return True, f"passed {', '.join(GATE_CHECKS)} ({sum(c.examples for c in report.checks)} inputs)"
    first = report.failed[0]
    return False, f"failed {first.name}: {first.message}"


def time_size(target: BenchTarget, B: int, L: int, *, workload: str = "pi05_subtask", device: str = "cpu",
              min_time: float = 0.2, memory: bool = True, timeout: float = 60.0) -> SizeTiming:
    """Verify and time one target at one size (see the module docstring). The verification runs here; the
    timing runs where the implementation does (``measure``: in its worker process when ``target.fn`` stands for
    one), so that isolation adds nothing to the times."""
    adapter = get_adapter(target.framework, device)
    pad, att = workload_inputs(B, L, workload)
    runner = Runner(target.fn, adapter, "block_causal", "masked", "bool", timeout)
    try:
        runner.compare(pad, att)
    except (Failure, Aborted) as failure:
        status = "wrong" if "cell (" in failure.message else "error"
        return SizeTiming(B, L, status, f"not timed: {failure.message}")
    pad_in, att_in = adapter.inputs(pad, att, "bool")
    try:
        measured = call_implementation(helper_call(target.fn, "maskoracle.speed.bench:measure"),
                                       (pad_in, att_in, min_time, memory), MEASURE_TIMEOUTS * timeout,
                                       f"[B, L] = [{B}, {L}]", None)
    except (Failure, Aborted) as failure:  # the implementation passed once and then raised: report, never crash
        return SizeTiming(B, L, "error", f"not timed: {failure.message}")
    times, bound_times = measured["times"], measured["bound_times"]
    q1, median, q3 = _quartiles(times)
    bound_name = min(bound_times, key=lambda name: min(bound_times[name]))
    fastest = bound_times[bound_name]
    return SizeTiming(B, L, "timed", "", measured["output"], measured["bytes"], len(times), min(times), median, q1,
                      q3, min(fastest), statistics.median(fastest), measured["peak"], measured["method"], bound_name)


def measure(fn: Callable[..., Any], pad: Any, att: Any, min_time: float, memory: bool) -> dict[str, Any]:
    """Time ``fn(pad, att)`` against the bound writers in alternating rounds, in this process (the worker's when
    the implementation runs in one): what ``SizeTiming`` keeps, as plain values."""

    def call() -> Any:
        return fn(pad, att)

    result = call()
    output, nbytes = _describe_output(result)
    writers = bound_writers(result)
    sync = _synchronizer(result)
    peak, method = peak_memory(call, result) if memory else (None, "")
    del result
    times, bound_times = time_rounds(call, writers, sync, min_time)
    return {"output": output, "bytes": nbytes, "peak": peak, "method": method, "times": times,
            "bound_times": bound_times}


def bench(targets: Sequence[BenchTarget], sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES, *,
          workload: str = "pi05_subtask", device: str = "cpu", min_time: float = 0.2, gate_examples: int = 30,
          memory: bool = True,
          progress: Callable[[str, TargetBench, SizeTiming | None], None] | None = None) -> BenchReport:
    """Gate, then time, every target over ``sizes``; ``progress(event, target, size)`` reports as it goes
    (events ``gate`` after the gate, ``size`` after each size).

    >>> from maskoracle.implementations.numpy import block_causal
    >>> report = bench([BenchTarget("np", block_causal, "numpy")], sizes=[(1, 16), (1, 32)], min_time=0.001)
    >>> [size.status for size in report.targets[0].sizes]
    ['timed', 'timed']
    """
    if workload not in WORKLOADS:
        raise UsageError(f"unknown workload {workload!r}; choose from {', '.join(WORKLOADS)}")
    if not sizes:
        raise UsageError("no sizes to time")
    for target in targets:
        get_adapter(target.framework, device)  # a framework or device that cannot be used: a usage error now
    started = time.perf_counter()
    report = BenchReport(machine_info(), workload, device,
                         created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    for target in targets:
        passed, message = gate(target, device, gate_examples)
        entry = TargetBench(target.name, target.framework, passed, message)
        report.targets.append(entry)
        if progress:
            progress("gate", entry, None)
        if not passed:
            continue
        for B, L in sizes:
            timing = time_size(target, B, L, workload=workload, device=device, min_time=min_time, memory=memory)
            entry.sizes.append(timing)
            if progress:
                progress("size", entry, timing)
    report.elapsed_s = time.perf_counter() - started
    return report


def format_seconds(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def format_bytes(count: int | None) -> str:
    if count is None:
        return "-"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"
