"""``block_causal`` in NumPy (SPEC §2), writing the output once at memory-copy speed (see ``_rows``; rows are
written by a small C writer compiled on first use where a C compiler exists, see ``_native``)."""

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


def block_causal_baseline(pad_masks: np.ndarray, att_masks: np.ndarray) -> np.ndarray:
    """The straightforward formulation: cumsum, two ``[B, L, L]`` broadcasts and an ``and`` (a reference point
    for speed; ``maskoracle bench --builtins`` times ``block_causal`` against it).

    >>> block_causal_baseline(np.array([[1, 0, 1]], bool), np.array([[0, 1, 0]], bool)).astype(int).tolist()
    [[[1, 0, 0], [0, 0, 0], [1, 0, 1]]]
    """
    blocks = np.cumsum(np.asarray(att_masks) != 0, axis=1)
    pad = np.asarray(pad_masks) != 0
    return (blocks[:, None, :] <= blocks[:, :, None]) & (pad[:, None, :] & pad[:, :, None])


def kv_cache(prefix_pad: np.ndarray, suffix_pad: np.ndarray, suffix_att: np.ndarray) -> np.ndarray:
    """SPEC §5: ``[B, P]`` cached prefix padding, ``[B, S]`` suffix pad and att -> bool ``[B, S, P+S]``.

    Every suffix query sees the real prefix tokens; among themselves the suffix tokens follow ``block_causal``.

    >>> kv_cache(np.array([[1, 0]], bool), np.array([[1, 1]], bool), np.array([[1, 0]], bool)).astype(int).tolist()
    [[[1, 0, 1, 1], [1, 0, 1, 1]]]
    """
    prefix = np.asarray(prefix_pad).astype(bool, copy=False)
    suffix_mask = block_causal(suffix_pad, suffix_att)
    B, S = suffix_mask.shape[:2]
    return np.concatenate([np.broadcast_to(prefix[:, None, :], (B, S, prefix.shape[-1])), suffix_mask], axis=-1)


def incremental(pad_masks: np.ndarray, att_masks: np.ndarray) -> np.ndarray:
    """SPEC §5, one decoding step: the sequence so far ``[B, T]`` -> the last token's row ``[B, 1, T]``.

    Block ids never decrease, so the last token's block is the latest: it sees every real token, if real.
    """
    del att_masks  # the last row of block_causal does not depend on att (block ids never decrease)
    pad = np.asarray(pad_masks).astype(bool, copy=False)
    return (pad & pad[:, -1:])[:, None, :]
