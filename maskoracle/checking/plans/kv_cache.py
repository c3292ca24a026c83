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
from ...strategies.families import bit_rows, fits, fits_padding, fitting_example, fitting_pad
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


def _suffix_fits(example: SplitExample, layout: str, padding: str) -> bool:
    pads_fit = all(fits_padding(tuple(row), padding) for part in (example.prefix_pad, example.suffix_pad)
                   for row in part)
    if layout in ("any", "blocks"):
        return pads_fit
    S = example.suffix_att.shape[1]
    return pads_fit and all(list(row) == suffix_att_row(layout, S) for row in example.suffix_att)


def _split_example(prefix_pad: str, prefix_att: str, suffix_pad: str, suffix_att: str, layout: str,
                   padding: str) -> SplitExample:
    """A one-row KV-cache input whose prefix and suffix pads fit ``padding`` and whose suffix att is
    ``suffix_att`` (``any``, ``blocks``) or ``layout``'s (``suffix_att_row``)."""
    pad = fitting_pad(bit_rows(prefix_pad)[0], padding) + fitting_pad(bit_rows(suffix_pad)[0], padding)
    suffix = [bit == "1" for bit in suffix_att] if layout in ("any", "blocks") else \
        suffix_att_row(layout, len(suffix_pad))
    att = [bit == "1" for bit in prefix_att] + suffix
    return SplitExample(np.array([pad], dtype=bool), np.array([att], dtype=bool), len(prefix_pad))


def _padded_prefix(P: int, padded: int, padding: str) -> np.ndarray:
    """A pad row of ``P`` tokens with ``padded`` of them padded where ``padding`` puts them (``any``: right,
    as real models pad language; ``none``: nowhere)."""
    row = np.ones(P, dtype=bool)
    if padding == "left":
        row[:padded] = False
    elif padding != "none":
        row[P - padded:] = False
    return row


class KvCacheInputs:
    """A cached prefix and a suffix: ``SplitExample(pad, att, split)`` of the whole sequence."""

    note = ""

    def __init__(self, family: str, padding: str) -> None:
        self.family, self.padding = family, padding

    def first(self) -> SplitExample:
        return _split_example("110", "000", "11", "11", self.family, self.padding)

    def fixed(self) -> list[SplitExample]:
        examples = [SplitExample(bit_rows(pad), bit_rows(att), split) for pad, att, split in KV_CACHE_CASES]
        return [example for example in examples if _suffix_fits(example, self.family, self.padding)]

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
            pad[0, :816] = _padded_prefix(816, 116, self.padding)  # 116 padded language tokens, as --padding says
            inputs.append(SplitExample(pad, att, 816))
        return inputs

    def device_examples(self) -> list[SplitExample]:
        return [_split_example("11110", "00000", "111", "110", self.family, self.padding)]

    def admits(self, example: Any) -> bool:
        return True  # split inputs are not shrunk token by token


class DecodingInputs(KvCacheInputs):
    """A prompt and tokens decoded one at a time: ``SplitExample(pad, att, prompt_length)``."""

    def first(self) -> SplitExample:
        prompt = fitting_example(bit_rows("110"), bit_rows("001"), self.family, self.padding)
        return _then_decoded(prompt.pad_masks, prompt.att_masks, 1)

    def fixed(self) -> list[SplitExample]:
        """SPEC §2's worked examples as prompts, each followed by three tokens decoded one by one."""
        examples = []
        for case in SPEC_CASES:
            pad, att = bit_rows(case.pad), bit_rows(case.att)
            if not fits(MaskExample(pad, att), self.family, self.padding):
                continue
            examples.append(_then_decoded(pad, att, 3))
        return examples

    def examples(self) -> Any:
        return decoding_examples(layout=self.family, padding=self.padding)

    def long(self) -> list[SplitExample]:
        # A 2,100-token prompt with a padded stretch and a causal tail (tiled or chunked code breaks on such
        # lengths), and 2,049 causal blocks (where float16 block ids stop counting), each before one new token.
        # Each is moved into the --layout and --padding families (a bidirectional prompt has one block).
        L = 2100
        pad = np.ones((1, L), dtype=bool)
        pad[0, 1000:1100] = False
        att = (np.arange(L) >= 1000)[None, :]
        causal = np.ones((1, 2049), dtype=bool)
        return [_then_decoded(*fitting_example(pad, att, self.family, self.padding), 1),
                _then_decoded(*fitting_example(causal, causal.copy(), self.family, self.padding), 1)]


def _then_decoded(pad: np.ndarray, att: np.ndarray, steps: int) -> SplitExample:
    """A prompt ``(pad, att)`` followed by ``steps`` real tokens, each a block of its own (SPEC §5)."""
    ones = np.ones((pad.shape[0], steps), dtype=bool)
    return SplitExample(np.concatenate([pad, ones], 1), np.concatenate([att, ones], 1), pad.shape[1])


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
