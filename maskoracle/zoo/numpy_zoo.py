"""NumPy mask implementations with known verdicts (see ``maskoracle.zoo``)."""

from __future__ import annotations

import numpy as np

from .entry import ZooEntry


def _from_blocks(blocks: np.ndarray, pad_masks: np.ndarray) -> np.ndarray:
    pad = np.asarray(pad_masks, dtype=bool)
    return (blocks[:, None, :] <= blocks[:, :, None]) & pad[:, None, :] & pad[:, :, None]


# --- bugs ------------------------------------------------------------------------------------------------

def cumsum_over_batch(pad_masks: np.ndarray, att_masks: np.ndarray) -> np.ndarray:
    """``np.cumsum(att, axis=0)``: block ids summed down the batch instead of along the sequence."""
    return _from_blocks(np.cumsum(np.asarray(att_masks, dtype=np.int64), axis=0), pad_masks)


def cumsum_in_att_dtype(pad_masks: np.ndarray, att_masks: np.ndarray) -> np.ndarray:
    """``np.cumsum(att, dtype=att.dtype)``: for bool att the ids saturate at True, so only two blocks exist."""
    att = np.asarray(att_masks)
    return _from_blocks(np.cumsum(att, axis=1, dtype=att.dtype), pad_masks)


def multiplicative_float_mask(pad_masks: np.ndarray, att_masks: np.ndarray) -> np.ndarray:
    """The mask as float 1.0 / 0.0 (a multiplicative mask): read as an additive bias, 1.0 is neither value."""
    blocks = np.cumsum(np.asarray(att_masks, dtype=np.int64), axis=1)
    return _from_blocks(blocks, pad_masks).astype(np.float32)


# --- right by another route ------------------------------------------------------------------------------

def correct_big_vision_port(pad_masks: np.ndarray, att_masks: np.ndarray) -> np.ndarray:
    """Right by another route: big_vision's ``make_attn_mask`` in NumPy, validity as a product of pad masks."""
    cumsum = np.cumsum(np.asarray(att_masks, dtype=np.int32), axis=1)
    attn_mask = cumsum[:, None, :] <= cumsum[:, :, None]
    pad = np.asarray(pad_masks, dtype=np.int32)
    valid_mask = pad[:, None, :] * pad[:, :, None]
    return np.logical_and(attn_mask, valid_mask)


def correct_loops(pad_masks: np.ndarray, att_masks: np.ndarray) -> np.ndarray:
    """Right by another route: explicit loops over block ids, as a port from pseudo-code would read."""
    pad = np.asarray(pad_masks, dtype=bool)
    att = np.asarray(att_masks) != 0
    B, L = pad.shape
    out = np.zeros((B, L, L), dtype=bool)
    for b in range(B):
        block = np.cumsum(att[b], dtype=np.int64)
        for i in range(L):
            if pad[b, i]:
                out[b, i] = pad[b] & (block <= block[i])
    return out


ENTRIES: list[ZooEntry] = [
    ZooEntry("numpy_cumsum_over_batch", cumsum_over_batch, framework="numpy"),
    ZooEntry("numpy_cumsum_in_att_dtype", cumsum_in_att_dtype, framework="numpy"),
    ZooEntry("numpy_multiplicative_float_mask", multiplicative_float_mask, framework="numpy"),
    ZooEntry("numpy_correct_loops", correct_loops, framework="numpy", equivalent=True),
    ZooEntry("numpy_correct_big_vision_port", correct_big_vision_port, framework="numpy", equivalent=True),
]
