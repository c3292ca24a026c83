"""What a check run produces: per-check results with counterexamples, and the whole report (INTERFACE JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..strategies.kv_cache import SplitExample

DIFFERING_CELLS_LIMIT = 1000  # the JSON lists the first this many differing cells, in (b, query, key) order


@dataclass
class Counterexample:
    """The (shrunk) input on which a check failed, with the masks expected and produced.

    ``actual`` is ``None`` when the implementation raised or returned something that is not a mask.
    ``compared_rows`` marks the query rows that count (all rows, or the real ones under ``--pad-queries free``).
    """

    pad: np.ndarray
    att: np.ndarray
    expected: np.ndarray | None = None
    actual: np.ndarray | None = None
    compared_rows: np.ndarray | None = None
    # For metamorphic checks: the second input that was compared (e.g. att with its first bit flipped).
    note: str = ""

    @property
    def shape(self) -> tuple[int, int]:
        B, L = self.pad.shape
        return int(B), int(L)

    def differing_mask(self) -> np.ndarray | None:
        """Bool ``[B, L, L]``: compared cells where expected and actual differ (``None`` without both masks)."""
        if self.expected is None or self.actual is None:
            return None
        differ = self.expected != self.actual
        if self.compared_rows is not None:
            differ &= self.compared_rows[:, :, None]
        return differ

    def differing_cells(self, limit: int | None = None) -> list[tuple[int, int, int]]:
        """``(b, query, key)`` of the compared cells where expected and actual differ, the first ``limit``."""
        differ = self.differing_mask()
        if differ is None:
            return []
        cells = np.argwhere(differ)
        if limit is not None:
            cells = cells[:limit]
        return [(int(b), int(query), int(key)) for b, query, key in cells]

    def to_json(self) -> dict[str, Any]:
        def bits(array: np.ndarray | None) -> Any:
            return None if array is None else array.astype(int).tolist()

        return {
            "pad": bits(self.pad),
            "att": bits(self.att),
            "expected": bits(self.expected),
            "actual": bits(self.actual),
            "differing_cells": [list(cell) for cell in self.differing_cells(limit=DIFFERING_CELLS_LIMIT)],
            # The query rows that count ([B, Q], 0/1; null: all): differing_cells is recomputable from the JSON.
            "compared_rows": bits(self.compared_rows),
            "note": self.note,
        }

    @staticmethod
    def from_json(payload: dict[str, Any]) -> Counterexample:
        """The counterexample a ``to_json`` payload describes (a split one where it names a ``split``)."""

        def array(name: str) -> np.ndarray | None:
            value = payload.get(name)
            return None if value is None else np.asarray(value, dtype=bool)

        pad, att = np.asarray(payload["pad"], dtype=bool), np.asarray(payload["att"], dtype=bool)
        fields = (pad, att, array("expected"), array("actual"), array("compared_rows"), payload.get("note", ""))
        if "split" in payload:
            return SplitCounterexample(*fields, split=payload["split"], query_offset=payload["query_offset"],
                                       kind=payload["kind"])
        return Counterexample(*fields)


@dataclass
class CheckResult:
    """One named check. ``status`` is ``passed``, ``failed`` or ``skipped`` (with the reason in ``message``)."""

    name: str
    status: str
    examples: int = 0
    message: str = ""
    seconds: float = 0.0
    counterexample: Counterexample | None = None
    description: str = ""
    rows: int = 0  # batch rows compared (``examples`` counts inputs, each a batch of one or more rows)
    longest: int = 0  # the largest L compared

    @property
    def passed(self) -> bool:
        return self.status != "failed"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "status": self.status,
            # Batch rows compared where rows were counted (INTERFACE: the equivalence entry), else inputs.
            "examples": self.rows or self.examples,
            "inputs": self.examples,
            "longest": self.longest,
            "message": self.message,
            "seconds": round(self.seconds, 4),
            "counterexample": self.counterexample.to_json() if self.counterexample else None,
            "description": self.description,
        }

    @staticmethod
    def from_json(payload: dict[str, Any]) -> CheckResult:
        found = payload.get("counterexample")
        inputs = payload.get("inputs", payload["examples"])
        return CheckResult(payload["name"], payload["status"], inputs, payload["message"], payload["seconds"],
                           Counterexample.from_json(found) if found else None, payload.get("description", ""),
                           rows=payload["examples"] if payload["examples"] != inputs else 0,
                           longest=payload.get("longest", 0))


@dataclass
class CheckReport:
    """The outcome of ``check()``: the JSON report of INTERFACE.md, as an object."""

    target: str
    spec: str
    options: dict[str, Any]
    checks: list[CheckResult] = field(default_factory=list)
    elapsed_s: float = 0.0
    # How the implementation ran: {"isolation": "process", "peak_memory_bytes": ...} or "in-process" and why.
    worker: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        return [result for result in self.checks if not result.passed]

    def to_json(self) -> dict[str, Any]:
        """INTERFACE's JSON report: target, spec, options, passed, elapsed_s, checks (and how it ran: worker)."""
        payload: dict[str, Any] = {name: getattr(self, name) for name in ("target", "spec", "options", "passed")}
        payload.update(elapsed_s=round(self.elapsed_s, 4), checks=[result.to_json() for result in self.checks],
                       worker=self.worker)
        return payload


@dataclass
class SplitCounterexample(Counterexample):
    """A counterexample for a KV-cache or incremental mask: a sequence split in two, and rectangular masks.

    ``pad``/``att`` are the whole sequence ``[B, N]``; ``split`` is the prefix (or prompt) length. ``expected``
    and ``actual`` are ``[B, Q, N]``: the query rows ``query_offset .. query_offset + Q - 1`` of the sequence
    (the suffix rows of a KV-cache mask; the last token's row in incremental decoding).
    """

    split: int = 0
    query_offset: int = 0
    kind: str = "kv_cache"

    def example_for_rows(self, rows: list[int]) -> Any:
        """The same input cut to some batch rows (for cutting a failing batch down, engine.fewer_batch_rows)."""
        return SplitExample(self.pad[rows], self.att[rows], self.split)

    def to_json(self) -> dict[str, Any]:
        payload = super().to_json()
        payload.update({"kind": self.kind, "split": self.split, "query_offset": self.query_offset})
        if self.kind == "kv_cache":
            payload.update({"prefix_pad": self.pad[:, :self.split].astype(int).tolist(),
                            "suffix_pad": self.pad[:, self.split:].astype(int).tolist(),
                            "suffix_att": self.att[:, self.split:].astype(int).tolist()})
        return payload


class Failure(Exception):
    """Raised inside a check when the implementation is wrong; carries the counterexample."""

    def __init__(self, message: str, counterexample: Counterexample) -> None:
        super().__init__(message)
        self.message = message
        self.counterexample = counterexample


class Aborted(BaseException):
    """Stops a check at once (a timeout, an implementation that raised SystemExit): no shrinking through it."""

    def __init__(self, message: str, counterexample: Counterexample) -> None:
        super().__init__(message)
        self.message = message
        self.counterexample = counterexample
