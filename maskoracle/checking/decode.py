"""Decoding an implementation's result into a bool ``[B, L, L]`` mask (INTERFACE, SPEC §6)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..adapters.base import Adapter
from ..errors import short_error

# SPEC §6: allowed <=> value == 0; masked <=> value <= -1e4 (finite) or -inf; anything else is a failure.
MASKED_THRESHOLD = -1e4


class BadResult(Exception):
    """The result is not a mask the suite can read; the message says what it is and what was expected."""

    def __init__(self, message: str, cell: tuple[int, int, int] | None = None) -> None:
        super().__init__(message)
        self.cell = cell


def decode_mask(result: Any, adapter: Adapter, B: int, L: int, keys: int | None = None) -> np.ndarray:
    """The bool ``[B, L, K]`` mask that ``result`` encodes, or ``BadResult`` saying why it is not one.

    ``K = keys`` (``L`` unless given: a KV-cache mask has ``P + S`` keys for ``S`` queries). Accepted:
    ``[B, L, K]`` or ``[B, 1, L, K]``, bool or floating (additive: 0 allowed, <= -1e4 or -inf masked).
    Integer results are refused rather than guessed at: 1 could mean "allowed" or "masked".
    """
    K = L if keys is None else keys
    names = "[B, L, L]" if keys is None else "[B, Q, K]"
    wanted = f"{names} = {[B, L, K]} or {names.replace('[B, ', '[B, 1, ')} = {[B, 1, L, K]}"
    if result is None:
        raise BadResult(f"returned None; expected a bool or additive float mask {wanted}")
    if not adapter.is_array(result):
        raise BadResult(f"returned {type(result).__name__}, not a {adapter.framework} array; expected a bool or "
                        f"additive float mask {wanted}")
    try:
        array = adapter.to_numpy(result)
    except Exception as error:  # a meta tensor, a sparse layout, a subclass that refuses: say so
        raise BadResult(f"returned a {type(result).__name__} that cannot be read on the host: "
                        f"{short_error(error)}") from None
    shape = list(array.shape)
    if shape == [B, 1, L, K]:
        array = array[:, 0]
    elif shape != [B, L, K]:
        raise BadResult(f"returned shape {shape}; expected {wanted}")
    if array.dtype == bool:
        return array
    if np.issubdtype(array.dtype, np.floating):
        return decode_additive(array)
    raise BadResult(f"returned dtype {array.dtype}; expected bool (True = may attend) or an additive float mask "
                    "(0 = may attend, a large negative number or -inf = masked). Integers are ambiguous")


def decode_additive(values: np.ndarray) -> np.ndarray:
    """Bool allowed-cells of an additive mask (SPEC §6); ``BadResult`` naming the first cell that is neither."""
    allowed = values == 0
    masked = values <= MASKED_THRESHOLD  # -inf included; NaN compares False on both
    bad = ~(allowed | masked)
    if bad.any():
        b, i, j = (int(x) for x in np.argwhere(bad)[0])
        value = float(values[b, i, j])
        count = int(bad.sum())
        raise BadResult(
            f"additive mask value {value!r} at cell (b={b}, query={i}, key={j}) is neither 0 (may attend) nor "
            f"<= -1e4 / -inf (masked); {count} cell{'s' if count > 1 else ''} like it",
            cell=(b, i, j),
        )
    return allowed
