"""``block_causal`` in NumPy (SPEC §2), writing the output once."""

from __future__ import annotations

import numpy as np


def block_causal(pad_masks: np.ndarray, att_masks: np.ndarray) -> np.ndarray:
    """``[B, L]`` pad and att masks (any dtype holding 0/1) -> bool ``[B, L, L]`` mask.

    Block ids are int64 cumsums, never the input dtype (bfloat16 or float16 cumsums drift past 256 or 2048
    blocks). Padding is folded into the ids so one broadcast comparison writes the whole mask: a padded key
    gets an id larger than any query's, a padded query one smaller than any key's.

    >>> block_causal(np.array([[1, 0, 1]], bool), np.array([[0, 1, 0]], bool)).astype(int).tolist()
    [[[1, 0, 0], [0, 0, 0], [1, 0, 1]]]
    """
    pad = np.asarray(pad_masks).astype(bool, copy=False)
    blocks = np.cumsum(np.asarray(att_masks) != 0, axis=-1, dtype=np.int64)
    key_blocks = np.where(pad, blocks, np.iinfo(np.int64).max)
    query_blocks = np.where(pad, blocks, -1)
    return key_blocks[..., None, :] <= query_blocks[..., :, None]
