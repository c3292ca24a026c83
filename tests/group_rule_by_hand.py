"""The group rule of a grouped layout, written by hand for the tests: an implementation to check that is not the
oracle itself (a check of the oracle against itself passes whatever the oracle does).

``maskoracle.oracle.groups`` evaluates the rule with loops over cells; this is one broadcast over segment pairs,
straight from the rule in that module's docstring:

    mask[b, i, j] = pad[b, i] and pad[b, j] and (
        S(j) in sees(S(i))                              if S(i) != S(j)
        S(i).rule == "bidirectional" or j <= i           if S(i) == S(j)
    )

``group_rule_by_hand`` reads nothing from ``maskoracle`` but the layout's plain attributes (segment names,
rules, ``sees``), so its source can be written into a file for a subprocess (``inspect.getsource``).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def group_rule_by_hand(pad_masks: Any, segment_ids: Any, layout: Any) -> np.ndarray:
    """Bool ``[B, L, L]``: the layout's group rule for ``pad_masks`` and ``segment_ids`` (both ``[B, L]``)."""
    import numpy as np  # (again here, so that the function's source stands alone in a written file)

    names = [segment.name for segment in layout.segments]
    count = len(names)
    sees = np.zeros((count, count), dtype=bool)  # sees[q, k]: a query of segment q sees keys of segment k
    for q, segment in enumerate(layout.segments):
        seen = names[:q] if segment.sees == "earlier" else list(segment.sees)
        for name in seen:
            sees[q, names.index(name)] = True
    causal = np.array([segment.rule == "causal" for segment in layout.segments])
    pad = np.asarray(pad_masks, dtype=bool)
    segments = np.asarray(segment_ids, dtype=np.int64)
    L = pad.shape[1]
    query, key = segments[:, :, None], segments[:, None, :]
    inside = ~causal[query] | np.tri(L, dtype=bool)[None]  # bidirectional, or the key is not after the query
    allowed = np.where(query == key, inside, sees[query, key])
    return allowed & pad[:, :, None] & pad[:, None, :]
