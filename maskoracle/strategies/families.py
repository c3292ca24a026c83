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
