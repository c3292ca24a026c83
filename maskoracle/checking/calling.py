"""Calling the implementation under test: the one call path, with a time limit."""

from __future__ import annotations

import importlib
import signal
import threading
from collections.abc import Callable
from typing import Any

from ..errors import UnreadableResult, short_error
from .results import Aborted, Failure


class CallTimeout(BaseException):
    """The implementation ran past its time limit.

    A ``BaseException`` so that an implementation's own ``except Exception`` cannot swallow it, and so that
    Hypothesis stops the run instead of shrinking through further hangs.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the call ran past the {seconds:g} s time limit")
        self.seconds = seconds


WORKER_PREFIX = "the implementation's worker process"
# Deaths worth re-running on smaller inputs: an exit or a signal. Not a timeout or a memory kill (each retry
# would cost the whole limit), nor an unreadable reply.
SHRINKABLE_DEATHS = (f"{WORKER_PREFIX} exited with code ", f"{WORKER_PREFIX} was killed by SIG")


def death_of(message: str) -> str | None:
    """How the worker ended, if ``message`` says it exited or died by a signal in a call (``None`` else)."""
    if not message.startswith(SHRINKABLE_DEATHS):
        return None
    return message.split(" during a call", 1)[0]


class RaisedInWorker(Exception):
    """The implementation, called in the worker process, raised or timed out there (``kind``: ``raised``,
    ``base`` (a ``BaseException`` such as ``SystemExit``), ``timeout``, ``unreadable``); ``message`` is what the
    worker saw, already in one line."""

    def __init__(self, kind: str, message: str, excerpt: str = "") -> None:
        super().__init__(message)
        self.kind, self.message, self.excerpt = kind, message, excerpt


class WorkerEnded(BaseException):
    """The worker process ended, or was killed, before it answered; the message says how. A ``BaseException``
    so that nothing between the call and ``call_implementation`` takes it for the implementation raising."""

    def __init__(self, cause: str, excerpt: str = "") -> None:
        super().__init__(cause)
        self.cause, self.excerpt = cause, excerpt

    def __str__(self) -> str:
        return self.cause


def call_with_timeout(fn: Callable[..., Any], args: tuple[Any, ...], timeout: float | None) -> Any:
    """``fn(*args)``, interrupted after ``timeout`` seconds.

    On the main thread of a Unix process this uses a one-shot ``SIGALRM`` timer: it costs two system calls
    per call, starts no thread, and interrupts Python code, including sleeps, but cannot stop a single long
    native call (a kernel that never returns). Elsewhere, or when a timer is already set, it runs ``fn`` in a
    daemon thread and stops waiting for it; the abandoned thread is then asked to stop (an exception raised in
    it at its next Python instruction, on CPython), so that a spinning implementation does not burn a core for
    the rest of the run. A thread inside one long native call stops when that call returns.
    """
    if not timeout or timeout <= 0:
        return fn(*args)
    on_main_thread = threading.current_thread() is threading.main_thread()
    # An outer timer (pytest-timeout's, say) is left alone: the thread fallback then does the timing.
    if on_main_thread and hasattr(signal, "setitimer") and signal.getitimer(signal.ITIMER_REAL)[0] == 0:
        return _call_with_alarm(fn, args, timeout)
    return _call_in_thread(fn, args, timeout)


def _call_with_alarm(fn: Callable[..., Any], args: tuple[Any, ...], timeout: float) -> Any:
    def on_alarm(signum: int, frame: Any) -> None:
        raise CallTimeout(timeout)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _AbandonedCall(BaseException):
    """Raised inside a worker thread whose call ran past its limit: nobody waits for its result any more."""


def _call_in_thread(fn: Callable[..., Any], args: tuple[Any, ...], timeout: float) -> Any:
    outcome: dict[str, Any] = {}
    # ``finished`` is set under ``lock`` as the worker's last step, and the stop is sent under the same lock
    # only while it is unset: a stop never reaches a thread that has moved on (thread ids are reused).
    lock = threading.Lock()
    finished: list[bool] = []

    def target() -> None:
        try:
            try:
                outcome["value"] = fn(*args)
            except BaseException as error:  # handed back to the caller's thread below
                outcome["error"] = error
            finally:
                with lock:
                    finished.append(True)
        except _AbandonedCall:  # the stop arrived after fn had returned: nothing left to stop
            pass

    worker = threading.Thread(target=target, daemon=True, name="maskoracle-call")
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        with lock:
            if not finished:
                _raise_in_thread(worker, _AbandonedCall)
        raise CallTimeout(timeout)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _raise_in_thread(worker: threading.Thread, error: type[BaseException]) -> None:
    """Raise ``error`` in ``worker`` at its next Python instruction (CPython's ``PyThreadState_SetAsyncExc``);
    elsewhere, nothing: the thread then runs on until ``fn`` returns."""
    try:
        import ctypes

        set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
    except (ImportError, AttributeError):  # not CPython
        return
    if worker.ident is not None:
        set_async_exc(ctypes.c_ulong(worker.ident), ctypes.py_object(error))


def call_implementation(fn: Callable[..., Any], arguments: tuple[Any, ...], timeout: float, where: str,
                        counterexample: Any) -> Any:
    """The one call path of every check: ``fn(*arguments)`` under the time limit.

    A raised ``Exception`` becomes ``Failure`` (a wrong implementation: shrunk like any failure); a timeout or a
    ``BaseException`` such as ``SystemExit`` becomes ``Aborted`` (the check stops at once, nothing is shrunk
    through it); ``KeyboardInterrupt`` goes through (the person at the terminal: stop the run). ``where``
    names the input's shape, ``counterexample`` is the input as a ``Counterexample``.
    """
    try:
        under_limit = getattr(fn, "call_under_limit", None)  # the implementation in a worker (isolation.py)
        if under_limit is not None:
            return under_limit(arguments, timeout)
        return call_with_timeout(fn, arguments, timeout)
    except RaisedInWorker as raised:
        raise _worker_outcome(raised, where, counterexample) from None
    except WorkerEnded as ended:
        output = f"; its output:\n{ended.excerpt}" if ended.excerpt else ""
        during = "" if "while importing" in ended.cause else f" during a call on input {where}"
        raise Aborted(f"{ended.cause}{during}{output}", counterexample) from None
    except CallTimeout as expired:
        raise Aborted(f"timed out: {expired} on an input of shape {where}", counterexample) from None
    except KeyboardInterrupt:
        raise
    except UnreadableResult as unreadable:  # maskoracle's reading of the result, not the implementation raising
        raise Failure(f"the implementation returned without raising, but maskoracle cannot read its result: "
                      f"{unreadable} (input {where})", counterexample) from None
    except Exception as error:
        raise Failure(f"raised {short_error(error)} on input {where}", counterexample) from None
    except BaseException as error:  # SystemExit, GeneratorExit, ...: a failure, and nothing to shrink
        raise Aborted(f"raised {short_error(error)} on input {where}", counterexample) from None


def _worker_outcome(raised: RaisedInWorker, where: str, counterexample: Any) -> BaseException:
    """What the implementation's raising in the worker is here: the same failure as in one process, with what
    that call printed."""
    printed = f"; its output during the call:\n{raised.excerpt}" if raised.excerpt else ""
    if raised.kind == "timeout":
        return Aborted(f"timed out: {raised.message} on an input of shape {where}{printed}", counterexample)
    if raised.kind == "unreadable":
        return Failure(f"the implementation returned without raising, but maskoracle cannot read its result: "
                       f"{raised.message} (input {where}){printed}", counterexample)
    if raised.kind == "raised":
        return Failure(f"raised {raised.message} on input {where}{printed}", counterexample)
    return Aborted(f"raised {raised.message} on input {where}{printed}", counterexample)


def helper(path: str) -> Callable[..., Any]:
    """The maskoracle routine ``package.module:function`` that drives an implementation: ``routine(fn, *args)``
    (a FlexAttention factory's BlockMask, timed rounds). Only maskoracle's own routines are run this way."""
    module, _, name = path.partition(":")
    if not module.startswith("maskoracle."):
        raise ValueError(f"{path!r} is not a maskoracle routine")
    routine: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return routine


def helper_call(fn: Any, path: str) -> Callable[..., Any]:
    """``helper(path)`` applied to the implementation ``fn``, run where ``fn`` runs: in the worker process when
    ``fn`` stands for a worker's implementation (it has ``via``; a mask_mod is code, it cannot travel), else
    here."""
    via = getattr(fn, "via", None)
    if callable(via):
        return via(path)  # type: ignore[no-any-return]
    routine = helper(path)
    return lambda *arguments: routine(fn, *arguments)
