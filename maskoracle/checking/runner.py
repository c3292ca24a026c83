"""Runners: build an input in the user's framework, call the implementation (``calling.py``), decode what it
returned (``decode.py``) and compare it with the oracle.

``Runner`` serves ``fn(pad_masks, att_masks) -> [B, L, L]`` (the mask kinds and grouped layouts);
``SplitRunner`` serves the two split kinds of SPEC §5 (``kv_cache``, ``incremental``). Both answer the same
example-level calls (``compute_example``, ``compare_example``, ``call_example``, ``failure_for``), so that a
check written once runs on every kind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..adapters.base import Adapter, NumpyAdapter
from ..oracle import fast_reference_mask, reference_mask
from ..oracle.kv_cache import incremental_row, kv_cache_mask
from ..strategies.kv_cache import SplitExample
from .calling import call_implementation, death_of
from .decode import BadResult, decode_heads, decode_mask
from .results import Aborted, Counterexample, Failure, SplitCounterexample

MaskFn = Callable[[Any, Any], Any]

# The loop oracle is used up to this many cells per call; beyond it the vectorised formulation, which the
# project's tests prove equal to it (exhaustively up to L = 6, randomly beyond).
LOOP_ORACLE_MAX_CELLS = 2_000


def mark(value: Any) -> str:
    return "✓" if bool(value) else "✗"


def equal_masks(expected: np.ndarray, actual: np.ndarray) -> bool:
    """Whether two bool masks are equal, eight cells at a time where both are contiguous (the batched search
    compares tens of millions of cells a run). ``False`` may also mean "not the same bytes": a caller that
    locates the differing cells finds none then."""
    if expected.shape == actual.shape and expected.dtype == actual.dtype == np.bool_ and expected.size % 8 == 0 \
            and expected.flags.c_contiguous and actual.flags.c_contiguous:
        return bool(np.array_equal(expected.reshape(-1).view(np.uint64), actual.reshape(-1).view(np.uint64)))
    return bool(np.array_equal(expected, actual))


def first_difference(differ: np.ndarray) -> tuple[int, int, int]:
    """``(b, query, key)`` of the first True cell of a bool ``[B, Q, K]``."""
    b, query, key = (int(x) for x in np.argwhere(differ)[0])
    return b, query, key


# Failures in reading a result are maskoracle's reading of what the implementation returned, not the
# implementation raising: the message says so (issue 16).
NUMPY = NumpyAdapter()
BAD_RESULT = "the implementation returned without raising, but its result is not a mask maskoracle can read"


def none_result(result: Any, none_means: str, adapter: Adapter, Q: int, K: int) -> tuple[Any, Adapter]:
    """The result to read and the adapter that reads it. ``None`` stands for, under ``--none-means``: ``causal``
    (query ``i`` of the last ``Q`` sees keys up to its position, padding ignored, as SDPA's ``is_causal``) or
    ``unmasked`` (every cell), read as a NumPy ``[1, 1, Q, K]``; under ``fail`` it fails with a message that says what
    it usually means."""
    if result is not None or none_means == "fail":
        return result, adapter
    if none_means == "causal":
        return (np.arange(K)[None, :] <= np.arange(Q)[:, None] + (K - Q))[None, None], NUMPY
    return np.ones((1, 1, Q, K), dtype=bool), NUMPY


def keys_only_hint(result: Any, query_is_real: Any, pad_queries: str) -> str:
    """Why a keys-only result (one row for every query) fails on a padded query under ``--pad-queries masked``."""
    shape = tuple(getattr(result, "shape", ()))
    if pad_queries != "masked" or bool(query_is_real) or len(shape) < 2 or shape[-2] != 1:
        return ""
    return (f". The result has shape {list(shape)}: one row of keys for every query, so a padded query sees what "
            "a real one sees and its row cannot be empty, as --pad-queries masked requires. A keys-only mask "
            "(transformers' encoder masks) leaves padded queries to be ignored downstream: check it with "
            "--pad-queries free")


def oracle_mask(pad: np.ndarray, att: np.ndarray, spec: Any = "block_causal",
                pad_queries: str = "masked") -> np.ndarray:
    """The oracle's mask: the loops for small inputs, the vectorised formulation proven equal to them beyond."""
    if pad.size * pad.shape[-1] <= LOOP_ORACLE_MAX_CELLS:
        return reference_mask(pad, att, spec=spec, pad_queries=pad_queries)
    return fast_reference_mask(pad, att, spec=spec, pad_queries=pad_queries)


DEATH_SHRINK_S = 15.0  # re-running a death in fresh workers on smaller inputs stops after this long


def smaller_death(runner: Runner, pad: np.ndarray, att: np.ndarray, death: str, aborted: Aborted) -> Aborted:
    """The worker ended (``death``) in a call on ``(pad, att)``: the same end on a smaller input, found by
    re-running in fresh workers, one batch row (halving the batch), then the shortest prefix of it (bisecting
    the length); ``aborted`` itself if none is smaller or time runs out (``DEATH_SHRINK_S``)."""
    deadline = time.monotonic() + DEATH_SHRINK_S
    tries = 0

    def dies(p: np.ndarray, a: np.ndarray) -> bool:
        nonlocal tries
        tries += 1
        try:
            call_implementation(runner.fn, runner.framework_inputs(p, a), runner.timeout, "", None)
        except Aborted as again:
            return death_of(again.message) == death
        except Failure:
            return False
        return False

    best_pad, best_att = pad, att
    while best_pad.shape[0] > 1 and time.monotonic() < deadline:
        half = best_pad.shape[0] // 2
        part = next((cut for cut in (slice(0, half), slice(half, None))
                     if time.monotonic() < deadline and dies(best_pad[cut], best_att[cut])), None)
        if part is None:
            break
        best_pad, best_att = best_pad[part], best_att[part]
    shortest, longest = 1, best_pad.shape[1]  # a prefix of length `longest` dies
    while shortest < longest and time.monotonic() < deadline:
        middle = (shortest + longest) // 2
        if dies(best_pad[:, :middle], best_att[:, :middle]):
            longest = middle
        else:
            shortest = middle + 1
    best_pad, best_att = best_pad[:, :longest].copy(), best_att[:, :longest].copy()
    if best_pad.shape == pad.shape:
        return aborted
    return Aborted(f"{death} during a call on input [B, L] = {list(best_pad.shape)} (cut down from "
                   f"{list(pad.shape)} by re-running in {tries} fresh worker processes)",
                   Counterexample(best_pad, best_att, note=f"cut down from [B, L] = {list(pad.shape)}"))


@dataclass
class Call:
    """One call of the implementation: the inputs as built in its framework, and what it returned."""

    pad: Any
    att: Any
    result: Any
    # Whether the result shares memory with each argument, where the worker process that made it said so
    # (isolation.py: there the arguments and the result are other objects than here); else None.
    aliases: tuple[bool, ...] | None = None


class Runner:
    """Calls ``fn(pad_masks, att_masks)`` through the adapter and compares with the oracle of ``spec``."""

    def __init__(self, fn: MaskFn, adapter: Adapter, spec: Any, pad_queries: str, att_dtype: str,
                 timeout: float, none_means: str = "fail", form: str | None = None) -> None:
        self.fn = fn
        self.form = form  # None: fresh contiguous inputs; else a memory layout of adapters.base.INPUT_FORMS
        self.adapter = adapter
        self.spec = spec  # a spec name, or a grouped Layout (its group rule)
        self.pad_queries = pad_queries
        self.att_dtype = att_dtype
        self.timeout = timeout
        self.none_means = none_means  # what a None result stands for (--none-means)
        self.calls = 0
        self.returned = 0  # calls that returned (did not raise): a check judged on none of them proves nothing

    def with_att_dtype(self, att_dtype: str) -> Runner:
        return Runner(self.fn, self.adapter, self.spec, self.pad_queries, att_dtype, self.timeout, self.none_means)

    def in_form(self, form: str) -> Runner:
        """The same runner, handing inputs over in the memory layout ``form`` (``adapters.base.INPUT_FORMS``)."""
        return Runner(self.fn, self.adapter, self.spec, self.pad_queries, self.att_dtype, self.timeout,
                      self.none_means, form)

    def call(self, pad: np.ndarray, att: np.ndarray) -> Call:
        """Build the inputs, call the implementation under the time limit; ``Failure`` if it raised."""
        B, L = pad.shape
        pad_in, att_in = self.framework_inputs(pad, att)
        self.calls += 1
        try:
            result = call_implementation(self.fn, (pad_in, att_in), self.timeout, f"[B, L] = [{B}, {L}]",
                                         Counterexample(pad.copy(), att.copy()))
        except Aborted as aborted:
            death = death_of(aborted.message)
            if death is None or pad.size == 1:
                raise
            raise smaller_death(self, pad, att, death, aborted) from None
        self.returned += 1
        return Call(pad_in, att_in, result, getattr(self.fn, "last_aliases", None))

    def framework_inputs(self, pad: np.ndarray, att: np.ndarray) -> tuple[Any, Any]:
        """``(pad, att)`` built in the implementation's framework, in this runner's memory layout."""
        if self.form is None:
            return self.adapter.inputs(pad, att, self.att_dtype)
        return self.adapter.inputs_in_form(pad, att, self.att_dtype, self.form)

    def call_or_none(self, pad: np.ndarray, att: np.ndarray) -> Call | None:
        """The call, or ``None`` if it raised: checks that judge behaviour around a call that worked."""
        try:
            return self.call(pad, att)
        except Failure:
            return None

    def decode(self, call: Call, pad: np.ndarray, att: np.ndarray) -> np.ndarray:
        """The call's result as bool ``[B, L, L]``; ``Failure`` saying what it is if it is not a mask."""
        return self.decode_heads(call, pad, att, every_head=False)[:, 0]

    def decode_heads(self, call: Call, pad: np.ndarray, att: np.ndarray, every_head: bool = True) -> np.ndarray:
        """The call's result as bool ``[B, H, L, L]`` (``every_head=False``: one head, ``BadResult`` if the heads
        disagree); ``Failure`` saying what it is if it is not a mask."""
        B, L = pad.shape
        try:
            result, adapter = none_result(call.result, self.none_means, self.adapter, L, L)
            if every_head:
                return decode_heads(result, adapter, B, L)
            return decode_mask(result, adapter, B, L)[:, None]
        except BadResult as bad:
            raise Failure(f"{BAD_RESULT} on input [B, L] = [{B}, {L}]: {bad}",
                          Counterexample(pad.copy(), att.copy())) from None

    def compute(self, pad: np.ndarray, att: np.ndarray) -> np.ndarray:
        """The implementation's mask for ``(pad, att)`` as bool ``[B, L, L]``; raises ``Failure`` if unusable.

        A ``UsageError`` from building the inputs (an att dtype the framework lacks) is the suite's setup,
        not the implementation's fault, and goes through untouched.
        """
        return self.decode(self.call(pad, att), pad, att)

    def expected(self, pad: np.ndarray, att: np.ndarray) -> np.ndarray:
        return oracle_mask(pad, att, self.spec, self.pad_queries)

    def compared_rows(self, pad: np.ndarray) -> np.ndarray:
        if self.pad_queries == "free":
            return pad.copy()
        return np.ones_like(pad, dtype=bool)

    def compare(self, pad: np.ndarray, att: np.ndarray) -> None:
        """Raise ``Failure`` unless every head of the implementation's result equals the oracle on every compared
        cell."""
        call = self.call(pad, att)
        heads = self.decode_heads(call, pad, att)
        expected = self.expected(pad, att)
        compared = self.compared_rows(pad)
        for head in range(heads.shape[1]):
            actual = heads[:, head]
            if equal_masks(expected, actual):
                continue
            differ = np.not_equal(expected, actual)
            if self.pad_queries == "free":  # else every row is compared: no pass over the cells to mask none out
                differ &= compared[:, :, None]
            if not differ.any():
                continue
            count = int(np.count_nonzero(differ))
            b, query, key = first_difference(differ)
            where = f"head {head} of {heads.shape[1]}, " if heads.shape[1] > 1 else ""
            raise Failure(
                f"{where}cell (b={b}, query={query}, key={key}): expected {mark(expected[b, query, key])}, "
                f"got {mark(actual[b, query, key])}; {count} cell{'s differ' if count > 1 else ' differs'} "
                f"on input [B, L] = {list(pad.shape)}"
                f"{keys_only_hint(call.result, pad[b, query], self.pad_queries)}",
                Counterexample(pad.copy(), att.copy(), expected, actual.copy(), compared),
            )

    def counterexample_for(self, pad: np.ndarray, att: np.ndarray, note: str = "",
                           failure: BaseException | None = None) -> Counterexample:
        """The implementation's and the oracle's masks for an input, for showing a failure (never raises).

        After an ``Aborted`` call (a timeout, SystemExit) the implementation is not called again: that would
        cost another time limit, and a timeout must stop the check at once.
        """
        actual: np.ndarray | None = None
        if not isinstance(failure, Aborted):
            try:
                actual = self.compute(pad, att)
            except (Failure, Aborted):
                actual = None
        return Counterexample(pad.copy(), att.copy(), self.expected(pad, att), actual, self.compared_rows(pad), note)

    # --- the example-level calls every check uses ------------------------------------------------------

    def compute_example(self, example: Any) -> np.ndarray:
        return self.compute(example.pad_masks, example.att_masks)

    def compare_example(self, example: Any) -> None:
        self.compare(example.pad_masks, example.att_masks)

    def call_example(self, example: Any) -> Any:
        return self.call(example.pad_masks, example.att_masks).result

    def failure_for(self, example: Any, note: str = "", failure: BaseException | None = None) -> Counterexample:
        return self.counterexample_for(example.pad_masks, example.att_masks, note, failure)


class SplitRunner:
    """Calls a KV-cache or incremental implementation and compares with SPEC §5's oracle."""

    def __init__(self, kind: str, fn: Callable[..., Any], adapter: Adapter, att_dtype: str, timeout: float,
                 pad_queries: str, none_means: str = "fail") -> None:
        self.kind, self.fn, self.adapter = kind, fn, adapter
        self.att_dtype, self.timeout, self.pad_queries = att_dtype, timeout, pad_queries
        self.calls = 0
        self.returned = 0  # calls that returned (did not raise)
        self.none_means = none_means

    # --- the arguments of one call ------------------------------------------------------------------------

    def _pad(self, pad: np.ndarray) -> Any:
        return self.adapter.inputs(pad, pad, "bool")[0]

    def _att(self, att: np.ndarray) -> Any:
        return self.adapter.inputs(att, att, self.att_dtype)[1]

    def arguments(self, pad: np.ndarray, att: np.ndarray, split: int) -> tuple[Any, ...]:
        if self.kind == "kv_cache":
            return self._pad(pad[:, :split]), self._pad(pad[:, split:]), self._att(att[:, split:])
        return self._pad(pad), self._att(att)

    def describe(self, pad: np.ndarray, split: int) -> str:
        B, N = pad.shape
        if self.kind == "kv_cache":
            return f"[B, P, S] = [{B}, {split}, {N - split}]"
        return f"[B, T] = [{B}, {N}]"

    def query_offset(self, pad: np.ndarray, split: int) -> int:
        return split if self.kind == "kv_cache" else pad.shape[1] - 1

    def counterexample(self, pad: np.ndarray, att: np.ndarray, split: int, expected: np.ndarray | None = None,
                       actual: np.ndarray | None = None, note: str = "") -> SplitCounterexample:
        offset = self.query_offset(pad, split)
        compared = self.compared_rows(pad, offset)
        return SplitCounterexample(pad.copy(), att.copy(), expected, actual, compared, note, split=split,
                                   query_offset=offset, kind=self.kind)

    def compared_rows(self, pad: np.ndarray, offset: int) -> np.ndarray:
        rows = pad[:, offset:].copy()
        return rows if self.pad_queries == "free" else np.ones_like(rows)

    # --- calling, decoding, comparing ---------------------------------------------------------------------

    def call(self, pad: np.ndarray, att: np.ndarray, split: int) -> Any:
        self.calls += 1
        result = call_implementation(self.fn, self.arguments(pad, att, split), self.timeout,
                                     self.describe(pad, split), self.counterexample(pad, att, split))
        self.returned += 1
        return result

    def compute(self, pad: np.ndarray, att: np.ndarray, split: int) -> np.ndarray:
        result = self.call(pad, att, split)
        B, N = pad.shape
        Q = N - self.query_offset(pad, split)
        try:
            return decode_mask(*none_result(result, self.none_means, self.adapter, Q, N), B, Q, N)
        except BadResult as bad:
            raise Failure(f"{BAD_RESULT} on input {self.describe(pad, split)}: {bad}",
                          self.counterexample(pad, att, split)) from None

    def expected(self, pad: np.ndarray, att: np.ndarray, split: int) -> np.ndarray:
        if self.kind == "incremental":
            return incremental_row(pad, att)[:, None, :]
        prefix_pad, suffix_pad, suffix_att = pad[:, :split], pad[:, split:], att[:, split:]
        if pad.size * suffix_pad.shape[1] <= LOOP_ORACLE_MAX_CELLS:
            return kv_cache_mask(prefix_pad, suffix_pad, suffix_att, self.pad_queries)
        # SPEC §5 composed from the vectorised block_causal that the project's tests prove equal to the loops.
        S = suffix_pad.shape[1]
        prefix_part = np.broadcast_to(prefix_pad[:, None, :], (pad.shape[0], S, split))
        return np.concatenate([prefix_part, fast_reference_mask(suffix_pad, suffix_att,
                                                                pad_queries=self.pad_queries)], axis=2)

    def compare_with(self, pad: np.ndarray, att: np.ndarray, split: int, expected: np.ndarray, what: str) -> None:
        actual = self.compute(pad, att, split)
        offset = self.query_offset(pad, split)
        differ = (expected != actual) & self.compared_rows(pad, offset)[:, :, None]
        if not differ.any():
            return
        count = int(np.count_nonzero(differ))
        b, row, key = first_difference(differ)
        query = offset + row
        query_name = f"suffix query {row} (position {query})" if self.kind == "kv_cache" else \
            f"decoded token {query}"
        raise Failure(f"{what}: cell (b={b}, {query_name}, key={key}): expected {mark(expected[b, row, key])}, "
                      f"got {mark(actual[b, row, key])}; {count} cell{'s differ' if count > 1 else ' differs'} "
                      f"on input {self.describe(pad, split)}",
                      self.counterexample(pad, att, split, expected, actual))

    def compare(self, pad: np.ndarray, att: np.ndarray, split: int) -> None:
        self.compare_with(pad, att, split, self.expected(pad, att, split), "differs from SPEC §5")

    def compare_full(self, pad: np.ndarray, att: np.ndarray, split: int) -> None:
        """SPEC §5's relation: rows ``P..P+S-1`` of the full mask, on real suffix query rows only."""
        full = oracle_mask(pad, att)
        actual = self.compute(pad, att, split)
        rows = full[:, split:, :]
        differ = (rows != actual) & pad[:, split:, None]
        if differ.any():
            b, row, key = first_difference(differ)
            raise Failure(f"real suffix query {row} (position {split + row}) differs from row {split + row} of the "
                          f"full block_causal mask at key {key}: full mask {mark(rows[b, row, key])}, got "
                          f"{mark(actual[b, row, key])} (b={b}); input {self.describe(pad, split)}",
                          SplitCounterexample(pad.copy(), att.copy(), rows, actual, pad[:, split:].copy(),
                                              "expected = rows P.. of the full mask", split=split,
                                              query_offset=split, kind="kv_cache"))

    def decode_steps(self, pad: np.ndarray, att: np.ndarray, prompt: int) -> None:
        """A decoding loop: the sequence grows by one token per step; each step's row is checked."""
        for length in range(max(prompt, 0) + 1, pad.shape[1] + 1):
            step_pad, step_att = pad[:, :length], att[:, :length]
            self.compare_with(step_pad, step_att, prompt,
                              self.expected(step_pad, step_att, prompt),
                              "differs from the last row of the full mask recomputed from scratch")

    # --- the example-level calls every check uses (a SplitExample is (pad, att, split)) -------------------

    def compute_example(self, example: SplitExample) -> np.ndarray:
        return self.compute(*example)

    def compare_example(self, example: SplitExample) -> None:
        """KV-cache: the suffix rows against SPEC §5; incremental: every decoding step from the prompt on."""
        if self.kind == "kv_cache":
            self.compare(*example)
        else:
            self.decode_steps(*example)

    def call_example(self, example: SplitExample) -> Any:
        return self.call(*example)

    def failure_for(self, example: SplitExample, note: str = "", failure: BaseException | None = None
                    ) -> Counterexample:
        return self.counterexample(*example, note=note)

