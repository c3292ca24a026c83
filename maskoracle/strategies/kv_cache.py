"""Strategies for inputs split in two: a cached prefix and a suffix (KV-cache), a prompt and decoded tokens.

>>> from maskoracle.strategies.split import kv_cache_examples, decoding_examples
>>> kv_cache_examples(layout="pi0")      # SplitExample: prefix [:, :split], suffix [:, split:]
>>> decoding_examples(layout="any")      # SplitExample: prompt [:, :split], then tokens decoded one by one

Every suffix starts a new block (``suffix_att[:, 0] == 1``), as in every real model (SPEC §5): the state or
first action token after the prefix, each decoded token after the prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from hypothesis import strategies as st

from ._internal import LAYOUTS, PADDINGS, _bits, _choice, _pad_row, mask_examples_impl

MAX_PREFIX = 10
MAX_SUFFIX = 8
MAX_DECODED = 3


class SplitExample(NamedTuple):
    """``pad_masks`` and ``att_masks`` ``[B, N]`` of the whole sequence, split at ``split``.

    For a KV-cache mask the prefix is ``[:, :split]`` (its att bits matter only to the full mask it is
    compared with) and the suffix ``[:, split:]``; for incremental decoding the prompt is ``[:, :split]`` and
    every later token is decoded one at a time.
    """

    pad_masks: np.ndarray
    att_masks: np.ndarray
    split: int

    @property
    def shape(self) -> tuple[int, int]:
        B, N = self.pad_masks.shape
        return int(B), int(N)

    @property
    def prefix_pad(self) -> np.ndarray:
        return self.pad_masks[:, :self.split]

    @property
    def suffix_pad(self) -> np.ndarray:
        return self.pad_masks[:, self.split:]

    @property
    def suffix_att(self) -> np.ndarray:
        return self.att_masks[:, self.split:]


def suffix_att_row(layout: str, length: int, draw: Callable[..., Any] | None = None) -> list[bool]:
    """The suffix att bits a model of ``layout`` uses: first bit 1, the rest by the model (SPEC §8)."""
    if length == 0:
        return []
    if layout in ("causal", "fast", "smolvla", "prefix_lm"):
        rest = [True] * (length - 1)
    elif layout in ("bidirectional", "pi05", "pi05_subtask"):
        rest = [False] * (length - 1)  # one bidirectional action block
    elif layout == "pi0":
        rest = [False] * (length - 1)
        if rest:
            rest[0] = True  # the state token, then the action block
    elif draw is not None:
        rest = _bits(draw, length - 1)
    else:
        rest = [bool(i % 2) for i in range(length - 1)]
    return [True, *rest]


@st.composite
def _kv_cache_examples(draw: Callable[..., Any], layout: str, padding: str) -> SplitExample:
    B = draw(st.integers(1, 4))
    P = draw(st.integers(1, MAX_PREFIX))
    S = draw(st.integers(1, MAX_SUFFIX))
    prefix_pad = [_pad_row(draw, padding, P) for _ in range(B)]
    prefix_att = [_bits(draw, P) for _ in range(B)]
    # Action suffixes are rarely padded; draw padding for them a quarter of the time.
    padded_suffix = padding != "none" and draw(st.integers(0, 3)) == 3
    suffix_pad = [_pad_row(draw, padding, S) if padded_suffix else [True] * S for _ in range(B)]
    suffix_att = [suffix_att_row(layout, S, draw) for _ in range(B)]
    pad = np.array([p + s for p, s in zip(prefix_pad, suffix_pad, strict=True)], dtype=bool)
    att = np.array([p + s for p, s in zip(prefix_att, suffix_att, strict=True)], dtype=bool)
    return SplitExample(pad.reshape(B, P + S), att.reshape(B, P + S), P)


def kv_cache_examples(*, layout: str = "any", padding: str = "any") -> st.SearchStrategy[SplitExample]:
    """Random KV-cache inputs: B 1-4, a prefix of 1-10 tokens, a suffix of 1-8 starting a new block."""
    _choice(layout, LAYOUTS, "layout")
    _choice(padding, PADDINGS, "padding")
    return _kv_cache_examples(layout, padding)


@st.composite
def _decoding_examples(draw: Callable[..., Any], layout: str, padding: str) -> SplitExample:
    prompt = draw(mask_examples_impl(layout, padding, None, None, "small"))
    B, _ = prompt.shape
    steps = draw(st.integers(1, MAX_DECODED))
    # Each decoded token is real and starts a block of its own: it sees every real token so far (SPEC §5).
    pad = np.concatenate([prompt.pad_masks, np.ones((B, steps), dtype=bool)], axis=1)
    att = np.concatenate([prompt.att_masks, np.ones((B, steps), dtype=bool)], axis=1)
    return SplitExample(pad, att, prompt.shape[1])


def decoding_examples(*, layout: str = "any", padding: str = "any") -> st.SearchStrategy[SplitExample]:
    """A prompt drawn like ``mask_examples(sizes="small")``, then 1-3 tokens decoded one by one."""
    _choice(layout, LAYOUTS, "layout")
    _choice(padding, PADDINGS, "padding")
    return _decoding_examples(layout, padding)
