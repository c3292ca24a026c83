"""Writing a ``block_causal`` mask (SPEC §2) once, row segment by row segment, at memory-copy speed (NumPy).

A query's row depends only on where its block ends: a real query ``i`` sees ``pad[:end[i]]`` and nothing
after (``end[i]`` = the first token of a later block), a padded query sees nothing. So the rows of one block
are identical, and a run of single-token blocks (a causal stretch) is a staircase. Each such *segment* of
rows is written by one broadcast copy from an ``L``-long row or from a staircase view of a ``2L``-long
buffer, which NumPy does at the speed of ``memcpy``: every output byte is written exactly once, and nothing
``[B, L, L]``-sized is ever read. A single broadcast comparison (the textbook formulation) writes once too,
but its per-byte compare-and-pack runs several times slower than a copy on a CPU.

When the segments are so many and so short that per-segment overhead would dominate (many tiny blocks), the
comparison is used instead.

Where a C compiler is available, ``_native`` writes the same rows without NumPy's per-call and per-row costs
(``native=False`` forces the NumPy path; the tests compare both with the oracle).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import _native

# Below this many output bytes per segment on average, one broadcast comparison is faster than copies.
MIN_BYTES_PER_SEGMENT = 16_384


def block_ends(pad: np.ndarray, att: np.ndarray) -> np.ndarray:
    """``end[b, i]``: keys ``j < end`` in blocks up to query ``i``'s; 0 for a padded query (it sees nothing)."""
    B, L = pad.shape
    # end[i] = index of the next block start after i (a token with att = 1), or L: a reverse running minimum.
    starts = np.where(att, np.arange(L), L)
    starts[:, 0] = L  # the first token never starts a *later* block (SPEC §2: its att bit never matters)
    next_start = np.minimum.accumulate(np.concatenate([starts[:, 1:], np.full((B, 1), L)], axis=1)[:, ::-1],
                                       axis=1)[:, ::-1]
    return np.where(pad, next_start, 0)


def segment_keys(ends: np.ndarray) -> np.ndarray:
    """Per row: ``end`` for a row equal to its block's other rows, ``-1`` for a row of a causal staircase.

    A staircase row is a query whose block is itself alone (its block ends right after it, and the query
    before it is in another block); consecutive such rows differ by one cell each.
    """
    L = ends.shape[-1]
    positions = np.arange(L)
    alone = ends == positions + 1  # padded queries have end 0, never i + 1
    alone[:, 1:] &= ends[:, :-1] != ends[:, 1:]
    return np.where(alone, -1, ends)


def segments(keys: np.ndarray) -> list[list[tuple[int, int, int]]]:
    """Per batch row, ``(start, stop, key)`` runs of equal keys (see ``segment_keys``)."""
    B, L = keys.shape
    starts = np.ones((B, L), dtype=bool)
    starts[:, 1:] = keys[:, 1:] != keys[:, :-1]
    rows, columns = np.nonzero(starts)  # one call for the whole batch: per-row NumPy calls cost more here
    values = keys[rows, columns].tolist()
    result: list[list[tuple[int, int, int]]] = [[] for _ in range(B)]
    for index, (row, start) in enumerate(zip(rows.tolist(), columns.tolist(), strict=True)):
        if result[row]:
            previous_start, _, previous_key = result[row][-1]
            result[row][-1] = (previous_start, start, previous_key)
        result[row].append((start, L, values[index]))
    return result


def write_block_causal(pad: np.ndarray, att: np.ndarray, out: np.ndarray, allowed: Any, masked: Any,
                       min_bytes_per_segment: int = MIN_BYTES_PER_SEGMENT, native: bool = True) -> np.ndarray:
    """Fill ``out`` (``[B, L, L]``, any dtype) with ``allowed`` where SPEC §2 allows and ``masked`` elsewhere.

    ``pad`` and ``att`` are bool ``[B, L]``. The native writer does it when available and ``native``; else
    segments are copied unless they average fewer than ``min_bytes_per_segment`` output bytes (0: always
    copy). Returns ``out``.
    """
    B, L = pad.shape
    if B == 0 or L == 0:
        return out
    if native and _native.write(pad, att, out, allowed, masked):
        return out
    keys = segment_keys(block_ends(pad, att))
    count = B + int(np.count_nonzero(keys[:, 1:] != keys[:, :-1]))
    if out.nbytes / count < min_bytes_per_segment:
        return _write_by_comparison(pad, att, out, allowed, masked)
    values = np.array([masked, allowed], dtype=out.dtype)
    # stair[L - 1 - k + c] is `allowed` iff c <= k: windows of it, read bottom-up, are staircases.
    stair = np.concatenate([np.full(L, allowed, out.dtype), np.full(L, masked, out.dtype)])
    # steps[o, c] = stair[o + c]: `allowed` iff o + c < L. Read bottom-up from row L - 1 - start, the
    # columns from `start` on form the staircase of a causal run starting at `start`.
    steps = sliding_window_view(stair, L)
    key_values = values[pad.view(np.uint8)] if pad.dtype == np.bool_ else values[pad.astype(np.uint8)]
    row = np.empty(L, dtype=out.dtype)
    for b, row_runs in enumerate(segments(keys)):
        for start, stop, end in row_runs:
            rows = out[b, start:stop]
            if end == 0:
                rows[...] = masked
            elif end > 0:
                # One full-width copy per row: splitting a row into two copies costs twice the per-row overhead.
                row[:end] = key_values[b, :end]
                row[end:] = masked
                rows[...] = row
            else:
                rows[:, :start] = key_values[b, :start]
                rows[:, start:] = steps[L - stop:L - start, start:][::-1]
    return out


def _write_by_comparison(pad: np.ndarray, att: np.ndarray, out: np.ndarray, allowed: Any, masked: Any) -> np.ndarray:
    L = pad.shape[-1]
    # int16 ids compare fastest (SIMD, 32 lanes); they fit while L + 1 < 2**15.
    id_dtype = np.int16 if L < 32_000 else np.int32
    blocks = np.cumsum(att, axis=-1, dtype=id_dtype)
    key_blocks = np.where(pad, blocks, np.iinfo(id_dtype).max)
    query_blocks = np.where(pad, blocks, -1)
    if out.dtype == np.bool_ and allowed is True:
        np.less_equal(key_blocks[:, None, :], query_blocks[:, :, None], out=out)
    else:
        allowed_cells = key_blocks[:, None, :] <= query_blocks[:, :, None]
        np.copyto(out, np.where(allowed_cells, np.asarray(allowed, out.dtype), np.asarray(masked, out.dtype)))
    return out
