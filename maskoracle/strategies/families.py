"""The att and padding families as predicates, and every input of a length that fits them.

``mask_examples`` draws from a family; these functions say whether a given row belongs to one (so that fixed
inputs, such as SPEC's worked examples, are only handed to an implementation whose ``--layout``/``--padding``
they fit) and enumerate every ``(pad, att)`` pair of a length (the exhaustive check, and ``diff``).
"""

from __future__ import annotations

import itertools
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
    """Whether every row of a batch fits both families."""
    return all(fits_layout(tuple(row), layout) for row in example.att_masks) and \
        all(fits_padding(tuple(row), padding) for row in example.pad_masks)


def bit_rows(text: str) -> np.ndarray:
    """``"110,011"`` -> bool ``[2, 3]``: fixed inputs written as bit strings, batch rows separated by commas."""
    return np.array([[character == "1" for character in row] for row in text.split(",")], dtype=bool)


def every_input(length: int, layout: str = "any", padding: str = "any") -> MaskExample:
    """Every ``(pad, att)`` pair of ``length`` that fits the families, as one batch (pad-major order)."""
    rows = [(pad, att)
            for pad in itertools.product((False, True), repeat=length) if fits_padding(pad, padding)
            for att in itertools.product((False, True), repeat=length) if fits_layout(att, layout)]
    return MaskExample(np.array([row[0] for row in rows], dtype=bool).reshape(len(rows), length),
                       np.array([row[1] for row in rows], dtype=bool).reshape(len(rows), length))


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
