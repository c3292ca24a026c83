"""An independent, vectorised formulation of the specs, for inputs too large for the loops in ``specs.py``.

It shares no code with ``specs.py``: it is a second derivation of SPEC §2-§4 in NumPy broadcasting. The
project's tests prove the two equal on every ``(pad, att)`` pair up to length 6 and on random larger inputs,
so the checker may use it for long sequences where the loops would take seconds.
"""

from __future__ import annotations

import numpy as np


def fast_reference_mask(
    pad: np.ndarray, att: np.ndarray, spec: str = "block_causal", pad_queries: str = "masked"
) -> np.ndarray:
    """``reference_mask`` for bool ``[B, L]`` numpy arrays, by broadcasting. Block ids are int32 cumsums."""
    if pad_queries not in ("masked", "free"):
        raise ValueError(f"unknown pad-query policy {pad_queries!r}")
    pad = np.asarray(pad, dtype=bool)
    att = np.asarray(att, dtype=bool)
    if spec == "block_causal":
        block = np.cumsum(att, axis=1, dtype=np.int32)  # exact up to 2**31 blocks
        mask = block[:, None, :] <= block[:, :, None]
    elif spec == "rowwise":
        L = pad.shape[1]
        mask = (~att)[:, :, None] | np.tri(L, dtype=bool)[None]
    else:
        raise ValueError(f"unknown spec {spec!r}")
    mask &= pad[:, None, :]  # padded keys are attended by nobody
    if pad_queries == "masked":
        mask &= pad[:, :, None]  # padded queries attend nothing
    return mask
