"""The time limit itself: how accurately ``call_with_timeout`` stops a call, and that it leaves no thread behind.

These are the project's only timing assertions (STYLE keeps timings out of tests; here the time limit is the
subject). Each is bounded tightly, the bound explained at ``MARGIN_S``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from maskoracle import check
from maskoracle.checking.calling import CallTimeout, call_with_timeout

LIMIT_S = 0.4
# How far past the limit a call may run before it is stopped. SIGALRM is delivered when the timer expires and
# Python runs the handler at the main thread's next bytecode; the thread fallback's join() returns when its
# timeout expires. Either way the overrun is a scheduling delay: milliseconds, tens of them on a loaded 2-core
# machine. 0.3 s is ten times that, and less than the limit itself, so a limit armed at twice its value (0.8 s)
# or more fails. One stall of the shared machine must not fail the suite, so a run over the bound is measured
# once more; a limit armed too long overruns both runs.
MARGIN_S = 0.3


def _sleep() -> None:
    time.sleep(5)


def _spin() -> None:
    while True:
        pass


def _swallow_exceptions() -> None:
    """An implementation whose ``except Exception`` would swallow an ``Exception``-based timeout."""
    while True:
        try:
            time.sleep(5)
        except Exception:
            pass


HANGS = {"sleep": _sleep, "busy_loop": _spin, "except_exception": _swallow_exceptions}


def _seconds_to_time_out(fn: Callable[[], Any], limit: float) -> float:
    started = time.perf_counter()
    with pytest.raises(CallTimeout):
        call_with_timeout(fn, (), limit)
    return time.perf_counter() - started


def _in_another_thread(run: Callable[[], float]) -> float:
    """``run()`` on a thread that is not the main one (where the thread fallback does the timing)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = run()
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(30)  # a liveness bound: a caller stuck here is a failure below, not a hung test session
    assert not thread.is_alive(), "call_with_timeout did not return in its thread"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _assert_accurate(measure: Callable[[], float]) -> None:
    elapsed = measure()
    if elapsed >= LIMIT_S + MARGIN_S:  # once more, in case the machine stalled (see MARGIN_S)
        elapsed = min(elapsed, measure())
    assert elapsed >= LIMIT_S - 0.01, f"a {LIMIT_S} s limit stopped the call after {elapsed:.3f} s: too early"
    assert elapsed < LIMIT_S + MARGIN_S, f"a {LIMIT_S} s limit stopped the call after {elapsed:.3f} s"


@pytest.mark.parametrize("name", HANGS)
def test_main_thread_limit_is_accurate(name: str) -> None:
    _assert_accurate(lambda: _seconds_to_time_out(HANGS[name], LIMIT_S))


@pytest.mark.parametrize("name", ["sleep", "busy_loop"])
def test_thread_fallback_limit_is_accurate(name: str) -> None:
    _assert_accurate(lambda: _in_another_thread(lambda: _seconds_to_time_out(HANGS[name], LIMIT_S)))


def _workers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "maskoracle-call"]


def test_main_thread_timeout_starts_no_thread_and_leaves_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the main thread the SIGALRM timer does the timing: no thread is started, so none can be left."""
    started: list[threading.Thread] = []
    original_start = threading.Thread.start

    def spy_start(self: threading.Thread) -> None:
        started.append(self)
        original_start(self)

    before = set(threading.enumerate())
    monkeypatch.setattr(threading.Thread, "start", spy_start)
    with pytest.raises(CallTimeout):
        call_with_timeout(_spin, (), 0.05)
    assert call_with_timeout(lambda: 7, (), 1.0) == 7
    monkeypatch.undo()
    assert started == [], f"threads started on the main thread: {[thread.name for thread in started]}"
    assert set(threading.enumerate()) - before == set()


def test_thread_fallback_timeout_leaves_no_thread_running() -> None:
    """Off the main thread a worker runs the call; once it is abandoned it is stopped (a spinning pure-Python
    implementation would otherwise burn a core for the rest of the run)."""
    before = set(_workers())  # (a worker abandoned in time.sleep by an earlier test ends when the sleep does)
    _in_another_thread(lambda: _seconds_to_time_out(_spin, 0.05))
    abandoned = set(_workers()) - before  # (empty if the worker has stopped already)
    for worker in abandoned:
        worker.join(10)  # a liveness bound, not a timing assertion: the stop is due at its next instruction
    assert not [worker for worker in abandoned if worker.is_alive()], "the abandoned worker is still running"


def test_thread_fallback_worker_ends_with_a_call_that_returns() -> None:
    before = set(_workers())
    assert _in_another_thread(lambda: call_with_timeout(lambda: 3, (), 1.0)) == 3
    assert set(_workers()) - before == set()


def test_check_stops_at_the_first_hang_after_one_call() -> None:
    """``check()`` on a hanging implementation: one call, stopped at the limit, every later check skipped."""
    calls: list[int] = []

    def hangs(pad_masks: np.ndarray, att_masks: np.ndarray) -> np.ndarray:
        calls.append(1)
        while True:
            pass

    report = check(hangs, framework="numpy", timeout=LIMIT_S, max_examples=10, seed=0)
    first, *rest = report.checks
    assert first.name == "output_format" and first.message.startswith("timed out"), first.message
    assert calls == [1]
    # The check's own time is the one call plus building its inputs (well under a millisecond): MARGIN_S.
    assert first.seconds < LIMIT_S + MARGIN_S, first.seconds
    assert rest and all(result.status == "skipped" for result in rest)
