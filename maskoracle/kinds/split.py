"""Checks for the two split kinds of SPEC §5: KV-cache masks and incremental decoding.

``kv_cache``:    ``fn(prefix_pad [B, P], suffix_pad [B, S], suffix_att [B, S]) -> [B, S, P + S]``
``incremental``: ``fn(pad_masks [B, T], att_masks [B, T]) -> [B, 1, T]``, the query row of the last token
                 (the one just appended) over every key so far: the mask a decoding loop feeds attention at
                 each step, with the sequence so far (prompt and every decoded token) as input.

Both may return the row(s) with a head axis (``[B, 1, Q, K]``) and bool or additive float, as the ``mask``
kind may (SPEC §6).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..adapters import Adapter, BadResult, CallTimeout, call_with_timeout
from ..adapters.decode import _decode_additive
from ..engine import Aborted, CheckState, Failure, RunSettings, mark, run_fixed, run_property, short_error
from ..oracle import fast_reference_mask, reference_mask
from ..oracle.kv_cache import incremental_row, kv_cache_mask
from ..results import CheckResult, SplitCounterexample
from ..strategies.split import SplitExample, decoding_examples, kv_cache_examples, suffix_att_row

LOOP_ORACLE_MAX_CELLS = 2_000

KV_CACHE_CHECKS = {
    "output_format": "the result is a bool or additive float mask of shape [B, S, P+S] or [B, 1, S, P+S]",
    "spec_examples": "SPEC §5 by hand: pi0, pi0.5 and FAST suffixes over right-padded prefixes, a padded suffix",
    "equivalence": "random prefixes and suffixes (Hypothesis, shrunk on failure) against SPEC §5's loops",
    "matches_full_mask": "real suffix rows equal rows P..P+S-1 of the full block_causal mask of prefix ++ suffix",
    "size_boundaries": "long suffixes: 258 and 2,049 blocks (bfloat16 / float16 block ids) after an 816-token prefix",
    "result_device": "the result lives on the inputs' device",
}
INCREMENTAL_CHECKS = {
    "output_format": "the result is a bool or additive float row of shape [B, 1, T] or [B, 1, 1, T]",
    "spec_examples": "SPEC §2's worked examples as prompts, then three tokens decoded one by one",
    "decoding_matches_full_mask": "each decoded token's row equals the last row of the full mask recomputed "
                                  "from scratch (Hypothesis prompts, 1-3 decoding steps)",
    "size_boundaries": "long prompts (2,100 tokens; 2,049 causal blocks) before a decoded token",
    "result_device": "the result lives on the inputs' device",
}


def decode_rectangular(result: Any, adapter: Adapter, B: int, Q: int, K: int) -> np.ndarray:
    """The bool ``[B, Q, K]`` mask ``result`` encodes (``[B, Q, K]`` or ``[B, 1, Q, K]``, bool or additive)."""
    wanted = f"[B, Q, K] = {[B, Q, K]} or [B, 1, Q, K] = {[B, 1, Q, K]}"
    if result is None:
        raise BadResult(f"returned None; expected a bool or additive float mask {wanted}")
    if not adapter.is_array(result):
        raise BadResult(f"returned {type(result).__name__}, not a {adapter.framework} array; expected {wanted}")
    try:
        array = adapter.to_numpy(result)
    except Exception as error:
        raise BadResult(f"returned a {type(result).__name__} that cannot be read on the host: "
                        f"{short_error(error)}") from None
    shape = list(array.shape)
    if shape == [B, 1, Q, K]:
        array = array[:, 0]
    elif shape != [B, Q, K]:
        raise BadResult(f"returned shape {shape}; expected {wanted}")
    if array.dtype == bool:
        return array
    if np.issubdtype(array.dtype, np.floating):
        return _decode_additive(array)
    raise BadResult(f"returned dtype {array.dtype}; expected bool (True = may attend) or an additive float mask")


class SplitRunner:
    """Calls a KV-cache or incremental implementation and compares with SPEC §5's oracle."""

    def __init__(self, kind: str, fn: Callable[..., Any], adapter: Adapter, att_dtype: str, timeout: float,
                 pad_queries: str) -> None:
        self.kind, self.fn, self.adapter = kind, fn, adapter
        self.att_dtype, self.timeout, self.pad_queries = att_dtype, timeout, pad_queries

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
        arguments = self.arguments(pad, att, split)
        where = self.describe(pad, split)
        try:
            return call_with_timeout(self.fn, arguments, self.timeout)
        except CallTimeout as timeout:
            raise Aborted(f"timed out: {timeout} on an input of shape {where}",
                          self.counterexample(pad, att, split)) from None
        except KeyboardInterrupt:
            raise
        except Exception as error:
            raise Failure(f"raised {short_error(error)} on input {where}", self.counterexample(pad, att, split)) \
                from None
        except BaseException as error:
            raise Aborted(f"raised {short_error(error)} on input {where}", self.counterexample(pad, att, split)) \
                from None

    def compute(self, pad: np.ndarray, att: np.ndarray, split: int) -> np.ndarray:
        result = self.call(pad, att, split)
        B, N = pad.shape
        Q = N - self.query_offset(pad, split)
        try:
            return decode_rectangular(result, self.adapter, B, Q, N)
        except BadResult as bad:
            raise Failure(f"bad result on input {self.describe(pad, split)}: {bad}",
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
        b, row, key = (int(x) for x in np.argwhere(differ)[0])
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
        full = reference_mask(pad, att) if pad.size * pad.shape[1] <= LOOP_ORACLE_MAX_CELLS else \
            fast_reference_mask(pad, att)
        actual = self.compute(pad, att, split)
        rows = full[:, split:, :]
        differ = (rows != actual) & pad[:, split:, None]
        if differ.any():
            b, row, key = (int(x) for x in np.argwhere(differ)[0])
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


def _bits(text: str) -> np.ndarray:
    return np.array([[character == "1" for character in row] for row in text.split(",")], dtype=bool)


def _kv_spec_examples(layout: str) -> list[Any]:
    """SPEC §5 cases; pad and att rows of prefix ++ suffix (the prefix att only matters for the full mask)."""
    cases = [
        ("11110" + "111", "00000" + "110", 5),  # pi0: right-padded language, the state token, an action block
        ("1111" + "1111", "0000" + "1000", 4),  # pi0.5: one bidirectional action block
        ("1110" + "111", "0000" + "111", 4),  # pi0-FAST: causal action tokens
        ("11" + "110", "00" + "100", 2),  # a padded suffix token
        # Two batch rows with different prefix padding: each row's cache has its own real tokens.
        ("110011,111111", "000010,000011", 4),
    ]
    examples = [SplitExample(_bits(pad), _bits(att), split) for pad, att, split in cases]
    return [e for e in examples if _suffix_fits(e, layout)]


def _suffix_fits(example: SplitExample, layout: str) -> bool:
    if layout in ("any", "blocks"):
        return True
    S = example.suffix_att.shape[1]
    return all(list(row) == suffix_att_row(layout, S) for row in example.suffix_att)


def _incremental_prompts(layout: str, padding: str) -> list[Any]:
    from ..checking import _fits_layout, _fits_padding
    from ..oracle import SPEC_CASES

    examples = []
    for case in SPEC_CASES:
        pad, att = _bits(case.pad), _bits(case.att)
        if not (_fits_layout(tuple(att[0]), layout) and _fits_padding(tuple(pad[0]), padding)):
            continue
        B = pad.shape[0]
        ones = np.ones((B, 3), dtype=bool)
        examples.append(SplitExample(np.concatenate([pad, ones], 1), np.concatenate([att, ones], 1), pad.shape[1]))
    return examples


def split_plan(kind: str, fn: Callable[..., Any], adapter: Adapter, options: Any, run: RunSettings
               ) -> list[tuple[str, Callable[[], CheckResult]]]:
    """The checks of ``kind`` (``kv_cache`` or ``incremental``), in order, as ``(name, run)`` pairs."""
    runner = SplitRunner(kind, fn, adapter, options.att_dtype, options.timeout, options.pad_queries)
    descriptions = KV_CACHE_CHECKS if kind == "kv_cache" else INCREMENTAL_CHECKS
    layout, padding = options.layout, options.padding

    def state(name: str) -> CheckState:
        return CheckState(name, descriptions[name])

    def output_format() -> CheckResult:
        current = state("output_format")
        example = SplitExample(_bits("11011"), _bits("00011"), 3) if kind == "kv_cache" else \
            SplitExample(_bits("1101"), _bits("0011"), 3)
        pad, att, split = example
        try:
            runner.compute(pad, att, split)
        except (Failure, Aborted) as failure:
            return current.result("failed", failure.message, failure.counterexample)
        current.examples += 1
        return current.result("passed")

    # Hypothesis and run_fixed hand these SplitExamples (typed there as MaskExample, hence Any).
    def compare(example: Any) -> None:
        runner.compare(*example)

    def steps(example: Any) -> None:
        runner.decode_steps(*example)

    def full(example: Any) -> None:
        runner.compare_full(*example)

    def result_device() -> CheckResult:
        current = state("result_device")
        expected_device = adapter.device_name()
        if expected_device is None:
            return current.result("skipped", f"{options.framework} arrays have no device")

        def body(example: Any) -> None:
            try:
                result = runner.call(*example)
            except Failure:
                return
            device = adapter.device_of(result)
            if device is not None and device != expected_device:
                raise Failure(f"the result is on {device}, the inputs on {expected_device}",
                              runner.counterexample(*example))

        inputs: list[Any] = [SplitExample(_bits("11110111"), _bits("00000110"), 5)]
        return run_fixed(current, body, inputs)

    if kind == "kv_cache":
        def size_boundaries() -> CheckResult:
            inputs: list[Any] = []
            for S in (258, 2049):
                att = np.array([[False] * 816 + suffix_att_row(layout if layout != "any" else "causal", S)])
                pad = np.ones_like(att)
                pad[0, 700:816] = False  # right-padded language at the end of the prefix
                inputs.append(SplitExample(pad, att, 816))
            return run_fixed(state("size_boundaries"), compare, inputs)

        return [
            ("output_format", output_format),
            ("spec_examples", lambda: run_fixed(state("spec_examples"), compare, _kv_spec_examples(layout))),
            ("equivalence", lambda: run_property(state("equivalence"), kv_cache_examples(layout=layout,
                                                 padding=padding), compare, run)),
            ("matches_full_mask", lambda: run_property(state("matches_full_mask"), kv_cache_examples(
                layout=layout, padding=padding), full, run, max(10, run.max_examples // 4))),
            ("size_boundaries", size_boundaries),
            ("result_device", result_device),
        ]

    def long_prompts() -> CheckResult:
        # A 2,100-token prompt with a padded stretch and a causal tail (tiled or chunked code breaks on such
        # lengths), and 2,049 causal blocks (where float16 block ids stop counting), each before one new token.
        L = 2100
        pad = np.ones((1, L + 1), dtype=bool)
        pad[0, 1000:1100] = False
        att = (np.arange(L + 1) >= 1000)[None, :]
        causal = np.ones((1, 2050), dtype=bool)
        inputs: list[Any] = [SplitExample(pad, att, L), SplitExample(causal, causal.copy(), 2049)]
        return run_fixed(state("size_boundaries"), steps, inputs)

    return [
        ("output_format", output_format),
        ("spec_examples", lambda: run_fixed(state("spec_examples"), steps, _incremental_prompts(layout, padding))),
        ("decoding_matches_full_mask", lambda: run_property(state("decoding_matches_full_mask"), decoding_examples(
            layout=layout, padding=padding), steps, run)),
        ("size_boundaries", long_prompts),
        ("result_device", result_device),
    ]
