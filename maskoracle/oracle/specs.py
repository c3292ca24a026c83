"""The loop-based reference: what a mask *should* be (SPEC.md sections 1-4).

Everything here is written as plain loops over batch, query and key, in SPEC.md's words, so that a reader can
convince themselves it is right by reading it once. It is slow on purpose. ``vectorized.py`` holds an
independent NumPy formulation that the project's tests prove equal to this one on every input up to length 6
and on random larger inputs; the checker uses it only where these loops would be too slow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

SPECS = ("block_causal", "rowwise")
PAD_QUERY_POLICIES = ("masked", "free")

Rows = list[list[bool]]


def as_rows(values: Any, name: str) -> Rows:
    """Turn nested lists / numpy arrays of 0/1 or bools into a list of rows of bools, validating as it goes.

    Accepts ``[L]`` (one batch entry) or ``[B, L]``. Any value other than 0/1/True/False is rejected: a
    float ``0.5`` in an att mask is a bug in the caller, not something to round.
    """
    try:
        array = np.asarray(values)
    except ValueError:  # numpy refuses ragged nesting before we can look at it
        array = np.asarray(values, dtype=object) if isinstance(values, list | tuple) else np.array(None)
    if array.dtype == object:
        raise ValueError(f"{name}: rows have different lengths or hold non-numbers; pass a [B, L] array of 0/1")
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"{name}: expected shape [B, L] (or [L]), got {list(array.shape)}")
    if array.dtype != bool:
        if not np.issubdtype(array.dtype, np.number):
            raise ValueError(f"{name}: expected 0/1 or bools, got dtype {array.dtype}")
        bad = ~np.isin(array, (0, 1))
        if bad.any():
            b, i = (int(x) for x in np.argwhere(bad)[0])
            raise ValueError(f"{name}[{b}, {i}] = {array[b, i].item()!r}: only 0/1 or True/False are allowed")
    return [[bool(x) for x in row] for row in array.tolist()]


def block_ids(att_masks: Sequence[Sequence[bool]]) -> list[list[int]]:
    """SPEC §1: ``block[b, i] = att[b, 0] + ... + att[b, i]``; padded positions count too."""
    result = []
    for att_row in att_masks:
        running = 0
        row = []
        for starts_new_block in att_row:
            if starts_new_block:
                running += 1
            row.append(running)
        result.append(row)
    return result


def _check_same_shape(pad: Rows, att: Rows) -> None:
    if len(pad) != len(att) or any(len(p) != len(a) for p, a in zip(pad, att, strict=True)):
        shape_pad = [len(pad), len(pad[0]) if pad else 0]
        shape_att = [len(att), len(att[0]) if att else 0]
        raise ValueError(f"pad_masks {shape_pad} and att_masks {shape_att} must have the same shape [B, L]")


def block_causal(pad_masks: Rows, att_masks: Rows, pad_queries: str = "masked") -> np.ndarray:
    """SPEC §2: a real token sees every real token of its own block and of every earlier block.

        mask[b, i, j] = pad[b, i] and pad[b, j] and block[b, j] <= block[b, i]

    With ``pad_queries="free"`` the ``pad[b, i]`` term is dropped (SPEC §4): padded query rows then hold what
    a keys-only implementation computes for them.
    """
    _check_same_shape(pad_masks, att_masks)
    blocks = block_ids(att_masks)
    B = len(pad_masks)
    L = len(pad_masks[0]) if B else 0
    mask = np.zeros((B, L, L), dtype=bool)
    for b in range(B):
        for query in range(L):
            query_is_real = pad_masks[b][query] or pad_queries == "free"
            for key in range(L):
                key_is_real = pad_masks[b][key]
                key_block_not_later = blocks[b][key] <= blocks[b][query]
                mask[b, query, key] = query_is_real and key_is_real and key_block_not_later
    return mask


def rowwise(pad_masks: Rows, att_masks: Rows, pad_queries: str = "masked") -> np.ndarray:
    """SPEC §3: the user's explanation, a per-row rule.

        mask[b, i, j] = pad[b, i] and pad[b, j] and (att[b, i] == 0 or j <= i)

    A query with att 0 sees every real key; a query with att 1 sees real keys up to itself. With
    ``pad_queries="free"`` padded query rows follow the same rule without the ``pad[b, i]`` term, which is
    exactly the explanation's pseudo-code (its table shows those rows empty; its pseudo-code does not).
    """
    _check_same_shape(pad_masks, att_masks)
    B = len(pad_masks)
    L = len(pad_masks[0]) if B else 0
    mask = np.zeros((B, L, L), dtype=bool)
    for b in range(B):
        for query in range(L):
            query_is_real = pad_masks[b][query] or pad_queries == "free"
            query_is_bidirectional = not att_masks[b][query]
            for key in range(L):
                key_is_real = pad_masks[b][key]
                key_not_after_query = key <= query
                mask[b, query, key] = query_is_real and key_is_real and (
                    query_is_bidirectional or key_not_after_query
                )
    return mask


SPEC_FUNCTIONS = {"block_causal": block_causal, "rowwise": rowwise}


def validate_spec(spec: str) -> str:
    if spec not in SPEC_FUNCTIONS:
        raise ValueError(f"unknown spec {spec!r}; choose one of: {', '.join(SPECS)}")
    return spec


def validate_pad_queries(pad_queries: str) -> str:
    if pad_queries not in PAD_QUERY_POLICIES:
        raise ValueError(f"unknown pad-query policy {pad_queries!r}; choose one of: {', '.join(PAD_QUERY_POLICIES)}")
    return pad_queries
