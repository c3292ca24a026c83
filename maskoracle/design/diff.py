"""``diff(a, b)``: the smallest inputs on which two specs, two implementations, or one of each differ.

Each side is a spec name (``block_causal``, ``rowwise``), a TARGET string (``package.module:function`` or
``path/file.py:function``) or a callable. The search, smallest first:

1. every ``(pad, att)`` pair of each length ``1 .. exhaustive_length`` (one batched call per length and side);
   the first length with a difference gives the counterexample: among its differing pairs the one with the
   fewest att ones, then the fewest padded tokens (the easiest to read);
2. if none: Hypothesis over ``mask_examples`` (small, medium and long lengths), shrunk on failure;
3. if none: the long inputs of the size boundaries (block counts 127-129, 255-258, 2047-2049 and real models'
   sizes), where size-dependent bugs live.

A side that raises or returns something that is not a mask counts as differing, with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..adapters import get_adapter
from ..checking.calling import WorkerEnded
from ..checking.engine import CheckState, RunSettings, run_fixed, run_property
from ..checking.isolation import RemoteFunction, Worker
from ..checking.results import Aborted, Counterexample, Failure
from ..checking.runner import Runner, oracle_mask
from ..errors import UsageError
from ..options import default_memory_limit
from ..oracle import SPECS, validate_pad_queries
from ..profiles import DEFAULT_SHRINK_BUDGET_S
from ..strategies import MaskExample, boundary_examples, mask_examples, realistic_examples
from ..strategies.families import every_input
from ..targets import describe_target, load_target

DEFAULT_EXHAUSTIVE_LENGTH = 6
EXHAUSTIVE_CALL_BUDGET_S = 1.0  # stop growing the exhaustive length once one batched call takes longer


@dataclass
class Side:
    """One side of a diff: a name and ``compute(pad, att) -> bool [B, L, L]`` (raises ``Failure``)."""

    name: str
    compute: Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class DiffResult:
    """What ``diff`` found. ``differ`` is False when no input in the search told the two apart."""

    a: str
    b: str
    differ: bool
    pad: np.ndarray | None = None  # [1, L] (or [B, L] when the difference needs a batch)
    att: np.ndarray | None = None
    mask_a: np.ndarray | None = None  # [B, L, L]; None when that side raised
    mask_b: np.ndarray | None = None
    message: str = ""
    searched: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0
    pad_queries: str = "masked"

    def differing_cells(self) -> list[tuple[int, int, int]]:
        """``(b, query, key)`` where the masks differ (real query rows only under ``pad_queries="free"``)."""
        if self.mask_a is None or self.mask_b is None or self.pad is None:
            return []
        differ = np.asarray(self.mask_a) != np.asarray(self.mask_b)
        if self.pad_queries == "free":
            differ &= self.pad[:, :, None]
        return [(int(b), int(q), int(k)) for b, q, k in np.argwhere(differ)]

    def to_json(self) -> dict[str, Any]:
        def bits(array: np.ndarray | None) -> Any:
            return None if array is None else np.asarray(array).astype(int).tolist()

        return {
            "a": self.a, "b": self.b, "differ": self.differ, "message": self.message,
            "searched": self.searched, "elapsed_s": self.elapsed_s,
            "counterexample": None if not self.differ else {
                "pad": bits(self.pad), "att": bits(self.att), "a": bits(self.mask_a), "b": bits(self.mask_b),
                "differing_cells": [list(cell) for cell in self.differing_cells()],
            },
        }


def make_side(what: Any, *, framework: str, device: str, pad_queries: str, att_dtype: str,
              timeout: float, worker: Worker | None = None) -> Side:
    """A spec name, a TARGET string or a callable as a ``Side``; ``UsageError`` if it is none of these. With a
    ``worker``, a TARGET is imported and called in that worker process, and only compared here."""
    if isinstance(what, str) and what in SPECS:
        spec = what

        def oracle(pad: np.ndarray, att: np.ndarray) -> np.ndarray:
            return oracle_mask(pad, att, spec, pad_queries)

        return Side(f"spec {spec}", oracle)
    if isinstance(what, str) and worker is not None:
        fn, name = RemoteFunction(worker, what, {"kind": "mask", "framework": framework, "device": device,
                                                 "timeout": timeout}), what
        try:
            fn.load()
        except WorkerEnded:
            pass  # its import ended or hung the worker: each comparison then fails, naming how
    elif isinstance(what, str):
        fn, name = load_target(what), what
    elif callable(what):
        fn, name = what, describe_target(what)
    else:
        raise UsageError(f"{what!r} is neither a spec ({', '.join(SPECS)}) nor a TARGET (module:function)")
    runner = Runner(fn, get_adapter(framework, device), "block_causal", pad_queries, att_dtype, timeout)
    return Side(name, runner.compute)


def diff(a: Any, b: Any, *, framework: str = "torch", device: str = "cpu", layout: str = "any",
         padding: str = "any", pad_queries: str = "masked", att_dtype: str = "bool",
         exhaustive_length: int = DEFAULT_EXHAUSTIVE_LENGTH, max_examples: int = 200, seed: int = 0,
         long_inputs: bool = True, timeout: float = 10.0, isolation: str = "process") -> DiffResult:
    """The smallest input on which ``a`` and ``b`` differ (module docstring), as a ``DiffResult``.

    >>> result = diff("block_causal", "rowwise", framework="numpy")
    >>> result.differ, result.pad.astype(int).tolist(), result.att.astype(int).tolist()
    (True, [[1, 1]], [[0, 1]])

    ``isolation="process"`` (the default) imports and calls each TARGET string in a worker process of its own
    (``checking/isolation.py``): the search and every comparison run here, so a TARGET that ends, hangs or
    patches its process makes a side fail, never "no difference". A Python callable runs here.
    """
    validate_pad_queries(pad_queries)
    if exhaustive_length < 0 or exhaustive_length > 10:
        raise UsageError(f"--exhaustive-length must be 0..10, got {exhaustive_length}")
    workers = [Worker(default_memory_limit()) if isolation == "process" and isinstance(x, str) and x not in SPECS
               else None for x in (a, b)]
    try:
        sides = [make_side(x, framework=framework, device=device, pad_queries=pad_queries, att_dtype=att_dtype,
                           timeout=timeout, worker=worker) for x, worker in zip((a, b), workers, strict=True)]
        search = _Search(sides, pad_queries)
        found = search.exhaustive(exhaustive_length) or search.random(layout, padding, max_examples, seed)
        if found is None and long_inputs:
            found = search.long(layout, padding)
    finally:
        for worker in workers:
            if worker is not None:
                worker.close()
    if found is not None:
        return found
    search.result.elapsed_s = time.perf_counter() - search.started
    search.result.message = "no input found on which they differ"
    return search.result


class _Search:
    """The three stages of ``diff``, smallest inputs first; each returns the ``DiffResult`` of a difference."""

    def __init__(self, sides: list[Side], pad_queries: str) -> None:
        self.sides, self.pad_queries = sides, pad_queries
        self.started = time.perf_counter()
        self.result = DiffResult(sides[0].name, sides[1].name, False, pad_queries=pad_queries)

    def masks(self, pad: np.ndarray, att: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None, str]:
        computed: list[np.ndarray | None] = []
        reasons = []
        for side in self.sides:
            try:
                computed.append(side.compute(pad, att))
            except (Failure, Aborted) as failure:  # raised, returned a non-mask, or timed out
                computed.append(None)
                reasons.append(f"{side.name} {failure.message}")
        return computed[0], computed[1], "; ".join(reasons)

    def differing_rows(self, pad: np.ndarray, mask_a: Any, mask_b: Any) -> np.ndarray:
        differ = mask_a != mask_b
        if self.pad_queries == "free":
            differ &= pad[:, :, None]
        return np.asarray(differ.any(axis=(1, 2)))

    def found(self, pad: np.ndarray, att: np.ndarray, mask_a: Any, mask_b: Any, reason: str,
              searched: dict[str, Any]) -> DiffResult:
        return _found(self.result, pad, att, mask_a, mask_b, reason, self.started, searched)

    def exhaustive(self, longest: int) -> DiffResult | None:
        """1. Every input of each length, smallest length first (one batched call per length and side)."""
        tried = 0
        for L in range(1, longest + 1):
            pad, att = every_input(L)
            rows = pad.shape[0]
            tried += rows
            searched = {"exhaustive": tried, "exhaustive_length": L}
            call_started = time.perf_counter()
            mask_a, mask_b, reason = self.masks(pad, att)
            slow = time.perf_counter() - call_started > EXHAUSTIVE_CALL_BUDGET_S
            if "timed out" in reason:  # retrying row by row could take the limit once per row: stop here
                return self.found(pad, att, None, None, f"{reason} (the batch of all {rows} inputs of length {L})",
                                  searched)
            if mask_a is None or mask_b is None:
                found = self._first_single_row(pad, att, searched)
                if found is not None:
                    return found
                continue
            differ = self.differing_rows(pad, mask_a, mask_b)
            if differ.any():
                best = min(np.flatnonzero(differ), key=lambda i: (int(att[i].sum()), int((~pad[i]).sum()), int(i)))
                return self.found(pad[best:best + 1], att[best:best + 1], mask_a[best:best + 1],
                                  mask_b[best:best + 1], "", searched)
            self.result.searched["exhaustive_length"] = L
            if slow:
                break  # a slow implementation: the next length has four times the inputs
        self.result.searched["exhaustive"] = tried
        return None

    def _first_single_row(self, pad: np.ndarray, att: np.ndarray, searched: dict[str, Any]) -> DiffResult | None:
        """A side fails on the batch: the first single row it fails on (or that differs)."""
        for index in range(pad.shape[0]):
            one_pad, one_att = pad[index:index + 1], att[index:index + 1]
            single_a, single_b, reason = self.masks(one_pad, one_att)
            if reason or self.differing_rows(one_pad, single_a, single_b).any():
                return self.found(one_pad, one_att, single_a, single_b, reason, searched)
        return None

    def body(self, example: MaskExample) -> None:
        pad, att = example.pad_masks, example.att_masks
        mask_a, mask_b, reason = self.masks(pad, att)
        if reason or self.differing_rows(pad, mask_a, mask_b).any():
            raise Failure(reason or "differ", Counterexample(pad.copy(), att.copy(), mask_a, mask_b))

    def from_check(self, checked: Any) -> DiffResult | None:
        if checked.status != "failed" or checked.counterexample is None:
            return None
        found = checked.counterexample
        return self.found(found.pad, found.att, found.expected, found.actual,
                          "" if checked.message.startswith("differ") else checked.message, {})

    def random(self, layout: str, padding: str, max_examples: int, seed: int) -> DiffResult | None:
        """2. Random batches (Hypothesis), shrunk."""
        run = RunSettings(max_examples=max_examples, seed=seed, shrink_budget_s=DEFAULT_SHRINK_BUDGET_S,
                          database=None, key=f"maskoracle/diff/{self.result.a}/{self.result.b}")
        checked = run_property(CheckState("random"), mask_examples(layout=layout, padding=padding), self.body, run)
        self.result.searched["random"] = checked.examples
        return self.from_check(checked)

    def long(self, layout: str, padding: str) -> DiffResult | None:
        """3. Long inputs at the size boundaries."""
        inputs = sorted([*boundary_examples(layout, padding), *realistic_examples(layout, padding)],
                        key=lambda e: e.shape[1])
        checked = run_fixed(CheckState("long"), self.body, inputs)
        self.result.searched["long"] = checked.examples
        return self.from_check(checked)


def _found(result: DiffResult, pad: np.ndarray, att: np.ndarray, mask_a: Any, mask_b: Any, reason: str,
           started: float, searched: dict[str, Any]) -> DiffResult:
    result.differ = True
    result.pad, result.att = pad, att
    result.mask_a, result.mask_b = mask_a, mask_b
    result.searched.update(searched)
    B, L = pad.shape
    if reason:
        result.message = reason
    else:
        cells = result.differing_cells()
        b, query, key = cells[0]
        result.message = (f"{len(cells)} cell{'s differ' if len(cells) > 1 else ' differs'} on input [B, L] = "
                          f"[{B}, {L}]; first (b={b}, query={query}, key={key}): {result.a} "
                          f"{'✓' if mask_a[b, query, key] else '✗'}, {result.b} {'✓' if mask_b[b, query, key] else '✗'}")
    result.elapsed_s = time.perf_counter() - started
    return result
