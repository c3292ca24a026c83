"""The user's explanation of ``make_att_2d_masks`` (SPEC §3, ``seeds/``), implemented exactly as written.

It is wrong: it is kept so that the suite can show where, and so that ``maskoracle demo`` has something to
catch. Its per-row rule lets a bidirectional token see later causal tokens, which opens a two-layer leak.
"""

from __future__ import annotations

import numpy as np


def explanation_rule(pad_masks: np.ndarray, att_masks: np.ndarray) -> np.ndarray:
    """The explanation's pseudo-code, cell by cell, padded query rows included (they come out full)."""
    pad = np.asarray(pad_masks, dtype=bool)
    causal = np.asarray(att_masks) != 0
    L = pad.shape[-1]
    key_is_real = pad[:, None, :]  # "if not pad[j]: cannot attend to padding"
    key_not_after_query = np.tri(L, dtype=bool)[None]  # "causal token: can see only past + itself"
    # "bidirectional token: can see all real tokens" -- the query's own padding is never looked at.
    return key_is_real & (~causal[:, :, None] | key_not_after_query)
