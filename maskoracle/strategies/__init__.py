"""Hypothesis strategies for ``(pad_masks, att_masks)`` batches.

>>> from maskoracle.strategies import mask_examples
>>> strategy = mask_examples(layout="pi0", padding="any")   # draws MaskExample(pad_masks, att_masks)

Lengths come in three regimes: small (L <= 12, most examples, and where shrinking ends), medium (up to 160)
and long, whose block counts sit on the boundaries where int8, uint8, bfloat16 and float16 block ids break
(127-129, 255-258, 2047-2049 blocks; SPEC §7).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ._internal import (
    ATT_DTYPES,
    BLOCK_COUNT_BOUNDARIES,
    LAYOUTS,
    MAX_BATCH,
    MEDIUM_MAX_LENGTH,
    PADDINGS,
    SIZES,
    SMALL_MAX_LENGTH,
    MaskExample,
    _as_int_strategy,
    _choice,
    boundary_examples,
    mask_examples_impl,
    realistic_examples,
)
from ._layouts import (
    LAYOUT_PADDINGS,
    LayoutExample,
    layout_examples_impl,
    small_layout_instances,
    stack_instances,
    validate_layout_arguments,
)

__all__ = [
    "ATT_DTYPES",
    "BLOCK_COUNT_BOUNDARIES",
    "LAYOUTS",
    "LAYOUT_PADDINGS",
    "PADDINGS",
    "SIZES",
    "LayoutExample",
    "MaskExample",
    "att_dtypes",
    "boundary_examples",
    "layout_examples",
    "mask_examples",
    "realistic_examples",
    "small_layout_instances",
    "stack_instances",
]

MAX_LENGTH = 1 << 14


def mask_examples(
    *,
    layout: str = "any",
    padding: str = "any",
    batch_size: Any = None,
    length: Any = None,
    sizes: str = "default",
    medium_lengths: Any = None,
) -> st.SearchStrategy[MaskExample]:
    """Random ``MaskExample(pad_masks, att_masks)`` batches, numpy bool ``[B, L]``.

    layout: an att family of ``LAYOUTS`` (``any`` draws random bits; model layouts such as ``pi0`` draw
        random segment sizes and, with ``padding="any"``, the model's own padding, e.g. right-padded language).
    padding: ``any`` (a mix of families, all-padding rows and lone real tokens included), ``right``,
        ``left`` or ``none``. For model layouts any value but ``any`` replaces the model's own padding.
    batch_size, length: an int, a strategy of ints, or ``None`` for the defaults (B in 1..4; L by regime).
    sizes: ``default`` (about 80 % small, 12 % medium, 7 % long, as measured), ``small`` or ``long``.
    medium_lengths: ``None`` (any medium length), or the few lengths medium inputs take (for frameworks that
        compile once per shape: fewer shapes, the same small and long inputs). Each from 13 to 160.
    """
    _choice(layout, LAYOUTS, "layout")
    _choice(padding, PADDINGS, "padding")
    _choice(sizes, SIZES, "sizes")
    batch = _as_int_strategy(batch_size, "batch_size", 1, 1 << 16)
    lengths = _as_int_strategy(length, "length", 1, MAX_LENGTH)
    return mask_examples_impl(layout, padding, batch, lengths, sizes, _medium_menu(medium_lengths))


def _medium_menu(medium_lengths: Any) -> tuple[int, ...] | None:
    if medium_lengths is None:
        return None
    menu = tuple(medium_lengths) if isinstance(medium_lengths, list | tuple) else ()
    if not menu or any(isinstance(value, bool) or not isinstance(value, int)
                       or not SMALL_MAX_LENGTH < value <= MEDIUM_MAX_LENGTH for value in menu):
        raise InvalidArgument(f"medium_lengths must be a non-empty list of ints from {SMALL_MAX_LENGTH + 1} to "
                              f"{MEDIUM_MAX_LENGTH}, got {medium_lengths!r}")
    return menu


def att_dtypes() -> st.SearchStrategy[str]:
    """The names of the att dtypes implementations are fed (``bool`` first, so it is what shrinking prefers)."""
    return st.sampled_from(ATT_DTYPES)


# Re-exported for callers that size their own draws.
SMALL_MAX_LENGTH = SMALL_MAX_LENGTH
MEDIUM_MAX_LENGTH = MEDIUM_MAX_LENGTH
MAX_BATCH = MAX_BATCH


def layout_examples(layout: Any, *, padding: str = "any", batch_size: int | None = None,
                    sizes: str = "default") -> st.SearchStrategy[LayoutExample]:
    """Random instances of a grouped layout (``maskoracle.layouts.Layout``): ``LayoutExample(pad_masks,
    segment_ids, att_masks, lengths)``.

    Segment lengths are drawn from each segment's ``min_length..max_length`` (small: at most 3 tokens a
    segment, most examples; medium: up to 40; ``realistic``: the segments' own ``length``), shared by the rows
    of a batch; each row draws its own padding where its segments allow it (``padding="none"``: all real).
    ``att_masks`` is ``None`` for layouts that do not compile to ``(pad, att)``.

    >>> from maskoracle.layouts import BUILTIN_LAYOUTS
    >>> strategy = layout_examples(BUILTIN_LAYOUTS["pi05_subtask"])
    """
    chosen = validate_layout_arguments(layout, padding, sizes)
    batch = None
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgument(f"batch_size must be an int >= 1, got {batch_size!r}")
        batch = batch_size
    return layout_examples_impl(chosen, padding, batch, sizes)
