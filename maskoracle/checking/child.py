"""The worker process (``python -m maskoracle.checking.child REQUESTS REPLIES``): it calls the implementation.

Nothing here decides a verdict. The worker imports the TARGET, and for each request (a frame of
``transport.py`` on the pipe REQUESTS) builds the arguments maskoracle's process sent, calls the
implementation under the time limit, and answers on the pipe REPLIES with what it returned, or how it raised,
and what the call did besides: which arguments it changed in place (with their new values), whether the
result shares memory with an argument, and whether the previous result changed during this call. The
generation of inputs, the oracle, the comparison, shrinking, the example database and the report stay in
maskoracle's process (``isolation.py``). The implementation's stdout and stderr go where that process
pointed them, never to the terminal.

Requests: ``ready`` (answered once the framework is imported), ``load`` (the TARGET, its kind), ``call`` (the
arguments, the time limit, whether to watch the previous result, and ``via``: a maskoracle routine to run on
the implementation here, such as ``speed.bench:measure``, whose timings isolation then does not distort).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from ..adapters import get_adapter
from ..adapters.flex import wrap_kind
from ..errors import UnreadableResult, UsageError, short_error
from ..targets import load_target
from .calling import CallTimeout, call_with_timeout, helper
from .transport import Encoder, changed, decode, frame, read_exactly, snapshot, split

LENGTH = 8


class Server:
    """The worker's state: the loaded implementation, and the last result (while maskoracle's process holds
    it, a later call must not change it)."""

    def __init__(self, framework: str, device: str) -> None:
        self.framework, self.device = framework, device
        self.pid = os.getpid()
        self.raw: Callable[..., Any] | None = None
        self.fn: Callable[..., Any] | None = None
        self.loaded: tuple[str, str] | None = None
        self.previous: Any = None
        self.readiness: dict[str, Any] = {}
        self.adapter: Any = None
        self.timeout = 0.0

    def handle(self, header: dict[str, Any], buffers: list[memoryview]) -> tuple[dict[str, Any], Encoder | None]:
        op = header.get("op")
        if op == "ready":
            return self.readiness, None
        if op == "load":
            return self.load(header["target"], header.get("kind", "mask")), None
        if op == "call":
            return self.call(header, buffers)
        return {"error": "protocol", "message": f"unknown request {op!r}"}, None

    def timed(self, fn: Callable[..., Any], arguments: tuple[Any, ...], timeout: float | None) -> Any:
        """``fn(*arguments)`` under the worker's own timer: a one-shot SIGALRM whose handler is installed once
        (again only if the implementation replaced it), two system calls a call. An implementation that defeats
        it is killed by maskoracle's process after the grace period (``isolation.py``)."""
        if not timeout or not hasattr(signal, "setitimer"):
            return call_with_timeout(fn, arguments, timeout)
        if signal.getsignal(signal.SIGALRM) is not self.on_alarm:
            signal.signal(signal.SIGALRM, self.on_alarm)
        self.timeout = timeout
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            return fn(*arguments)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def on_alarm(self, signum: int, frame: Any) -> None:
        raise CallTimeout(self.timeout)

    def ready(self) -> dict[str, Any]:
        """The framework imported (and its device tried) before any of the implementation's code runs, so that
        the time limit of importing the TARGET is the TARGET's own."""
        try:
            self.adapter = get_adapter(self.framework, self.device)
        except UsageError as error:
            return {"usage_error": str(error)}
        return {"ok": True}

    def load(self, target: str, kind: str) -> dict[str, Any]:
        if self.loaded != (target, kind):
            try:
                self.raw = load_target(target)
            except UsageError as error:
                return {"usage_error": str(error)}
            self.fn, self.loaded = wrap_kind(self.raw, kind), (target, kind)
        return {"ok": True}

    def call(self, header: dict[str, Any], buffers: list[memoryview]) -> tuple[dict[str, Any], Encoder | None]:
        assert self.fn is not None and self.raw is not None
        arguments = tuple(decode(meta, buffers) for meta in header["args"])
        try:
            fn = self.fn if header.get("via") is None else _helper(helper(header["via"]), self.raw)
        except (ValueError, ImportError, AttributeError) as error:
            return {"error": "protocol", "message": short_error(error)}, None
        before = [snapshot(argument) for argument in arguments]
        watched = self.previous if header.get("watch_previous") else None
        previous_before = snapshot(watched) if watched is not None else None
        self.previous = None
        try:
            result = self.timed(fn, arguments, header.get("timeout"))
        except CallTimeout as expired:
            return {"error": "timeout", "message": str(expired)}, None
        except UnreadableResult as unreadable:
            return {"error": "unreadable", "message": str(unreadable)}, None
        except Exception as error:
            return {"error": "raised", "message": short_error(error)}, None
        except BaseException as error:  # SystemExit, KeyboardInterrupt, ...: a failure, nothing to shrink
            return {"error": "base", "message": short_error(error)}, None
        finally:
            if os.getpid() != self.pid:  # the implementation forked and this is its copy: it must not answer
                os._exit(0)
        encoder = Encoder()
        try:
            reply: dict[str, Any] = {"result": encoder.value(result)}
            reply["changed"] = {str(index): encoder.value(argument) for index, argument in enumerate(arguments)
                                if changed(argument, before[index])}
            # as the adapter judges it in one process (plans/contract.py's no_input_aliasing)
            reply["aliases"] = [self.adapter.shares_memory(result, argument) for argument in arguments]
            if watched is not None and changed(watched, previous_before):
                reply["previous"] = encoder.value(watched)
        except Exception as error:  # reading the result back raised (a tensor subclass, a device error)
            return {"error": "unreadable", "message": f"its result could not be read: {short_error(error)}"}, None
        self.previous = result
        return reply, encoder


def _helper(helper: Callable[..., Any], raw: Callable[..., Any]) -> Callable[..., Any]:
    """A maskoracle routine that drives the implementation (``calling.helper``), run here beside it."""
    return lambda *arguments: helper(raw, *arguments)


def main(argv: list[str]) -> None:
    requests = os.fdopen(int(argv[1]), "rb", buffering=0)
    replies = int(argv[2])
    server = Server(argv[3], argv[4])
    spill = _spiller(argv[5]) if len(argv) > 5 and argv[5] else None
    server.readiness = server.ready()  # at once: the framework's import overlaps maskoracle's own
    while True:
        length = read_exactly(requests.readinto, LENGTH)
        if length is None:
            break
        size = int.from_bytes(length, "little")
        body = read_exactly(requests.readinto, size)
        if body is None:
            break
        header = json.loads(bytes(body))
        rest = read_exactly(requests.readinto, sum(header["sizes"]))
        if rest is None:
            break
        reply, encoder = server.handle(header, split(rest, header["sizes"]))
        for piece in frame(reply, encoder, spill):
            _write_all(replies, piece)
    os._exit(0)  # threads the implementation left running end here, with the process


def _spiller(folder: str) -> Callable[[memoryview], str]:
    """Writes a big buffer to a new file of ``folder`` (shared memory, made by maskoracle's process) and names it."""
    count = [0]

    def spill(buffer: memoryview) -> str:
        count[0] += 1
        name = f"{count[0]}"
        fd = os.open(os.path.join(folder, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            _write_all(fd, buffer)
        finally:
            os.close(fd)
        return name

    return spill


def _write_all(fd: int, piece: Any) -> None:
    view = memoryview(piece).cast("B")
    while view:
        written = os.write(fd, view)
        view = view[written:]


if __name__ == "__main__":
    main(sys.argv)
