"""The worker process (``python -m maskoracle.checking.child FD``): runs jobs from stdin, reports on pipe FD.

Each job (one JSON line) names a TARGET, the options and the checks. The worker imports the TARGET (once per
name), runs the checks in this process and writes one JSON event per line to FD: ``importing``/``imported``,
``start`` and ``result`` of each check, ``call``/``returned`` around each call of the implementation (with
the input's shape, and its bits when small), ``examples`` during a search, ``done`` at the end. The parent
(``isolation.py``) reads them; the implementation's own stdout and stderr go where the parent pointed them.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import sys
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from ..errors import UsageError
from ..targets import load_target
from .results import CheckResult
from .run import run_in_process

SMALL_INPUT_CELLS = 4096  # inputs up to this size travel with the call event, to name them if the call kills us


def _bits_of(value: Any) -> list[list[int]] | None:
    """A small ``[B, L]`` input as 0/1 rows, read without side effects where possible; ``None`` otherwise."""
    shape = getattr(value, "shape", None)
    if shape is None or len(shape) != 2 or int(np.prod(shape)) > SMALL_INPUT_CELLS:
        return None
    try:
        if hasattr(value, "detach"):
            value = value.detach().cpu()
        return (np.asarray(value) != 0).astype(int).tolist()
    except Exception:
        return None


def packed(array: np.ndarray) -> dict[str, Any]:
    """A bool array as JSON: its shape and its bits, packed and base64-encoded."""
    return {"shape": list(array.shape),
            "bits": base64.b64encode(np.packbits(np.asarray(array, dtype=bool).ravel()).tobytes()).decode()}


def unpacked(payload: dict[str, Any]) -> np.ndarray:
    shape = tuple(payload["shape"])
    bits = np.unpackbits(np.frombuffer(base64.b64decode(payload["bits"]), dtype=np.uint8))
    return bits[:int(np.prod(shape))].astype(bool).reshape(shape)


def watched(fn: Callable[..., Any], send: Callable[[dict[str, Any]], None]) -> Callable[..., Any]:
    """``fn`` telling the parent when each call starts and returns, so that the parent can time it."""
    worker_pid = os.getpid()

    def call(*arguments: Any) -> Any:
        shapes = [list(getattr(argument, "shape", ())) for argument in arguments]
        where = f"[B, L] = {shapes[0]}" if len(shapes) == 2 and shapes[0] == shapes[1] else \
            "of shapes " + ", ".join(map(str, shapes))
        event: dict[str, Any] = {"event": "call", "where": where}
        if len(arguments) == 2:
            event["pad"], event["att"] = _bits_of(arguments[0]), _bits_of(arguments[1])
        send(event)
        result = fn(*arguments)
        if os.getpid() != worker_pid:  # the implementation forked and this is its copy: it must not report
            os._exit(0)
        send({"event": "returned"})
        return result

    call.__wrapped__ = fn  # type: ignore[attr-defined]
    return call


def run_job(job: dict[str, Any], send: Callable[[dict[str, Any]], None], loaded: dict[str, Any]) -> None:
    target = job["target"]
    if target not in loaded:
        send({"event": "importing", "target": target})
        try:
            loaded[target] = load_target(target)
        except UsageError as error:
            send({"event": "usage_error", "message": str(error)})
            return
        send({"event": "returned"})

    def progress(name: str, result: CheckResult | None) -> None:
        send({"event": "start", "check": name} if result is None else {"event": "result", "result": result.to_json()})

    def examples(name: str, passed: int, planned: int) -> None:
        send({"event": "examples", "check": name, "passed": passed, "planned": planned})

    def compared(pad: np.ndarray, att: np.ndarray, actual: np.ndarray) -> None:
        send({"event": "compared", "pad": packed(pad), "att": packed(att), "actual": packed(actual)})

    try:
        report = run_in_process(watched(loaded[target], send), job["options"], target, job["checks"], progress,
                                examples, compared)
    except UsageError as error:
        send({"event": "usage_error", "message": str(error)})
        return
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    send({"event": "done", "peak_memory_bytes": peak, "max_examples": report.options.get("max_examples")})


def main(argv: list[str]) -> None:
    channel: IO[str] = os.fdopen(int(argv[1]), "w", encoding="utf-8")

    def send(event: dict[str, Any]) -> None:
        channel.write(json.dumps(event) + "\n")
        channel.flush()

    loaded: dict[str, Any] = {}
    for line in sys.stdin:
        run_job(json.loads(line), send, loaded)
    channel.close()
    os._exit(0)  # threads the implementation left running end here, with the process


if __name__ == "__main__":
    main(sys.argv)
