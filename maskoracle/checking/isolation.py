"""The implementation in a worker process: it can end, hang or flood its own process, never the verdict.

The parent (this module) validates the options, resolves the seed, and starts ``python -m
maskoracle.checking.child`` in a new session (its own process group) with a fresh interpreter: no fork, so
torch, JAX and CUDA state is never copied half-initialised into a child. The worker imports the TARGET,
runs the checks and streams one JSON event per line on a private pipe: a check starting, each call of the
implementation starting and returning, each result. The parent owns the report, the JSON file and the exit
status:

- a call that outlives ``--timeout`` plus a grace period is killed (SIGKILL to the whole process group:
  native loops, swallowed exceptions, disarmed alarms, threads and children it started included);
- a worker whose resident memory passes ``--memory-limit`` is killed;
- a worker that exits (any code, 0 included), dies by a signal, or closes the pipe before its last result
  fails the check it was in, naming the cause and the input of the call in flight; the checks after it are
  reported as not run;
- the implementation's stdout and stderr go to a file, never to the terminal; a failure shows an excerpt.

What it does not do: the checks' own machinery (generation, the oracle, comparison, shrinking) still runs in
the worker beside the implementation, so an implementation that patches numpy can still bias the verdict of
its own process (see the README, "Isolation").
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from ..errors import UsageError
from .child import unpacked
from .resolve import ResolvedSpec
from .results import CheckReport, CheckResult, Counterexample
from .run import Prepared, database_key, prepare, report_options_of
from .runner import first_difference, mark, oracle_mask

POLL_S = 0.05
EXCERPT_LINES = 5  # first and last lines of the implementation's output shown with a failure


def grace_seconds(timeout: float) -> float:
    """How long past ``timeout`` a call may run before it is killed: the worker's own timer gets the first go."""
    return max(1.0, 0.25 * timeout)


def resolve_run_values(prepared: Prepared) -> dict[str, Any]:
    """The options the worker runs with: the seed drawn here (so a restarted or killed worker's report names
    it) and the example database chosen as ``check()`` would choose it."""
    values = dict(prepared.values)
    profile = prepared.profile
    explicit_seed = values["seed"] is not None
    if not explicit_seed:
        values["seed"] = 0 if profile and profile.derandomize else int.from_bytes(os.urandom(4), "little")
    if values["max_examples"] is None and profile is not None:
        values["max_examples"] = profile.max_examples
    if values["db"] is None and not explicit_seed:
        values["db"] = os.environ.get("MASKORACLE_DB") or "default"
    values["profile"] = profile.name if profile else None
    values["model_dtypes"] = list(values["model_dtypes"])
    return values


@dataclass
class Outcome:
    """What one run in the worker produced: the results streamed, and why it ended if it did not finish."""

    results: list[CheckResult] = field(default_factory=list)
    died: str | None = None  # the cause, when the worker ended before its last result
    usage_error: str | None = None
    current: str | None = None  # the check running when it ended
    last_input: dict[str, Any] | None = None  # the call in flight when it ended
    peak_memory_bytes: int | None = None
    max_examples: int | None = None


class Worker:
    """One worker process; started on first use, restarted after a death or a kill."""

    def __init__(self, memory_limit: int | None) -> None:
        self.memory_limit = memory_limit
        self.process: subprocess.Popen[bytes] | None = None
        self.output: IO[bytes] | None = None
        self.events: IO[bytes] | None = None
        self.peak_memory_bytes: int | None = None

    def start(self) -> None:
        read_end, write_end = os.pipe()
        self.output = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "maskoracle.checking.child", str(write_end)],
            stdin=subprocess.PIPE, stdout=self.output, stderr=subprocess.STDOUT, pass_fds=(write_end,),
            start_new_session=True, env=_worker_environment())
        os.close(write_end)
        self.events = os.fdopen(read_end, "rb", buffering=0)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        if self.process is not None:
            self.process.wait()

    def close(self) -> None:
        """Ask the worker to exit, then make sure it and everything it started are gone."""
        if self.process is not None and self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # threads and children left behind
            except (ProcessLookupError, PermissionError):
                pass
        self.kill()
        for handle in (self.events, self.output):
            if handle is not None:
                handle.close()
        self.process = self.events = self.output = None

    def output_excerpt(self) -> str:
        """The first and last lines the implementation printed, for a failure message."""
        if self.output is None:
            return ""
        self.output.seek(0)
        lines = self.output.read().decode("utf-8", "replace").splitlines()
        if not lines:
            return ""
        shown = lines if len(lines) <= 2 * EXCERPT_LINES else \
            [*lines[:EXCERPT_LINES], f"... ({len(lines) - 2 * EXCERPT_LINES} lines) ...", *lines[-EXCERPT_LINES:]]
        return "\n".join(line[:200] for line in shown)

    def resident_bytes(self) -> tuple[int | None, int | None]:
        """The worker's resident set and its peak (Linux ``/proc``; ``None`` elsewhere)."""
        if self.process is None:
            return None, None
        try:
            with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            return None, None

        def kilobytes(name: str) -> int | None:
            value = fields.get(name)
            return int(value.split()[0]) * 1024 if value else None

        return kilobytes("VmRSS"), kilobytes("VmHWM")

    def run(self, job: dict[str, Any], timeout: float, on_event: Callable[[dict[str, Any]], None]) -> Outcome:
        """Send one job and follow its events to the end (or to the worker's end)."""
        if self.process is None or self.process.poll() is not None:
            self.close()
            self.start()
        assert self.process is not None and self.process.stdin is not None and self.events is not None
        outcome = Outcome()
        try:
            self.process.stdin.write((json.dumps(job) + "\n").encode())
            self.process.stdin.flush()
        except OSError:
            outcome.died = self._cause()
            return outcome
        return _follow(self, outcome, timeout, on_event)

    def probe(self, target: str, options: dict[str, Any]) -> str | None:
        """Import ``target`` in the worker (and keep it warm); the reason it cannot be, or ``None``."""
        job = {"target": target, "options": {"framework": options["framework"], "device": options["device"]},
               "checks": []}
        outcome = self.run(job, options["timeout"], lambda event: None)
        if outcome.usage_error is not None:
            return outcome.usage_error
        if outcome.died is not None:
            return f"TARGET {target!r}: the worker process importing it {outcome.died}"
        return None

    def _cause(self) -> str:
        assert self.process is not None
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
            return "closed its connection and was killed"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"was killed by {name}"
        return f"exited with code {code}"


def _worker_environment() -> dict[str, str]:
    """The worker finds modules where this process does: its ``sys.path`` (a test's or a notebook's additions
    included), ahead of ``PYTHONPATH``."""
    path = [entry for entry in sys.path if entry] + [os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(entry for entry in path if entry), "PYTHONUNBUFFERED": "1"}


def _follow(worker: Worker, outcome: Outcome, timeout: float, on_event: Callable[[dict[str, Any]], None]
            ) -> Outcome:
    assert worker.events is not None
    selector = selectors.DefaultSelector()
    selector.register(worker.events, selectors.EVENT_READ)
    buffer = b""
    call_started: float | None = None
    limit = timeout + grace_seconds(timeout)
    try:
        while True:
            if selector.select(POLL_S):
                chunk = worker.events.read(65536)
                if not chunk:
                    outcome.died = worker._cause()
                    return outcome
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    event = json.loads(line)
                    kind = event["event"]
                    if kind in ("call", "importing"):
                        call_started = time.monotonic()
                        outcome.last_input = event
                    elif kind == "returned":
                        call_started = None
                    elif kind == "start":
                        outcome.current = event["check"]
                    elif kind == "result":
                        outcome.results.append(CheckResult.from_json(event["result"]))
                        outcome.current = None
                    elif kind == "usage_error":
                        outcome.usage_error = event["message"]
                        return outcome
                    elif kind == "done":
                        outcome.peak_memory_bytes = event.get("peak_memory_bytes")
                        outcome.max_examples = event.get("max_examples")
                        return outcome
                    on_event(event)
            resident, peak = worker.resident_bytes()
            if peak is not None:
                worker.peak_memory_bytes = max(worker.peak_memory_bytes or 0, peak)
            if worker.memory_limit is not None and resident is not None and resident > worker.memory_limit:
                worker.kill()
                outcome.died = (f"was killed for memory: its resident set reached {_gib(resident)}, over the "
                                f"--memory-limit of {_gib(worker.memory_limit)}")
                return outcome
            if call_started is not None and time.monotonic() - call_started > limit:
                worker.kill()
                what = "import" if (outcome.last_input or {}).get("event") == "importing" else "call"
                outcome.died = (f"timed out: the {what} ran past the {timeout:g} s time limit and {grace_seconds(timeout):g}"
                                " s of grace, and was killed (native code, a swallowed exception or a disarmed "
                                "alarm keeps the time limit inside the process from stopping it)")
                return outcome
    finally:
        selector.close()


class Verifier:
    """Every comparison the worker passed, compared again here with an oracle the implementation cannot have
    touched: a worker whose numpy was patched (``np.not_equal``, ``np.cumsum``) cannot turn a wrong mask into a
    pass of the checks that compare masks. Group rules (segment ids, not bits) are left to the worker."""

    def __init__(self, spec: ResolvedSpec, pad_queries: str) -> None:
        self.spec, self.pad_queries = spec, pad_queries
        self.current: str | None = None
        self.compared = 0
        self.violations: dict[str, CheckResult] = {}

    def see(self, event: dict[str, Any]) -> None:
        if event["event"] == "start":
            self.current = event["check"]
        elif event["event"] == "compared" and not self.spec.group_rule and self.current not in self.violations:
            self.compared += 1
            pad, att, actual = (unpacked(event[name]) for name in ("pad", "att", "actual"))
            expected = oracle_mask(pad, att, self.spec.rule, self.pad_queries)
            rows = pad if self.pad_queries == "free" else np.ones_like(pad)
            differ = (expected != actual) & rows[:, :, None]
            if differ.any() and self.current is not None:
                b, query, key = first_difference(differ)
                self.violations[self.current] = CheckResult(
                    self.current, "failed", message=(
                        f"the worker process reported this check passed, but maskoracle's own process finds cell "
                        f"(b={b}, query={query}, key={key}): expected {mark(expected[b, query, key])}, got "
                        f"{mark(actual[b, query, key])} on input [B, L] = {list(pad.shape)} (the implementation "
                        "changed what the checks compute in its process: patched numpy?)"),
                    counterexample=Counterexample(pad, att, expected, actual, rows))

    def overrule(self, results: list[CheckResult]) -> list[CheckResult]:
        """The results, each passing one this process found wrong replaced by its failure."""
        return [self.violations.get(result.name, result) if result.status == "passed" else result
                for result in results]


def _gib(count: int) -> str:
    return f"{count / 2**30:.2f} GiB"


def _died_result(outcome: Outcome, name: str, description: str, excerpt: str) -> CheckResult:
    """The check the worker was in when it ended: failed, with the cause and the input of the call in flight."""
    call = outcome.last_input or {}
    where = ""
    counterexample = None
    if call.get("event") == "importing":
        where = f" while importing the TARGET {call.get('target', '')}"
    elif call:
        where = f" during a call on input {call.get('where', '?')}"
        if call.get("pad") is not None and call.get("att") is not None:
            counterexample = Counterexample(np.asarray(call["pad"], dtype=bool), np.asarray(call["att"], dtype=bool),
                                            note="the input of the call in flight")
    message = f"the implementation's worker process {outcome.died}{where}"
    if excerpt:
        message += f"; its output:\n{excerpt}"
    return CheckResult(name, "failed", message=message, counterexample=counterexample, description=description)


def check_isolated(target: str, *, checks: Any = None,
                   progress: Callable[[str, CheckResult | None], None] | None = None,
                   examples_progress: Callable[[str, int, int], None] | None = None,
                   worker: Worker | None = None, **options: Any) -> CheckReport:
    """``check()`` of a TARGET string in a worker process (module docstring); the parent owns the report."""
    prepared = prepare(options, checks, framework_here=False)  # the worker imports the framework, not us
    values = resolve_run_values(prepared)
    descriptions = {unit.name: unit.description for unit in prepared.plan}
    own_worker = worker is None
    worker = worker or Worker(values["memory_limit"])
    job = {"target": target, "options": {k: v for k, v in values.items() if k != "isolation"},
           "checks": prepared.names, "key": database_key(target, prepared.spec, prepared.values)}

    verifier = Verifier(prepared.spec, values["pad_queries"])

    def on_event(event: dict[str, Any]) -> None:
        verifier.see(event)
        if event["event"] == "start" and progress:
            progress(event["check"], None)
        elif event["event"] == "examples" and examples_progress:
            examples_progress(event["check"], event["passed"], event["planned"])

    started = time.perf_counter()
    try:
        outcome = _run_reporting(worker, job, values["timeout"], on_event, progress)
        if outcome.usage_error is not None:
            raise UsageError(outcome.usage_error)
        results = outcome.results
        if outcome.died is not None:
            current = outcome.current or next((n for n in prepared.names if n not in {r.name for r in results}),
                                              "output_format")
            died = _died_result(outcome, current, descriptions.get(current, ""), worker.output_excerpt())
            results.append(died)
            if progress:
                progress(current, died)
            for name in prepared.names[len(results):]:
                results.append(CheckResult(name, "skipped", message=f"not run: the worker process {outcome.died} "
                                           f"in {current}", description=descriptions.get(name, "")))
            worker.close()
    finally:
        if own_worker:
            worker.close()
    results = verifier.overrule(results)
    values["max_examples"] = outcome.max_examples or values["max_examples"]
    report = CheckReport(target=target, spec=prepared.spec.name, options=report_options_of(prepared.spec, values),
                         checks=results)
    report.worker = {"isolation": "process", "peak_memory_bytes": outcome.peak_memory_bytes or worker.peak_memory_bytes,
                     "memory_limit_bytes": values["memory_limit"], "comparisons_verified": verifier.compared}
    report.elapsed_s = time.perf_counter() - started
    return report


def _run_reporting(worker: Worker, job: dict[str, Any], timeout: float, on_event: Callable[[dict[str, Any]], None],
                   progress: Callable[[str, CheckResult | None], None] | None) -> Outcome:
    def forward(event: dict[str, Any]) -> None:
        on_event(event)
        if event["event"] == "result" and progress:
            result = CheckResult.from_json(event["result"])
            progress(result.name, result)

    return worker.run(job, timeout, forward)
