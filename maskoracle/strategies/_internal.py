"""Machinery behind the public strategies: layouts, padding families and the size regimes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple, Optional

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

LAYOUTS = (
    "any", "causal", "bidirectional", "prefix_lm", "blocks", "pi0", "pi05", "pi05_subtask", "smolvla", "fast",
)
PADDINGS = ("any", "right", "left", "none")
ATT_DTYPES = ("bool", "int32", "int64", "float32", "bfloat16", "float16")
SIZES = ("default", "small", "long")

# Block counts where real implementations break: int8 wraps past 127, uint8 past 255, bfloat16 stops being
# exact past 256 blocks, float16 past 2048 (SPEC §7). Each is reached from both sides.
BLOCK_COUNT_BOUNDARIES = (127, 128, 129, 255, 256, 257, 258, 2047, 2048, 2049)

SMALL_MAX_LENGTH = 12
MEDIUM_MAX_LENGTH = 160
MAX_BATCH = 4
# The regime roll is an integer 0..99 (shrinking towards 0, the small regime): at or above LONG_ROLL the input
# is long, at or above MEDIUM_ROLL medium. Hypothesis does not draw it uniformly; measured over default runs,
# about 1 input in 20 is long and 1 in 8 medium.
LONG_ROLL = 88
MEDIUM_ROLL = 72


class MaskExample(NamedTuple):
    """One input batch: ``pad_masks`` and ``att_masks``, both numpy bool ``[B, L]``."""

    pad_masks: np.ndarray
    att_masks: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        B, L = self.pad_masks.shape
        return int(B), int(L)


def _choice(value: str, allowed: tuple[str, ...], argument: str) -> str:
    if value not in allowed:
        raise InvalidArgument(f"{argument}={value!r} is not one of {', '.join(map(repr, allowed))}")
    return value


def _as_int_strategy(value: Any, argument: str, low: int, high: int) -> st.SearchStrategy[int] | None:
    """``None`` (use the default), an int in [low, high], or a strategy of ints, validated up front."""
    if value is None:
        return None
    if isinstance(value, st.SearchStrategy):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{argument} must be an int or a strategy of ints, got {value!r}")
    if not low <= value <= high:
        raise InvalidArgument(f"{argument}={value} is out of range; pass an int from {low} to {high}")
    return st.just(value)


@functools.lru_cache(maxsize=4096)
def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    """``st.integers(low, high)``, built once per range: the draws of one example ask for a dozen strategies,
    and Hypothesis's own strategy cache (a Python LRU) cost more than drawing from them."""
    return st.integers(low, high)


BOOLEANS = st.booleans()
BLOCK_COUNTS = st.sampled_from(BLOCK_COUNT_BOUNDARIES)


def _bits(draw: Callable, length: int) -> list[bool]:
    """``length`` random bits from one integer: cheap to draw, and shrinks towards all-zero rows."""
    if length == 0:
        return []
    value = draw(_integers(0, 2**length - 1))
    return [bool((value >> position) & 1) for position in range(length)]


# --- att layouts -------------------------------------------------------------------------------------------
# Each takes (draw, L, segments) and returns a LayoutRow; model layouts reuse ``segments`` when given, so the
# rows of a batch can share segment sizes while drawing their own padding.

Row = list[bool]
Segments = Optional[list[int]]  # noqa: UP045 (a runtime alias: Python 3.10 cannot subscript | unions)
# (att row, the layout's own padding row or None, the segment sizes drawn, for rows that share them)
LayoutRow = tuple[Row, Optional[Row], Segments]  # noqa: UP045


def _att_any(draw: Callable, length: int, segments: Segments = None) -> LayoutRow:
    return _bits(draw, length), None, None


def _att_causal(draw: Callable, length: int, segments: Segments = None) -> LayoutRow:
    return [True] * length, None, None


def _att_bidirectional(draw: Callable, length: int, segments: Segments = None) -> LayoutRow:
    return [False] * length, None, None


def _att_prefix_lm(draw: Callable, length: int, segments: Segments = None) -> LayoutRow:
    prefix = draw(_integers(0, length))
    return [False] * prefix + [True] * (length - prefix), None, None


def _att_blocks(draw: Callable, length: int, segments: Segments = None) -> LayoutRow:
    # Random block structure: each position starts a block with the drawn bit; the first bit is random too,
    # since SPEC says it never matters.
    starts = _bits(draw, length)
    return starts, None, None


def _right_padded(draw: Callable, length: int) -> Row:
    """A segment of ``length`` tokens whose real part is a drawn prefix (language or token segments)."""
    real = draw(_integers(0, length))
    return [True] * real + [False] * (length - real)


def _split(draw: Callable, total: int, parts: int) -> list[int]:
    """Split ``total`` tokens into ``parts`` segments, each at least 1 (``total >= parts``)."""
    sizes = [1] * parts
    for _ in range(total - parts):
        sizes[draw(_integers(0, parts - 1))] += 1
    return sizes


def _segments_split(draw: Callable, total: int, parts: int) -> list[int]:
    # Cheaper than one draw per token for long sequences: draw cut points.
    if total < 40:
        return _split(draw, total, parts)
    cuts = sorted(draw(st.lists(st.integers(1, total - 1), min_size=parts - 1, max_size=parts - 1, unique=True)))
    bounds = [0, *cuts, total]
    return [bounds[k + 1] - bounds[k] for k in range(parts)]


def _att_pi0(draw: Callable, length: int, segments: Segments = None) -> LayoutRow:
    # [images 0..][language 0.., right-padded][state 1][actions 1 0 0 ...]
    drawn = segments or _segments_split(draw, length - 1, 3)
    images, language, actions = drawn
    att = [False] * (images + language) + [True] + [True] + [False] * (actions - 1)
    pad = [True] * images + _right_padded(draw, language) + [True] * (1 + actions)
    return att, pad, drawn


def _att_pi05(draw: Callable, length: int, segments: Segments = None) -> LayoutRow:
    # [images 0..][language 0.., right-padded][actions 1 0 0 ...]: no state token.
    drawn = segments or _segments_split(draw, length, 3)
    images, language, actions = drawn
    att = [False] * (images + language) + [True] + [False] * (actions - 1)
    pad = [True] * images + _right_padded(draw, language) + [True] * actions
    return att, pad, drawn


def _att_pi05_subtask(draw: Callable, length: int, segments: Segments = None) -> LayoutRow:
    # The user's case: [images 0][language 0][subtask tokens 1 1 1, right-padded][actions 1 0 0 ...].
    drawn = segments or _segments_split(draw, length, 4)
    images, language, subtask, actions = drawn
    att = [False] * (images + language) + [True] * subtask + [True] + [False] * (actions - 1)
    pad = [True] * images + _right_padded(draw, language) + _right_padded(draw, subtask) + [True] * actions
    return att, pad, drawn


def _att_smolvla(draw: Callable, length: int, segments: Segments = None) -> LayoutRow:
    # Prefix [images 0][language 0][state 1], right-padded as a whole; then [actions 1 1 1 ...].
    drawn = segments or _segments_split(draw, length - 1, 4)
    images, language, prefix_padding, actions = drawn
    prefix_padding -= 1  # may be zero
    actions += 1
    att = [False] * (images + language) + [True] + [False] * prefix_padding + [True] * actions
    pad = ([True] * images + _right_padded(draw, language) + [True] + [False] * prefix_padding
           + [True] * actions)
    return att, pad, drawn


def _att_fast(draw: Callable, length: int, segments: Segments = None) -> LayoutRow:
    # [images 0][language 0, right-padded][FAST action tokens 1 1 1 ..., right-padded]: causal decoding.
    drawn = segments or _segments_split(draw, length, 3)
    images, language, actions = drawn
    att = [False] * (images + language) + [True] * actions
    pad = [True] * images + _right_padded(draw, language) + _right_padded(draw, actions)
    return att, pad, drawn


LAYOUT_ROWS: dict[str, Callable[..., LayoutRow]] = {
    "any": _att_any,
    "causal": _att_causal,
    "bidirectional": _att_bidirectional,
    "prefix_lm": _att_prefix_lm,
    "blocks": _att_blocks,
    "pi0": _att_pi0,
    "pi05": _att_pi05,
    "pi05_subtask": _att_pi05_subtask,
    "smolvla": _att_smolvla,
    "fast": _att_fast,
}

MIN_LENGTH = {"pi0": 4, "pi05": 3, "pi05_subtask": 4, "smolvla": 5, "fast": 3}


# --- padding families --------------------------------------------------------------------------------------

def _all_real(draw: Callable, length: int) -> Row:
    return [True] * length


def _left_padded(draw: Callable, length: int) -> Row:
    return _right_padded(draw, length)[::-1]


def _scattered(draw: Callable, length: int) -> Row:
    return [not bit for bit in _bits(draw, length)]  # shrinks towards all real


def _all_padding(draw: Callable, length: int) -> Row:
    return [False] * length  # a padded query row attends to nothing; nothing attends to it


def _lone_real(draw: Callable, length: int) -> Row:
    lone = draw(_integers(0, max(0, length - 1)))
    return [position == lone for position in range(length)]  # one real token among padding


# The families of ``padding="any"``, one drawn per row. The first shrinks best, so it comes first; the corner
# cases come last, each a branch of its own so that they are drawn by construction (one row in six), not left
# to random bits, which give a row of all padding or a lone real token only by chance, rarely past a few tokens.
ANY_PADDING_FAMILIES: tuple[tuple[str, Callable[[Callable, int], Row]], ...] = (
    ("all_real", _all_real),
    ("right", _right_padded),
    ("left", _left_padded),
    ("scattered", _scattered),
    ("all_padding", _all_padding),
    ("lone_real", _lone_real),
)


def _pad_row(draw: Callable, padding: str, length: int) -> Row:
    if padding == "none":
        return [True] * length
    if padding == "right":
        return _right_padded(draw, length)
    if padding == "left":
        return _left_padded(draw, length)
    family = draw(_integers(0, len(ANY_PADDING_FAMILIES) - 1))
    return ANY_PADDING_FAMILIES[family][1](draw, length)


# --- sizes -------------------------------------------------------------------------------------------------

def _long_length(draw: Callable, layout: str) -> int:
    """A length whose block count (for layouts with many 1s) sits on a boundary of SPEC §7."""
    blocks = draw(BLOCK_COUNTS)
    # Model layouts carry a bidirectional prefix, so they need extra tokens to reach the same block count.
    extra = 0 if layout in ("any", "causal", "blocks", "bidirectional", "prefix_lm") else draw(_integers(3, 12))
    return blocks + extra


def _long_att_any(draw: Callable, length: int, zeros: int) -> Row:
    # 1s but for ``zeros`` drawn places (multi-token blocks): ``length - zeros`` blocks, on the boundary.
    att = [True] * length
    for position in draw(st.lists(st.integers(1, length - 1), min_size=zeros, max_size=zeros, unique=True)):
        att[position] = False
    return att


@st.composite
def mask_examples_impl(
    draw: Callable,
    layout: str,
    padding: str,
    batch_size: st.SearchStrategy[int] | None,
    length: st.SearchStrategy[int] | None,
    sizes: str,
    medium_lengths: tuple[int, ...] | None = None,
) -> MaskExample:
    minimum = MIN_LENGTH.get(layout, 1)
    # Every size choice is drawn in the same order whatever the regime, so that when the shrinker lowers the
    # regime roll the other choices stay aligned and a long or medium failure shrinks into the small regime.
    roll = 99 if sizes == "long" else (0 if sizes == "small" else draw(_integers(0, 99)))
    small_length = draw(_integers(minimum, max(minimum, SMALL_MAX_LENGTH)))
    medium_extra = draw(_integers(0, MEDIUM_MAX_LENGTH - SMALL_MAX_LENGTH)) if sizes == "default" else 0
    long_length = _long_length(draw, layout) if sizes != "small" else 0
    long_zeros = draw(_integers(0, 3)) if layout == "any" and sizes != "small" else 0
    B = draw(batch_size if batch_size is not None else _integers(1, MAX_BATCH))
    if length is not None:
        L = max(minimum, draw(length))
        regime = "long" if L > MEDIUM_MAX_LENGTH else "small"
    elif roll >= LONG_ROLL:
        regime, L = "long", long_length + long_zeros
    elif roll >= MEDIUM_ROLL:
        # A menu of medium lengths (frameworks that compile per shape): the same draw picks one of them.
        L = small_length + medium_extra if not medium_lengths else medium_lengths[medium_extra % len(medium_lengths)]
        regime = "medium"
    else:
        regime, L = "small", small_length
    if regime == "long" and batch_size is None:
        B = 1  # long inputs cost L^2 per row; batch bugs are found on short inputs

    make_att = LAYOUT_ROWS[layout]
    # Within a batch, rows share the layout's segment sizes most of the time (as real batches do), but not
    # always: drawing each row separately also finds bugs that mix rows up.
    same_structure = draw(BOOLEANS)
    pad_rows: list[Row] = []
    att_rows: list[Row] = []
    shared: list[int] | None = None
    for _ in range(B):
        if layout == "any" and regime == "long":
            att_row, own_pad, drawn = _long_att_any(draw, L, long_zeros), None, None
        else:
            att_row, own_pad, drawn = make_att(draw, L, shared)
        if same_structure:
            shared = drawn
        if own_pad is not None and padding == "any":
            pad_row = own_pad
        else:
            pad_row = _pad_row(draw, padding, L)
        att_rows.append(att_row)
        pad_rows.append(pad_row)
    return MaskExample(np.array(pad_rows, dtype=bool).reshape(B, L), np.array(att_rows, dtype=bool).reshape(B, L))


def boundary_examples(layout: str = "any", padding: str = "any") -> list[MaskExample]:
    """Deterministic long inputs whose block counts sit on every boundary of SPEC §7, smallest first.

    With ``padding="any"`` each is a batch of two rows: all real, and the last token padded; ``right`` and
    ``left`` give the padded row alone, ``none`` the real one.

    For layouts whose att is fixed to few blocks (bidirectional, pi0, pi0.5) the sequences are still long;
    they test length-dependent code paths, not block counts.
    """
    _choice(layout, LAYOUTS, "layout")
    _choice(padding, PADDINGS, "padding")
    examples = []
    for blocks in BLOCK_COUNT_BOUNDARIES:
        att = _boundary_att(layout, blocks + 1)  # one block past the boundary
        L = att.shape[0]
        real = np.ones(L, dtype=bool)
        padded = real.copy()
        if padding == "left":
            padded[0] = False
        else:
            padded[-1] = False
        # Row 0 all real, row 1 with one padded token (its query row and key column must stay empty).
        rows = [real] if padding == "none" else [padded] if padding in ("right", "left") else [real, padded]
        examples.append(MaskExample(np.stack(rows), np.stack([att] * len(rows))))
    return examples


def _boundary_att(layout: str, blocks: int) -> np.ndarray:
    """An att row of ``layout`` whose last block id is ``blocks`` where the layout allows that many."""
    if layout == "bidirectional":
        return np.zeros(blocks, dtype=bool)
    if layout in ("pi0", "pi05"):
        # A long bidirectional prefix, then the model's suffix (state 1 for pi0, actions 1 0 0 ...).
        att = np.zeros(blocks, dtype=bool)
        att[-8] = True
        if layout == "pi0":
            att[-9] = True
        return att
    if layout in ("prefix_lm", "smolvla", "fast", "pi05_subtask"):
        # A short bidirectional prefix, then all 1s: the block count still reaches the boundary.
        return np.concatenate([np.zeros(2, dtype=bool), np.ones(blocks, dtype=bool)])
    return np.ones(blocks, dtype=bool)


# Real models' segment sizes (SPEC §8): (images, language, language real, suffix att) per layout. pi0 and pi0.5
# take three 224 px images of 256 tokens each; SmolVLA 64 tokens per image; language budgets of 48 and 200.
_REALISTIC: dict[str, tuple[int, int, int, list[bool]]] = {
    "pi0": (768, 48, 20, [True, True] + [False] * 49),  # state, then 50 actions [1, 0, 0, ...]
    "pi05": (768, 200, 60, [True] + [False] * 49),
    "pi05_subtask": (768, 200, 60, [True] * 20 + [True] + [False] * 49),  # 20 subtask tokens, then actions
    "smolvla": (192, 48, 20, [True] + [True] * 50),  # state at the end of the prefix, actions all 1
    "fast": (768, 48, 20, [True] * 180),  # FAST action tokens, causal
}


def realistic_examples(layout: str = "any", padding: str = "any") -> list[MaskExample]:
    """Long inputs with the segment sizes of real models, where chunked or tiled implementations break.

    Model layouts get their own sizes (pi0: 768 image + 48 language tokens, then state and 50 actions, L =
    867); the generic ones a 1,100-token bidirectional prefix followed by 1,000 causal tokens, so that every
    block boundary a 512-, 1024- or 2048-wide tile can cut is crossed.
    """
    _choice(layout, LAYOUTS, "layout")
    _choice(padding, PADDINGS, "padding")
    if layout in _REALISTIC:
        images, language, language_real, suffix = _REALISTIC[layout]
        att = [False] * (images + language) + suffix
        own_pad = [True] * images + [True] * language_real + [False] * (language - language_real) + \
            [True] * len(suffix)
    else:
        prefix = 1100
        if layout == "causal":
            att = [True] * 2100
        elif layout == "bidirectional":
            att = [False] * 2100
        else:
            att = [False] * prefix + [True] * 1000
        own_pad = [True] * len(att)
    L = len(att)
    if padding == "any":
        pad = own_pad
    else:
        pad = [True] * L
        if padding == "right":
            pad[-1] = False
        elif padding == "left":
            pad[0] = False
    return [MaskExample(np.array([pad], dtype=bool), np.array([att], dtype=bool))]
