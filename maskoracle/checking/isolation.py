"""The implementation in a worker process; everything that decides the verdict in this one.

``check_isolated`` runs the one check loop (``run.py``) here, in maskoracle's process: generation, the oracle,
decoding and comparison, shrinking, the example database, the report and the exit status. Only the calls of the
implementation cross to the worker (``child.py``): ``RemoteFunction`` stands for the implementation, sends
each call's arguments (``transport.py``: raw buffers, strides and devices kept) and rebuilds what it returned
here; what the call did to its arguments in place, and to the previous result, is copied back onto this
process's objects, so the checks that judge behaviour read the same facts as in one process.

The worker is ``python -m maskoracle.checking.child``, started with ``subprocess`` in a new session (its own
process group): a fresh interpreter, never a fork, so torch, JAX and CUDA state is never copied half-initialised
into it, and this process never shares a CUDA context or a JAX runtime with it. It is kept warm across calls and
checks, and started again after a death or a kill. Its stdout and stderr go to a file.

- a call that outlives ``--timeout`` plus a grace period is killed (SIGKILL to the whole process group: native
  loops, swallowed exceptions, disarmed alarms, threads and children it started included);
- a worker whose resident memory passes ``--memory-limit`` is killed;
- a worker that exits (any code, 0 included), dies by a signal, or sends what is not a reply fails the check it
  was in, naming the cause, the input of the call in flight and an excerpt of its output; the checks after it
  are reported as not run.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Iterable
from typing import IO, Any

from ..errors import UsageError
from .calling import WORKER_PREFIX, RaisedInWorker, WorkerEnded
from .results import CheckReport, CheckResult
from .run import Progress, prepare, report_options_of, run_in_process
from .transport import Encoder, decode, frame, frame_length, parse, write_into

POLL_S = 0.05
MEMORY_POLL_S = 0.05  # resident memory is read at most this often, between calls and during long ones
START_LIMIT_S = 120.0  # a fresh interpreter importing maskoracle and the framework; not the implementation's time
EXCERPT_LINES = 5  # first and last lines of the implementation's output shown with a failure
EXCERPT_BYTES = 2**20  # at most this much of its output is read for them
PIPE_BYTES = 2**20


def grace_seconds(timeout: float) -> float:
    """How long past ``timeout`` a call may run before it is killed: the worker's own timer gets the first go."""
    return max(1.0, 0.25 * timeout)


class Worker:
    """One worker process: started on first use (or after a death), with the framework imported."""

    def __init__(self, memory_limit: int | None) -> None:
        self.memory_limit = memory_limit
        self.process: subprocess.Popen[bytes] | None = None
        self.output: IO[bytes] | None = None
        self.requests: int | None = None  # our end of the pipe the worker reads
        self.replies: int | None = None  # our end of the pipe it answers on
        self.peak_memory_bytes: int | None = None
        self.starts = 0
        self.loaded: tuple[str, str] | None = None
        self.framework: tuple[str, str] | None = None
        self.ready = False
        self.memory_read_at = 0.0
        self.spill_folder: str | None = None

    # --- the process --------------------------------------------------------------------------------------

    def start(self, framework: str, device: str) -> None:
        """A fresh worker, ready: started (``spawn``) and its framework imported."""
        self.spawn(framework, device)
        self.wait_ready()

    def spawn(self, framework: str, device: str) -> None:
        """Start a fresh worker without waiting for it: it imports the framework while this process goes on."""
        self.close()
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        for end in (request_write, reply_read):
            _enlarge(end)
        self.output = tempfile.TemporaryFile()
        self.spill_folder = _shared_memory_folder()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "maskoracle.checking.child", str(request_read), str(reply_write), framework,
             device, self.spill_folder or ""], stdin=subprocess.DEVNULL, stdout=self.output, stderr=subprocess.STDOUT,
            pass_fds=(request_read, reply_write), start_new_session=True, env=_worker_environment())
        os.close(request_read)
        os.close(reply_write)
        os.set_blocking(request_write, False)
        os.set_blocking(reply_read, False)
        self.requests, self.replies = request_write, reply_read
        self.starts += 1
        self.framework, self.loaded = (framework, device), None
        self.ready = False

    def wait_ready(self) -> None:
        """Wait for the worker ``spawn`` started to have imported its framework (``UsageError`` if it cannot)."""
        if self.ready:
            return
        ready, _ = self.exchange({"op": "ready"}, None, START_LIMIT_S, "starting")
        self.ready = True
        if ready.get("usage_error"):
            raise UsageError(str(ready["usage_error"]))

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        if self.process is not None:
            self.process.wait()

    def close(self) -> None:
        """End the worker and everything it started (threads and children left behind included)."""
        if self.process is not None:
            if self.requests is not None:
                os.close(self.requests)
                self.requests = None
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.kill()
        for fd in (self.requests, self.replies):
            if fd is not None:
                os.close(fd)
        if self.output is not None:
            self.output.close()
        if self.spill_folder is not None:
            shutil.rmtree(self.spill_folder, ignore_errors=True)
        self.process = self.output = self.requests = self.replies = self.spill_folder = None
        self.loaded = self.framework = None

    def output_size(self) -> int:
        """How many bytes the implementation has printed so far (where a call's output starts)."""
        if self.output is None:
            return 0
        return os.fstat(self.output.fileno()).st_size

    def output_excerpt(self, since: int = 0) -> str:
        """The first and last lines the implementation printed (from byte ``since``), for a failure message."""
        if self.output is None:
            return ""
        self.output.seek(since)
        lines = self.output.read(EXCERPT_BYTES).decode("utf-8", "replace").splitlines()
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

    # --- requests -----------------------------------------------------------------------------------------

    def load(self, target: str, kind: str, framework: str, device: str, timeout: float) -> None:
        """The worker ready with ``target`` imported: ``UsageError`` if it cannot be imported, ``WorkerEnded``
        if importing it ends, hangs or floods the worker."""
        if not self.alive() or self.framework != (framework, device):
            self.spawn(framework, device)
        self.wait_ready()
        if self.loaded == (target, kind):
            return
        try:
            reply, _ = self.exchange({"op": "load", "target": target, "kind": kind}, None,
                                     timeout + grace_seconds(timeout), "import", timeout)
        except WorkerEnded as ended:
            raise WorkerEnded(f"{ended} while importing the TARGET {target}", ended.excerpt) from None
        if reply.get("usage_error"):
            raise UsageError(str(reply["usage_error"]))
        self.loaded = (target, kind)

    def exchange(self, header: dict[str, Any], encoder: Encoder | None, limit: float, what: str,
                 timeout: float | None = None) -> tuple[dict[str, Any], list[memoryview]]:
        """Send one request and wait for its reply; ``WorkerEnded`` (the worker killed) if it dies, outlives
        ``limit`` seconds, passes the memory limit or answers with what is not a reply."""
        deadline = time.monotonic() + limit
        try:
            self._send(frame(header, encoder), deadline)
            data = self._receive(deadline)
            reply, buffers = parse(memoryview(data))
            return reply, self._unspill(reply, buffers)
        except _Deadline:
            self.kill()
            raise WorkerEnded(_timed_out(what, timeout, limit), self.output_excerpt()) from None
        except (ValueError, KeyError, TypeError, OSError) as error:  # not a frame: the implementation wrote on it?
            self.kill()
            raise WorkerEnded(f"{WORKER_PREFIX} sent a reply maskoracle cannot read ({error}) and was killed",
                              self.output_excerpt()) from None
        except WorkerEnded as ended:
            raise WorkerEnded(ended.cause, self.output_excerpt()) from None

    def _send(self, pieces: list[Any], deadline: float) -> None:
        assert self.requests is not None
        for piece in pieces:
            view = memoryview(piece).cast("B")
            while view:
                try:
                    view = view[os.write(self.requests, view):]
                except BlockingIOError:
                    self._wait(self.requests, deadline, writing=True)
                except (BrokenPipeError, OSError):
                    raise WorkerEnded(self._cause()) from None

    def _receive(self, deadline: float) -> bytearray:
        """One reply: read until its header says how long it is, then straight into a buffer of that length."""
        assert self.replies is not None
        data = bytearray()
        needed: int | None = None
        while needed is None:
            chunk = self._read_some(deadline)
            data += chunk
            needed = frame_length(data)
        if self.memory_limit is not None and needed > self.memory_limit:
            self.kill()  # this process would have to hold it: the limit protects it too
            raise WorkerEnded(f"{WORKER_PREFIX} sent a reply of {_gib(needed)}, over the --memory-limit of "
                              f"{_gib(self.memory_limit)}, and was killed")
        if len(data) > needed:
            raise ValueError("a reply longer than its frame")
        if len(data) < needed:
            whole = bytearray(needed)
            whole[:len(data)] = data
            view, position = memoryview(whole), len(data)
            while position < needed:
                try:
                    got = os.readv(self.replies, [view[position:]])
                except BlockingIOError:
                    self._wait(self.replies, deadline, writing=False)
                    continue
                if not got:
                    raise WorkerEnded(self._cause())
                position += got
            data = whole
        self._watch_memory(force=False)
        return data

    def _unspill(self, reply: dict[str, Any], buffers: list[memoryview]) -> list[memoryview]:
        """The buffers the worker wrote to files of the shared-memory folder, mapped (copy on write) and the files
        removed; ``ValueError`` for a name or a length that is not what the reply says."""
        spilled = reply.get("spilled")
        if not spilled:
            return buffers
        if self.spill_folder is None or not isinstance(spilled, dict):
            raise ValueError("a reply names files maskoracle did not offer")
        total = sum(int(length) for _, length in spilled.values())
        if self.memory_limit is not None and total > self.memory_limit:
            raise ValueError(f"a reply of {_gib(total)}, over the --memory-limit")
        for index, (name, length) in spilled.items():
            if not str(name).isdigit():
                raise ValueError(f"a reply names the file {name!r}")
            fd = os.open(os.path.join(self.spill_folder, str(name)), os.O_RDONLY | os.O_NOFOLLOW)
            try:
                if os.fstat(fd).st_size != int(length) or int(length) <= 0:
                    raise ValueError("a spilled buffer of another length than its reply says")
                mapped = mmap.mmap(fd, int(length), access=mmap.ACCESS_COPY)
            finally:
                os.close(fd)
                os.unlink(os.path.join(self.spill_folder, str(name)))
            buffers[int(index)] = memoryview(mapped)
        return buffers

    def _read_some(self, deadline: float) -> bytes:
        assert self.replies is not None
        while True:
            try:
                chunk = os.read(self.replies, PIPE_BYTES)
            except BlockingIOError:
                self._wait(self.replies, deadline, writing=False)
                continue
            if not chunk:
                raise WorkerEnded(self._cause())
            return chunk

    def _wait(self, fd: int, deadline: float, writing: bool) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Deadline
        if writing:
            select.select([], [fd], [], min(POLL_S, left))
        else:
            select.select([fd], [], [], min(POLL_S, left))
        self._watch_memory(force=False)

    def _watch_memory(self, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self.memory_read_at < MEMORY_POLL_S:
            return
        self.memory_read_at = now
        resident, peak = self.resident_bytes()
        if peak is not None:
            self.peak_memory_bytes = max(self.peak_memory_bytes or 0, peak)
        if self.memory_limit is not None and resident is not None and resident > self.memory_limit:
            self.kill()
            raise WorkerEnded(f"{WORKER_PREFIX} was killed for memory: its resident set reached {_gib(resident)}, "
                              f"over the --memory-limit of {_gib(self.memory_limit)}")

    def _cause(self) -> str:
        assert self.process is not None
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
            return f"{WORKER_PREFIX} closed its connection and was killed"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"{WORKER_PREFIX} was killed by {name}"
        return f"{WORKER_PREFIX} exited with code {code}"

    def probe(self, target: str, options: dict[str, Any]) -> str | None:
        """Import ``target`` in the worker (and keep it warm); the reason it cannot be, or ``None``."""
        try:
            self.load(target, options["kind"], options["framework"], options["device"], options["timeout"])
        except WorkerEnded as ended:
            return str(ended)  # names the TARGET
        return None


class _Deadline(Exception):
    """A request's time ran out."""


def _timed_out(what: str, timeout: float | None, limit: float) -> str:
    if timeout is None:
        return f"{WORKER_PREFIX} did not answer within {limit:g} s ({what}) and was killed"
    return (f"timed out: the {what} ran past the {timeout:g} s time limit and {grace_seconds(timeout):g} s of grace, "
            "and was killed (native code, a swallowed exception or a disarmed alarm keeps the time limit inside "
            "the process from stopping it)")


def _shared_memory_folder() -> str | None:
    """A private folder in shared memory (``/dev/shm``) for the worker's big results, where there is one."""
    if not os.path.isdir("/dev/shm") or not os.access("/dev/shm", os.W_OK):
        return None
    try:
        return tempfile.mkdtemp(prefix="maskoracle-", dir="/dev/shm")
    except OSError:
        return None


def _enlarge(fd: int) -> None:
    """A larger pipe buffer (Linux): fewer system calls per result."""
    try:
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except OSError:
        pass


def _worker_environment() -> dict[str, str]:
    """The worker finds modules where this process does: its ``sys.path`` (a test's or a notebook's additions
    included), ahead of ``PYTHONPATH``."""
    path = [entry for entry in sys.path if entry] + [os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(entry for entry in path if entry), "PYTHONUNBUFFERED": "1"}


def _gib(count: int) -> str:
    return f"{count / 2**30:.2f} GiB"


class RemoteFunction:
    """Stands for the implementation in the worker: called with this process's arguments, it returns what the
    implementation returned, rebuilt here (``call_under_limit``, the one call path's entry)."""

    materialised = True  # the worker applies the FlexAttention kinds (a mask_mod is code: it cannot travel)

    def __init__(self, worker: Worker, target: str, values: dict[str, Any]) -> None:
        self.worker, self.target = worker, target
        self.kind, self.framework, self.device = values["kind"], values["framework"], values["device"]
        self.timeout = values["timeout"]
        self.__name__ = target.rpartition(":")[2]
        self.last_aliases: tuple[bool, ...] | None = None  # which arguments the last result shares memory with
        self._previous: Callable[[], Any] | None = None  # the last result, while this process holds it

    def load(self, timeout: float | None = None) -> None:
        self.worker.load(self.target, self.kind, self.framework, self.device, timeout or self.timeout)

    def __call__(self, *arguments: Any) -> Any:
        return self.call_under_limit(arguments, self.timeout)

    def via(self, name: str) -> Callable[..., Any]:
        """A callable that runs maskoracle's routine ``name`` (``calling.helper``) on the implementation in the
        worker."""
        remote = self

        class Via:
            def __call__(self, *arguments: Any) -> Any:
                return remote.call_under_limit(arguments, remote.timeout, name)

            def call_under_limit(self, arguments: tuple[Any, ...], timeout: float | None) -> Any:
                return remote.call_under_limit(arguments, timeout, name)

        return Via()

    def call_under_limit(self, arguments: tuple[Any, ...], timeout: float | None, via: str | None = None) -> Any:
        self.last_aliases = None
        self.load(timeout)
        encoder = Encoder()
        previous = self._previous() if self._previous is not None else None
        header = {"op": "call", "args": [encoder.value(argument) for argument in arguments], "timeout": timeout,
                  "watch_previous": previous is not None, "via": via}
        limit = (timeout + grace_seconds(timeout)) if timeout else 10 * 24 * 3600.0
        printed = self.worker.output_size()
        reply, buffers = self.worker.exchange(header, encoder, limit, "call", timeout)
        if reply.get("error"):
            excerpt = self.worker.output_excerpt(printed) if self.worker.output_size() > printed else ""
            raise RaisedInWorker(str(reply["error"]), str(reply.get("message", "")), excerpt)
        try:
            result = decode(reply["result"], buffers)
            for index, meta in reply.get("changed", {}).items():
                write_into(arguments[int(index)], decode(meta, buffers))
            if "previous" in reply and previous is not None:
                write_into(previous, decode(reply["previous"], buffers))
        except Exception as error:  # a reply that lies about its values; never a traceback here
            self.worker.kill()
            raise WorkerEnded(f"{WORKER_PREFIX} sent a reply maskoracle cannot read ({error}) and was killed") \
                from None
        self.last_aliases = tuple(bool(alias) for alias in reply.get("aliases", ()))
        self._previous = _weak(result)
        return result


def _weak(value: Any) -> Callable[[], Any] | None:
    try:
        return weakref.ref(value)
    except TypeError:  # None, numbers, Opaque results: nothing a later call could change
        return None


def check_isolated(target: str, *, checks: Iterable[str] | None = None, progress: Progress | None = None,
                   examples_progress: Callable[[str, int, int], None] | None = None,
                   worker: Worker | None = None, **options: Any) -> CheckReport:
    """``check()`` of a TARGET string whose calls run in a worker process (module docstring)."""
    own_worker = worker is None
    if worker is None:  # started first: it imports the framework while this process does the same
        worker = Worker(None)
        worker.spawn(str(options.get("framework", "torch")), str(options.get("device", "cpu")))
    try:
        prepared = prepare(options, checks)
    except BaseException:
        if own_worker:
            worker.close()
        raise
    values = prepared.values
    worker.memory_limit = values["memory_limit"]
    remote = RemoteFunction(worker, target, values)
    started = time.perf_counter()
    try:
        try:
            remote.load()
            report = run_in_process(remote, options, target, checks, progress, examples_progress)
        except WorkerEnded as ended:  # importing the TARGET ended, hung or flooded the worker
            report = _import_failed(target, prepared, ended.cause, ended.excerpt, progress)
    finally:
        if own_worker:
            worker.close()
    report.worker = {"isolation": "process", "peak_memory_bytes": worker.peak_memory_bytes,
                     "memory_limit_bytes": values["memory_limit"], "worker_starts": worker.starts}
    report.elapsed_s = time.perf_counter() - started
    return report


def _import_failed(target: str, prepared: Any, cause: str, excerpt: str, progress: Progress | None) -> CheckReport:
    """The report of a run whose TARGET could not be imported in the worker: its first check failed, naming how
    the import ended; the others not run."""
    descriptions = {unit.name: unit.description for unit in prepared.plan}
    names = prepared.names
    message = cause + (f"; its output:\n{excerpt}" if excerpt else "")
    results = [CheckResult(names[0], "failed", message=message, description=descriptions[names[0]])]
    results += [CheckResult(name, "skipped", message=f"not run: {cause}", description=descriptions[name])
                for name in names[1:]]
    if progress:
        for result in results:
            progress(result.name, None)
            progress(result.name, result)
    return CheckReport(target=target, spec=prepared.spec.name,
                       options=report_options_of(prepared.spec, prepared.values), checks=results)

