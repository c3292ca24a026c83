"""An independent, vectorised formulation of the specs, for inputs too large for the loops in ``specs.py``.

It shares no code with ``specs.py``: it is a second derivation of SPEC §2-§4 in NumPy broadcasting. The
project's tests prove the two equal on every ``(pad, att)`` pair up to length 6 and on random larger inputs,
so the checker may use it for long sequences where the loops would take seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def fast_reference_mask(
    pad: np.ndarray, att: np.ndarray, spec: Any = "block_causal", pad_queries: str = "masked"
) -> np.ndarray:
    """``reference_mask`` for bool ``[B, L]`` numpy arrays, by broadcasting. Block ids are cumsums in int16 while
    L < 32,767 (exact: an id is at most L; the comparison then runs twice as fast as in int32), else int32."""
    if not isinstance(spec, str):  # a grouped Layout: att holds segment ids
        return fast_group_rule_mask(pad, att, spec, pad_queries)
    if pad_queries not in ("masked", "free"):
        raise ValueError(f"unknown pad-query policy {pad_queries!r}")
    pad = np.asarray(pad, dtype=bool)
    att = np.asarray(att, dtype=bool)
    if spec == "block_causal":
        ids = np.int16 if att.shape[1] < np.iinfo(np.int16).max else np.int32
        block = np.cumsum(att, axis=1, dtype=ids)
        # Padding folded into the ids, so that one broadcast comparison gives the mask: a padded key gets an id
        # above every query's, and (queries masked) a padded query an id below every key's.
        key = np.where(pad, block, np.iinfo(ids).max)
        query = np.where(pad, block, -1) if pad_queries == "masked" else block
        return key[:, None, :] <= query[:, :, None]
    if spec == "rowwise":
        L = pad.shape[1]
        mask = (~att)[:, :, None] | np.tri(L, dtype=bool)[None]
    else:
        raise ValueError(f"unknown spec {spec!r}")
    mask &= pad[:, None, :]  # padded keys are attended by nobody
    if pad_queries == "masked":
        mask &= pad[:, :, None]  # padded queries attend nothing
    return mask


def fast_group_rule_mask(pad: np.ndarray, segment_ids: np.ndarray, layout: Any,
                         pad_queries: str = "masked") -> np.ndarray:
    """``group_rule_mask`` (``groups.py``) by broadcasting: a segment-by-segment table of who sees whom,
    indexed by the tokens' segment ids, and the within-segment rule where query and key share a segment."""
    if pad_queries not in ("masked", "free"):
        raise ValueError(f"unknown pad-query policy {pad_queries!r}")
    pad = np.asarray(pad, dtype=bool)
    segment_ids = np.asarray(segment_ids, dtype=np.int64)
    count = len(layout.segments)
    sees = np.array([[layout.sees(q, k) for k in range(count)] for q in range(count)], dtype=bool).reshape(count,
                                                                                                           count)
    causal = np.array([segment.rule == "causal" for segment in layout.segments], dtype=bool)
    L = pad.shape[1]
    across = sees[segment_ids[:, :, None], segment_ids[:, None, :]]
    within = ~causal[segment_ids][:, :, None] | np.tri(L, dtype=bool)[None]
    same = segment_ids[:, :, None] == segment_ids[:, None, :]
    mask = np.where(same, within, across)
    mask &= pad[:, None, :]
    if pad_queries == "masked":
        mask &= pad[:, :, None]
    return mask
