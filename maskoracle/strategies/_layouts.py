"""Random instances of grouped layouts (``maskoracle.layouts``): segment lengths and padding drawn per batch."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ..oracle.groups import Layout, LayoutInstance

LAYOUT_PADDINGS = ("any", "none")
LAYOUT_SIZES = ("default", "small", "realistic")
SMALL_SEGMENT_MAX = 3  # per segment in the small regime: five segments stay within about 15 tokens
MEDIUM_SEGMENT_MAX = 40
REALISTIC_ROLL = 92  # of a 0..99 roll that shrinks towards 0 (small): at or above, the realistic sizes
MEDIUM_ROLL = 78


class LayoutExample(NamedTuple):
    """A batch of one layout: ``pad_masks`` bool ``[B, L]``, ``segment_ids`` int ``[B, L]``, and ``att_masks``
    bool ``[B, L]`` where the layout compiles to ``(pad, att)`` (``None`` otherwise). Rows share segment
    lengths (so they have one ``L``) and draw their own padding."""

    pad_masks: np.ndarray
    segment_ids: np.ndarray
    att_masks: np.ndarray | None
    lengths: tuple[int, ...]

    @property
    def shape(self) -> tuple[int, int]:
        B, L = self.pad_masks.shape
        return int(B), int(L)


def validate_layout_arguments(layout: object, padding: str, sizes: str) -> Layout:
    if not isinstance(layout, Layout):
        raise InvalidArgument(f"layout must be a maskoracle Layout, got {type(layout).__name__}; build one with "
                              "Layout(name, [Segment(...), ...]) or take one from maskoracle.layouts")
    if padding not in LAYOUT_PADDINGS:
        raise InvalidArgument(f"padding={padding!r}: for a grouped layout use 'any' (each segment's own padding) "
                              "or 'none' (every token real)")
    if sizes not in LAYOUT_SIZES:
        raise InvalidArgument(f"sizes={sizes!r} is not one of {', '.join(map(repr, LAYOUT_SIZES))}")
    return layout


def _real_count(draw: Callable, padding: str, size: int, own: str) -> int:
    if padding == "none":
        return size
    if own == "all":
        return 0
    if own == "none":
        return size
    # right or left padded: draw how many are real, all of them first (that is what shrinking prefers)
    return size - draw(st.integers(0, size))


@st.composite
def layout_examples_impl(draw: Callable, layout: Layout, padding: str, batch_size: int | None,
                         sizes: str) -> LayoutExample:
    roll = 0 if sizes == "small" else 99 if sizes == "realistic" else draw(st.integers(0, 99))
    lengths = []
    for segment in layout.segments:
        # Both sizes are drawn whatever the regime, so that when shrinking lowers the roll the draws stay
        # aligned and a realistic or medium failure shrinks into the small regime.
        small = draw(st.integers(segment.min_length, max(segment.min_length, min(segment.longest,
                                                                                 SMALL_SEGMENT_MAX))))
        medium = draw(st.integers(small, max(small, min(segment.longest, MEDIUM_SEGMENT_MAX))))
        if roll >= REALISTIC_ROLL:
            lengths.append(segment.length)
        else:
            lengths.append(medium if roll >= MEDIUM_ROLL else small)
    if sum(lengths) == 0:
        # Every segment may be empty: give the first one that can hold a token one token.
        for position, segment in enumerate(layout.segments):
            if segment.longest > 0:
                lengths[position] = 1
                break
    B = batch_size if batch_size is not None else (1 if roll >= REALISTIC_ROLL else draw(st.integers(1, 3)))
    instances = []
    for _ in range(B):
        real = [_real_count(draw, padding, size, segment.padding)
                for segment, size in zip(layout.segments, lengths, strict=True)]
        instances.append(layout.instance(lengths, real))
    return stack_instances(instances)


def stack_instances(instances: list[LayoutInstance]) -> LayoutExample:
    """Rows of one layout with the same ``L`` as a batch (``lengths`` is the first row's)."""
    first = instances[0]
    B, L = len(instances), first.length
    pad = np.array([instance.pad for instance in instances], dtype=bool).reshape(B, L)
    segment_ids = np.array([instance.segment_ids for instance in instances], dtype=np.int64).reshape(B, L)
    att = None
    if first.att is not None:
        att = np.array([instance.att for instance in instances], dtype=bool).reshape(B, L)
    return LayoutExample(pad, segment_ids, att, first.lengths)


def small_layout_instances(layout: Layout, padding: str = "any", longest: int = 2,
                           limit: int = 4096) -> Iterator[LayoutExample]:
    """Every instance with each segment at most ``longest`` tokens and every real count its padding allows,
    batched by length (smallest first); at most ``limit`` instances."""
    ranges = [range(segment.min_length, max(segment.min_length, min(segment.longest, longest)) + 1)
              for segment in layout.segments]
    by_length: dict[int, list[LayoutInstance]] = {}
    count = 0
    for lengths in itertools.product(*ranges):
        if sum(lengths) == 0:
            continue
        real_ranges = []
        for segment, size in zip(layout.segments, lengths, strict=True):
            if padding == "none" or segment.padding == "none":
                real_ranges.append(range(size, size + 1))
            elif segment.padding == "all":
                real_ranges.append(range(0, 1))
            else:
                real_ranges.append(range(size, -1, -1))
        for real in itertools.product(*real_ranges):
            instance = layout.instance(lengths, real)
            by_length.setdefault(instance.length, []).append(instance)
            count += 1
            if count >= limit:
                break
        if count >= limit:
            break
    for L in sorted(by_length):
        groups: dict[tuple[int, ...], list[LayoutInstance]] = {}
        for instance in by_length[L]:
            groups.setdefault(instance.lengths, []).append(instance)
        # One batch per length: rows with different segment lengths still share L, so stack them row by row.
        rows = [instance for group in groups.values() for instance in group]
        yield stack_instances(rows)
