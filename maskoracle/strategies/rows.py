"""Many rows at once: NumPy draws from the same att and padding families as ``mask_examples``.

Hypothesis draws one small batch per example (a few hundred a second); a batched search wants thousands of rows
per call of the implementation. ``draw_rows`` draws them with a NumPy generator, vectorised over rows, from the
families of ``_internal`` (the model layouts' segment patterns and own padding, the padding families) plus the
shapes real long inputs take: padding runs in the middle of a segment, all-padding rows, lone real tokens, and
att rows of every density (so that block counts cross the boundaries of SPEC §7 at long lengths).

>>> import numpy as np
>>> example = draw_rows(np.random.default_rng(0), "pi0", "any", rows=3, length=10)
>>> example.shape
(3, 10)
"""

from __future__ import annotations

import numpy as np

from ._internal import (
    BLOCK_COUNT_BOUNDARIES,
    LAYOUTS,
    MIN_LENGTH,
    PADDINGS,
    SMALL_MAX_LENGTH,
    MaskExample,
    _choice,
)

# Lengths a batched search draws: (regime, weight). Small lengths are cheap and find most bugs; long ones are
# where size-dependent bugs live (block-count boundaries, tiles of 512-2048, real models' 800-1,100 tokens).
LENGTH_REGIMES = (("small", 0.55), ("medium", 0.30), ("long", 0.15))
MEDIUM_LENGTH = 160
LONG_MAX_LENGTH = 4096
# Densities of 1s in an ``any``/``blocks`` att row: half (uniform rows), sparse, dense, and all 1s (the block
# count then equals the length, reaching every boundary).
ATT_DENSITIES = np.array([0.5, 0.5, 0.5, 0.1, 0.9, 0.99, 1.0])


def draw_length(rng: np.random.Generator, layout: str, coarse: bool = False) -> int:
    """A length for one batched call: small, medium or long (long lengths sit on or near block-count boundaries
    half of the time). ``coarse``: only a few lengths per regime (for frameworks that compile per shape)."""
    minimum = MIN_LENGTH.get(layout, 1)
    regimes = [name for name, _ in LENGTH_REGIMES]
    regime = regimes[rng.choice(len(regimes), p=[weight for _, weight in LENGTH_REGIMES])]
    if regime == "small":
        length = int(rng.integers(1, SMALL_MAX_LENGTH + 1))
    elif coarse:
        choices = (16, 32, 64, 128, MEDIUM_LENGTH) if regime == "medium" else (256, 512, 1024, 2049)
        length = int(rng.choice(choices))
    elif regime == "medium":
        length = int(rng.integers(SMALL_MAX_LENGTH + 1, MEDIUM_LENGTH + 1))
    elif rng.random() < 0.5:
        length = int(rng.choice(BLOCK_COUNT_BOUNDARIES)) + int(rng.integers(0, 4))
    else:  # log-uniform up to 4,096: every tile and block boundary gets crossed sometimes
        length = int(np.exp(rng.uniform(np.log(MEDIUM_LENGTH), np.log(LONG_MAX_LENGTH))))
    return max(minimum, length)


def draw_rows(rng: np.random.Generator, layout: str = "any", padding: str = "any", *, rows: int,
              length: int) -> MaskExample:
    """``rows`` independent rows of ``length`` (each with its own structure and padding), as one batch."""
    _choice(layout, LAYOUTS, "layout")
    _choice(padding, PADDINGS, "padding")
    length = max(length, MIN_LENGTH.get(layout, 1))
    att, own_pad = _att_rows(rng, layout, rows, length)
    pad = own_pad if own_pad is not None and padding == "any" else _pad_rows(rng, padding, rows, length)
    return MaskExample(pad, att)


# --- att --------------------------------------------------------------------------------------------------

def _segments(rng: np.random.Generator, rows: int, total: int, parts: int) -> np.ndarray:
    """``[rows, parts]`` segment sizes, each at least 1, summing to ``total`` (``total >= parts``)."""
    if parts == 1:
        return np.full((rows, 1), total)
    cuts = np.sort(np.argsort(rng.random((rows, total - 1)), axis=1)[:, :parts - 1] + 1, axis=1)
    bounds = np.concatenate([np.zeros((rows, 1), dtype=int), cuts, np.full((rows, 1), total)], axis=1)
    return np.diff(bounds, axis=1)


def _right_padded_run(rng: np.random.Generator, positions: np.ndarray, start: np.ndarray,
                      size: np.ndarray) -> np.ndarray:
    """True at the padded tail of a segment ``[start, start + size)`` whose real part is a drawn prefix."""
    real = (rng.random(size.shape) * (size + 1)).astype(int)
    return (positions >= (start + real)[:, None]) & (positions < (start + size)[:, None])


def _att_rows(rng: np.random.Generator, layout: str, rows: int, L: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The att rows of ``layout`` and, for model layouts, their own padding (right-padded language, ...)."""
    positions = np.arange(L)[None, :]
    if layout in ("any", "blocks"):
        density = ATT_DENSITIES[rng.integers(0, len(ATT_DENSITIES), rows)]
        return rng.random((rows, L)) < density[:, None], None
    if layout == "causal":
        return np.ones((rows, L), dtype=bool), None
    if layout == "bidirectional":
        return np.zeros((rows, L), dtype=bool), None
    if layout == "prefix_lm":
        prefix = rng.integers(0, L + 1, rows)
        return positions >= prefix[:, None], None
    return _model_rows(rng, layout, rows, L, positions)


def _model_rows(rng: np.random.Generator, layout: str, rows: int, L: int,
                positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SPEC §8's model layouts, as ``_internal`` draws them one row at a time."""
    if layout in ("pi0", "pi05", "fast"):
        sizes = _segments(rng, rows, L - 1 if layout == "pi0" else L, 3)
        images, language = sizes[:, 0], sizes[:, 1]
        start = images + language  # the first suffix token
        padded = _right_padded_run(rng, positions, images, language)
        if layout == "pi0":  # state 1, then actions 1 0 0 ...
            att = (positions == start[:, None]) | (positions == start[:, None] + 1)
        elif layout == "pi05":  # actions 1 0 0 ...
            att = positions == start[:, None]
        else:  # FAST action tokens, causal and right-padded
            att = positions >= start[:, None]
            padded |= _right_padded_run(rng, positions, start, sizes[:, 2])
        return att, ~padded
    if layout == "pi05_subtask":  # [images 0][language 0][subtask 1 ..., right-padded][actions 1 0 0 ...]
        sizes = _segments(rng, rows, L, 4)
        images, language, subtask = sizes[:, 0], sizes[:, 1], sizes[:, 2]
        start = images + language
        att = (positions >= start[:, None]) & (positions <= (start + subtask)[:, None])
        padded = _right_padded_run(rng, positions, images, language) | \
            _right_padded_run(rng, positions, start, subtask)
        return att, ~padded
    # smolvla: prefix [images 0][language 0][state 1], right-padded as a whole; then actions all 1
    sizes = _segments(rng, rows, L - 1, 4)
    images, language, prefix_padding = sizes[:, 0], sizes[:, 1], sizes[:, 2] - 1
    state = images + language
    att = (positions == state[:, None]) | (positions > (state + prefix_padding)[:, None])
    padded = _right_padded_run(rng, positions, images, language) | \
        ((positions > state[:, None]) & (positions <= (state + prefix_padding)[:, None]))
    return att, ~padded


# --- padding ----------------------------------------------------------------------------------------------

# The families of padding="any", in the order of ``_internal._pad_row``, plus a run of padding in the middle of a
# row (packed sequences, a padded language segment inside a longer prefix). Weights favour the common ones.
PAD_FAMILY_WEIGHTS = np.array([0.2, 0.25, 0.15, 0.1, 0.05, 0.05, 0.2])
PAD_FAMILY_CUMULATIVE = np.cumsum(PAD_FAMILY_WEIGHTS)[:-1]  # a uniform draw's rank among them picks a family
SCATTERED, MIDDLE_RUN = 3, 6


def _pad_rows(rng: np.random.Generator, padding: str, rows: int, L: int) -> np.ndarray:
    positions = np.arange(L, dtype=np.int32)[None, :]
    if padding == "none":
        return np.ones((rows, L), dtype=bool)
    uniform = rng.random((5, rows))  # one draw for every per-row choice: the rows of 16,384 cost little
    real = (uniform[0] * (L + 1)).astype(np.int32)
    if padding == "right":
        return positions < real[:, None]
    if padding == "left":
        return positions >= L - real[:, None]
    family = np.searchsorted(PAD_FAMILY_CUMULATIVE, uniform[1], side="right")
    lone = (uniform[2] * L).astype(np.int32)
    run_start = (uniform[3] * L).astype(np.int32)
    run_end = run_start + 1 + (uniform[4] * (L - run_start)).astype(np.int32)
    # Every family but the scattered one is a run [low, high) of real tokens, or of padding (the middle run), in
    # PAD_FAMILY_WEIGHTS' order: all real [0, L), right [0, real), left [L - real, L), all padding [0, 0), a lone
    # token [lone, lone + 1), the middle run [run_start, run_end); then one pass over the cells.
    low = np.where(family == 2, L - real, np.where(family == 5, lone, np.where(family == MIDDLE_RUN, run_start, 0)))
    high = np.where(family == 1, real, np.where(family == 4, 0, np.where(family == 5, lone + 1,
                                                                          np.where(family == MIDDLE_RUN, run_end, L))))
    pad = (positions >= low[:, None]) & (positions < high[:, None])
    pad ^= (family == MIDDLE_RUN)[:, None]
    scattered = np.flatnonzero(family == SCATTERED)
    pad[scattered] = rng.random((len(scattered), L)) < 0.5
    return pad


class RowSampler:
    """What a batched search draws from: lengths and rows of one att family and padding family."""

    def __init__(self, layout: str = "any", padding: str = "any") -> None:
        self.layout = _choice(layout, LAYOUTS, "layout")
        self.padding = _choice(padding, PADDINGS, "padding")

    def length(self, rng: np.random.Generator, coarse: bool = False) -> int:
        return draw_length(rng, self.layout, coarse)

    def draw(self, rng: np.random.Generator, rows: int, length: int) -> MaskExample:
        return draw_rows(rng, self.layout, self.padding, rows=rows, length=length)


# (L, B) of the realistic long batches: across the block-count boundaries and tile sizes up to 4,096 tokens, B
# as a real batch of that length would have it (at most 64 Mi cells in all).
LONG_BATCH_SHAPES = ((130, 16), (257, 16), (530, 8), (1030, 4), (2049, 2), (4096, 1))


def long_batches(layout: str = "any", padding: str = "any", seed: int = 15) -> list[MaskExample]:
    """Long batches that look like real ones (deterministic: ``seed``), each row drawn on its own by ``draw_rows``.

    For the generic layouts with ``padding="any"`` the first row is a real-model shape: a bidirectional prefix
    with right-padded language inside it (a padding run in the middle of a block), then causal tokens.
    """
    _choice(layout, LAYOUTS, "layout")
    _choice(padding, PADDINGS, "padding")
    rng = np.random.default_rng(seed)
    batches = []
    for L, B in LONG_BATCH_SHAPES:
        pad, att = draw_rows(rng, layout, padding, rows=B, length=L)
        if layout in ("any", "blocks", "prefix_lm") and padding == "any":
            prefix = L // 2
            att[0] = np.arange(L) >= prefix
            pad[0] = (np.arange(L) < prefix // 2) | (np.arange(L) >= prefix)
        batches.append(MaskExample(pad, att))
    return batches
