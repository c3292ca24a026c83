"""The plans of the two split kinds of SPEC §5: KV-cache masks and incremental decoding.

``kv_cache``:    ``fn(prefix_pad [B, P], suffix_pad [B, S], suffix_att [B, S]) -> [B, S, P + S]``
``incremental``: ``fn(pad_masks [B, T], att_masks [B, T]) -> [B, 1, T]``, the query row of the last token
                 (the one just appended) over every key so far: the mask a decoding loop feeds attention at
                 each step, with the sequence so far (prompt and every decoded token) as input.

Both may return the row(s) with a head axis (``[B, 1, Q, K]``) and bool or additive float, as the ``mask``
kind may (SPEC §6). The runner is ``runner.SplitRunner``; ``output_format``, ``spec_examples``, ``equivalence``,
``size_boundaries`` and ``result_device`` are the checks every plan shares, on the inputs below.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...oracle import SPEC_CASES
from ...strategies import MaskExample
from ...strategies.families import bit_rows, fits
from ...strategies.kv_cache import SplitExample, decoding_examples, kv_cache_examples, suffix_att_row
from ..engine import CheckState, run_property
from ..results import CheckResult
from ..units import Check, Context
from .contract import RESULT_DEVICE
from .mask import EQUIVALENCE, OUTPUT_FORMAT, SIZE_BOUNDARIES, SPEC_EXAMPLES

# SPEC §5 cases; pad and att rows of prefix ++ suffix (the prefix att only matters for the full mask).
KV_CACHE_CASES = (
    ("11110" + "111", "00000" + "110", 5),  # pi0: right-padded language, the state token, an action block
    ("1111" + "1111", "0000" + "1000", 4),  # pi0.5: one bidirectional action block
    ("1110" + "111", "0000" + "111", 4),  # pi0-FAST: causal action tokens
    ("11" + "110", "00" + "100", 2),  # a padded suffix token
    # Two batch rows with different prefix padding: each row's cache has its own real tokens.
    ("110011,111111", "000010,000011", 4),
)


def _suffix_fits(example: SplitExample, layout: str) -> bool:
    if layout in ("any", "blocks"):
        return True
    S = example.suffix_att.shape[1]
    return all(list(row) == suffix_att_row(layout, S) for row in example.suffix_att)


class KvCacheInputs:
    """A cached prefix and a suffix: ``SplitExample(pad, att, split)`` of the whole sequence."""

    note = ""

    def __init__(self, family: str, padding: str) -> None:
        self.family, self.padding = family, padding

    def first(self) -> SplitExample:
        return SplitExample(bit_rows("11011"), bit_rows("00011"), 3)

    def fixed(self) -> list[SplitExample]:
        examples = [SplitExample(bit_rows(pad), bit_rows(att), split) for pad, att, split in KV_CACHE_CASES]
        return [example for example in examples if _suffix_fits(example, self.family)]

    def examples(self) -> Any:
        return kv_cache_examples(layout=self.family, padding=self.padding)

    def rows(self) -> None:
        return None  # no batched search: the Hypothesis search draws this plan's inputs

    def small(self) -> Any:
        return None  # every KV-cache example is small already

    def long(self) -> list[SplitExample]:
        inputs = []
        for S in (258, 2049):
            att = np.array([[False] * 816 + suffix_att_row(self.family if self.family != "any" else "causal", S)])
            pad = np.ones_like(att)
            pad[0, 700:816] = False  # right-padded language at the end of the prefix
            inputs.append(SplitExample(pad, att, 816))
        return inputs

    def device_examples(self) -> list[SplitExample]:
        return [SplitExample(bit_rows("11110111"), bit_rows("00000110"), 5)]


class DecodingInputs(KvCacheInputs):
    """A prompt and tokens decoded one at a time: ``SplitExample(pad, att, prompt_length)``."""

    def first(self) -> SplitExample:
        return SplitExample(bit_rows("1101"), bit_rows("0011"), 3)

    def fixed(self) -> list[SplitExample]:
        """SPEC §2's worked examples as prompts, each followed by three tokens decoded one by one."""
        examples = []
        for case in SPEC_CASES:
            pad, att = bit_rows(case.pad), bit_rows(case.att)
            if not fits(MaskExample(pad, att), self.family, self.padding):
                continue
            ones = np.ones((pad.shape[0], 3), dtype=bool)
            examples.append(SplitExample(np.concatenate([pad, ones], 1), np.concatenate([att, ones], 1),
                                         pad.shape[1]))
        return examples

    def examples(self) -> Any:
        return decoding_examples(layout=self.family, padding=self.padding)

    def long(self) -> list[SplitExample]:
        # A 2,100-token prompt with a padded stretch and a causal tail (tiled or chunked code breaks on such
        # lengths), and 2,049 causal blocks (where float16 block ids stop counting), each before one new token.
        L = 2100
        pad = np.ones((1, L + 1), dtype=bool)
        pad[0, 1000:1100] = False
        att = (np.arange(L + 1) >= 1000)[None, :]
        causal = np.ones((1, 2050), dtype=bool)
        return [SplitExample(pad, att, L), SplitExample(causal, causal.copy(), 2049)]


def _matches_full_mask(context: Context, state: CheckState) -> CheckResult:
    runner = context.split_runner

    def body(example: Any) -> None:  # a SplitExample
        runner.compare_full(example.pad_masks, example.att_masks, example.split)

    return run_property(state, context.inputs.examples(), body, context.run, context.few)


KV_CACHE_PLAN: tuple[Check, ...] = (
    OUTPUT_FORMAT.renamed("output_format", "the result is a bool or additive float mask of shape [B, S, P+S] or "
                          "[B, 1, S, P+S]"),
    SPEC_EXAMPLES.renamed("spec_examples", "SPEC §5 by hand: pi0, pi0.5 and FAST suffixes over right-padded "
                          "prefixes, a padded suffix"),
    EQUIVALENCE.renamed("equivalence", "random prefixes and suffixes (Hypothesis, shrunk on failure) against "
                        "SPEC §5's loops"),
    Check("matches_full_mask", "real suffix rows equal rows P..P+S-1 of the full block_causal mask of prefix ++ "
          "suffix", _matches_full_mask),
    SIZE_BOUNDARIES.renamed("size_boundaries", "long suffixes: 258 and 2,049 blocks (bfloat16 / float16 block ids) "
                            "after an 816-token prefix"),
    RESULT_DEVICE,
)

INCREMENTAL_PLAN: tuple[Check, ...] = (
    OUTPUT_FORMAT.renamed("output_format", "the result is a bool or additive float row of shape [B, 1, T] or "
                          "[B, 1, 1, T]"),
    SPEC_EXAMPLES.renamed("spec_examples", "SPEC §2's worked examples as prompts, then three tokens decoded one "
                          "by one"),
    EQUIVALENCE.renamed("decoding_matches_full_mask", "each decoded token's row equals the last row of the full "
                        "mask recomputed from scratch (Hypothesis prompts, 1-3 decoding steps)"),
    SIZE_BOUNDARIES.renamed("size_boundaries", "long prompts (2,100 tokens; 2,049 causal blocks) before a decoded "
                            "token"),
    RESULT_DEVICE,
)
