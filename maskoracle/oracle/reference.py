"""``reference_mask``: the oracle's one entry point, for a spec name (SPEC §2-§3) or a grouped layout's rule."""

from __future__ import annotations

from typing import Any

import numpy as np

from .groups import Layout, group_rule_mask
from .specs import SPEC_FUNCTIONS, as_rows, validate_pad_queries, validate_spec


def reference_mask(pad: Any, att: Any, spec: Any = "block_causal", pad_queries: str = "masked") -> np.ndarray:
    """The mask that ``spec`` defines for ``(pad, att)``, as a numpy bool array ``[B, L, L]``.

    ``pad`` and ``att`` are nested lists or numpy arrays of 0/1 or bools, ``[B, L]`` or ``[L]``.

    >>> reference_mask([[1, 0, 1]], [[0, 1, 0]]).astype(int).tolist()
    [[[1, 0, 0], [0, 0, 0], [1, 0, 1]]]

    ``pad_queries="free"`` drops the padded-query term (SPEC §4), so padded rows show what a keys-only mask
    computes; with ``spec="rowwise"`` that is the user's explanation's pseudo-code, row for row.

    ``spec`` may also be a grouped ``Layout`` (``maskoracle.layouts``): then ``att`` holds each token's segment
    index and the layout's group rule is evaluated (``groups.group_rule_mask``).
    """
    if isinstance(spec, Layout):  # a group-rule spec: ``att`` holds segment ids (groups.py)
        validate_pad_queries(pad_queries)
        return group_rule_mask(pad, att, spec, pad_queries)
    validate_spec(spec)
    validate_pad_queries(pad_queries)
    pad_rows = as_rows(pad, "pad")
    att_rows = as_rows(att, "att")
    return SPEC_FUNCTIONS[spec](pad_rows, att_rows, pad_queries)
