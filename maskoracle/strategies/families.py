"""The att and padding families as predicates, and every input of a length that fits them.

``mask_examples`` draws from a family; these functions say whether a given row belongs to one (so that fixed
inputs, such as SPEC's worked examples, are only handed to an implementation whose ``--layout``/``--padding``
they fit) and enumerate every ``(pad, att)`` pair of a length (the exhaustive check, and ``diff``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._internal import MaskExample

# Families with no fixed model pattern: every row of a length can be enumerated and tested for membership.
GENERIC_LAYOUTS = frozenset({"any", "blocks", "causal", "bidirectional", "prefix_lm"})


def fits_layout(att: Sequence[bool], layout: str) -> bool:
    """Whether an att row belongs to the att family ``layout`` (model layouts: never; they are drawn only)."""
    if layout in ("any", "blocks"):
        return True
    if layout == "causal":
        return all(att)
    if layout == "bidirectional":
        return not any(att)
    if layout == "prefix_lm":
        return list(att) == sorted(att)
    return False


def fits_padding(pad: Sequence[bool], padding: str) -> bool:
    """Whether a pad row belongs to the padding family ``padding``."""
    if padding == "any":
        return True
    if padding == "none":
        return all(pad)
    if padding == "right":
        return list(pad) == sorted(pad, reverse=True)
    return list(pad) == sorted(pad)  # left


def fits(example: MaskExample, layout: str, padding: str) -> bool:
    """Whether every row of a batch fits both families (``fits_layout`` and ``fits_padding`` of each row)."""
    att, pad = np.asarray(example.att_masks, dtype=bool), np.asarray(example.pad_masks, dtype=bool)
    return bool(_rows_fit_layout(att, layout).all() and _rows_fit_padding(pad, padding).all())


def bit_rows(text: str) -> np.ndarray:
    """``"110,011"`` -> bool ``[2, 3]``: fixed inputs written as bit strings, batch rows separated by commas."""
    return np.array([[character == "1" for character in row] for row in text.split(",")], dtype=bool)


def every_input(length: int, layout: str = "any", padding: str = "any") -> MaskExample:
    """Every ``(pad, att)`` pair of ``length`` that fits the families, as one batch (pad-major order, each part
    in ``itertools.product((False, True), repeat=length)`` order). Vectorised: the 87,380 inputs up to L = 8
    take milliseconds, not the tenth of a second a loop over ``fits_layout`` takes."""
    rows = (np.arange(1 << length)[:, None] >> np.arange(length - 1, -1, -1)) & 1 == 1
    pads = rows[_rows_fit_padding(rows, padding)]
    atts = rows[_rows_fit_layout(rows, layout)]
    return MaskExample(np.repeat(pads, len(atts), axis=0), np.tile(atts, (len(pads), 1)))


def _never_rises(rows: np.ndarray) -> np.ndarray:
    return ~(~rows[:, :-1] & rows[:, 1:]).any(axis=1)  # no 0 followed by a 1


def _never_falls(rows: np.ndarray) -> np.ndarray:
    return ~(rows[:, :-1] & ~rows[:, 1:]).any(axis=1)  # no 1 followed by a 0


def _rows_fit_layout(rows: np.ndarray, layout: str) -> np.ndarray:
    """``fits_layout`` of every row of a bool ``[N, L]`` array at once."""
    if layout in ("any", "blocks"):
        return np.ones(len(rows), dtype=bool)
    if layout == "causal":
        return np.asarray(rows.all(axis=1))
    if layout == "bidirectional":
        return np.asarray(~rows.any(axis=1))
    if layout == "prefix_lm":
        return _never_falls(rows)
    return np.zeros(len(rows), dtype=bool)


def _rows_fit_padding(rows: np.ndarray, padding: str) -> np.ndarray:
    """``fits_padding`` of every row of a bool ``[N, L]`` array at once."""
    if padding == "any":
        return np.ones(len(rows), dtype=bool)
    if padding == "none":
        return np.asarray(rows.all(axis=1))
    return _never_rises(rows) if padding == "right" else _never_falls(rows)


def fitting_pad(row: Sequence[bool], padding: str) -> list[bool]:
    """A pad row of ``padding`` with as many real tokens as ``row`` (``none``: all real; ``any``: ``row``)."""
    real = sum(bool(x) for x in row)
    if padding == "none":
        return [True] * len(row)
    if padding == "right":
        return [True] * real + [False] * (len(row) - real)
    if padding == "left":
        return [False] * (len(row) - real) + [True] * real
    return [bool(x) for x in row]


def fitting_att(row: Sequence[bool], layout: str) -> list[bool]:
    """An att row of ``layout`` close to ``row`` (causal: all 1; bidirectional: all 0; prefix_lm: sorted);
    ``row`` itself for ``any``, ``blocks`` and the model layouts (whose fixed inputs are written in their own
    pattern)."""
    bits = [bool(x) for x in row]
    if layout == "causal":
        return [True] * len(bits)
    if layout == "bidirectional":
        return [False] * len(bits)
    if layout == "prefix_lm":
        return sorted(bits)
    return bits


def fitting_example(pad: np.ndarray, att: np.ndarray, layout: str, padding: str) -> MaskExample:
    """``(pad, att)`` moved into the families, row by row (``fitting_pad``, ``fitting_att``)."""
    B, L = pad.shape
    return MaskExample(np.array([fitting_pad(row, padding) for row in pad], dtype=bool).reshape(B, L),
                       np.array([fitting_att(row, layout) for row in att], dtype=bool).reshape(B, L))
