"""``block_causal`` in NumPy (SPEC §2), writing the output once at memory-copy speed (see ``_rows``)."""

from __future__ import annotations

import numpy as np

from ._rows import write_block_causal


def block_causal(pad_masks: np.ndarray, att_masks: np.ndarray) -> np.ndarray:
    """``[B, L]`` pad and att masks (any dtype holding 0/1) -> bool ``[B, L, L]`` mask.

    Block ids never use the input dtype (bfloat16 or float16 cumsums drift past 256 or 2048 blocks): att is
    read as ``att != 0``, and each query's row is found from where its block ends. Rows are written by
    segment (a block's identical rows, a causal staircase) with broadcast copies, each byte once.

    >>> block_causal(np.array([[1, 0, 1]], bool), np.array([[0, 1, 0]], bool)).astype(int).tolist()
    [[[1, 0, 0], [0, 0, 0], [1, 0, 1]]]
    """
    pad = np.asarray(pad_masks) != 0
    att = np.asarray(att_masks) != 0
    B, L = pad.shape
    return write_block_causal(pad, att, np.empty((B, L, L), dtype=bool), True, False)
