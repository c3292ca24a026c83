"""KV-cache (rectangular) masks and incremental decoding, as loops in SPEC §5's words.

At inference the prefix runs once into a cache; the suffix queries then attend to ``prefix ++ suffix`` keys:

    out[b, i, j] = prefix_pad[b, j]                                  for j <  P
    out[b, i, j] = block_causal(suffix_pad, suffix_att)[b, i, j - P]   for j >= P
    shape [B, S, P + S]

Padded suffix query rows follow the formula as written (prefix keys as ``prefix_pad``, suffix keys none), as
openpi and LeRobot build them; with the pad-query policy ``free`` they are not compared (SPEC §4).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .specs import as_rows, block_causal, block_ids, validate_pad_queries


def kv_cache_mask(prefix_pad: Any, suffix_pad: Any, suffix_att: Any, pad_queries: str = "masked") -> np.ndarray:
    """SPEC §5: the mask of ``S`` suffix queries over ``P`` cached prefix keys and the ``S`` suffix keys.

    >>> kv_cache_mask([[1, 1, 0]], [[1, 1]], [[1, 0]]).astype(int).tolist()
    [[[1, 1, 0, 1, 1], [1, 1, 0, 1, 1]]]
    """
    validate_pad_queries(pad_queries)
    prefix = as_rows(prefix_pad, "prefix_pad")
    suffix = as_rows(suffix_pad, "suffix_pad")
    suffix_blocks_att = as_rows(suffix_att, "suffix_att")
    if len(prefix) != len(suffix):
        raise ValueError(f"prefix_pad has {len(prefix)} batch rows, suffix_pad {len(suffix)}; they must match")
    suffix_mask = block_causal(suffix, suffix_blocks_att, pad_queries)
    B, S = len(suffix), len(suffix[0]) if suffix else 0
    P = len(prefix[0]) if prefix else 0
    out = np.zeros((B, S, P + S), dtype=bool)
    for b in range(B):
        for query in range(S):
            for key in range(P):
                # Every suffix query sees every real cached prefix token (the prefix is one earlier span).
                out[b, query, key] = prefix[b][key]
            for key in range(S):
                out[b, query, P + key] = suffix_mask[b, query, key]
    return out


def incremental_row(pad: Any, att: Any) -> np.ndarray:
    """SPEC §5, incremental decoding: the query row ``[B, L]`` of the last token of ``(pad, att)``.

    It is the last row of the full ``block_causal`` mask recomputed from scratch: the new token (att 1, a
    block of its own) sees every real token so far and itself.

    >>> incremental_row([[1, 0, 1, 1]], [[0, 0, 1, 1]]).astype(int).tolist()
    [[1, 0, 1, 1]]
    """
    pad_rows = as_rows(pad, "pad")
    att_rows = as_rows(att, "att")
    blocks = block_ids(att_rows)
    B, L = len(pad_rows), len(pad_rows[0]) if pad_rows else 0
    row = np.zeros((B, L), dtype=bool)
    for b in range(B):
        query = L - 1
        for key in range(L):
            row[b, key] = pad_rows[b][query] and pad_rows[b][key] and blocks[b][key] <= blocks[b][query]
    return row
