"""Decoding an implementation's result into a bool ``[B, L, L]`` mask (INTERFACE, SPEC §6)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..adapters.base import Adapter
from ..errors import short_error

# SPEC §6: allowed <=> value == 0; masked <=> value <= -1e4 (finite) or -inf; anything else is a failure.
MASKED_THRESHOLD = -1e4


# What a None result usually means (issue 16): transformers' create_causal_mask / sdpa_mask return None when
# SDPA's is_causal flag does the masking (a plain causal mask, no padding).
NONE_HINT = ("In transformers, None means \"no mask needed: SDPA's is_causal flag suffices\" (a plain causal "
             "mask with no padding); say what None stands for with --none-means causal (or unmasked: every "
             "cell allowed)")
ARRAY_MODULES = {"jax": "jax", "jaxlib": "jax", "torch": "torch", "numpy": "numpy"}


def framework_hint(result: Any, framework: str) -> str:
    """``"; ... run with --framework jax"`` when ``result`` is another framework's array, else ``""``."""
    module = type(result).__module__.split(".")[0]
    other = ARRAY_MODULES.get(module)
    if other is None or other == framework:
        return ""
    return (f". It is a {other} array: the implementation computes in {other}, so run it with --framework {other} "
            f"(inputs and result then both {other} arrays)")


class BadResult(Exception):
    """The result is not a mask the suite can read; the message says what it is and what was expected."""

    def __init__(self, message: str, cell: tuple[int, int, int] | None = None) -> None:
        super().__init__(message)
        self.cell = cell


def decode_mask(result: Any, adapter: Adapter, B: int, L: int, keys: int | None = None) -> np.ndarray:
    """The bool ``[B, L, K]`` mask that ``result`` encodes, or ``BadResult`` saying why it is not one.

    ``K = keys`` (``L`` unless given: a KV-cache mask has ``P + S`` keys for ``S`` queries). Accepted: any bool
    or floating (additive: 0 allowed, <= -1e4 or -inf masked) result that broadcasts to ``[B, H, L, K]``
    (``decode_heads``); a result with several heads must hold the same mask in each. Integer results are
    refused rather than guessed at: 1 could mean "allowed" or "masked".
    """
    heads = decode_heads(result, adapter, B, L, keys)
    first = heads[:, 0]
    for head in range(1, heads.shape[1]):
        differ = heads[:, head] != first
        if differ.any():
            b, query, key = (int(x) for x in np.argwhere(differ)[0])
            raise BadResult(f"head {head} of {heads.shape[1]} differs from head 0 at cell (b={b}, query={query}, "
                            f"key={key}): every head must hold the same mask", cell=(b, query, key))
    return first


def wanted_shapes(B: int, L: int, keys: int | None = None) -> str:
    """The shapes a result may have, as a failure message spells them."""
    K = L if keys is None else keys
    names = "[B, L, L]" if keys is None else "[B, Q, K]"
    one_head = names.replace("[B, ", "[B, 1, ")
    return (f"{names} = {[B, L, K]} or {one_head} = {[B, 1, L, K]}, one mask per head {names.replace('[B, ', '[B, H, ')}, "
            "or a shape that broadcasts to them ([1, 1, L, L] for the whole batch, keys only [B, 1, 1, K])")


def decode_heads(result: Any, adapter: Adapter, B: int, L: int, keys: int | None = None) -> np.ndarray:
    """The bool ``[B, H, L, K]`` masks that ``result`` encodes, broadcast (``H = 1`` for a result without a head
    axis); ``BadResult`` saying why it is not a mask. With a head axis, every size 1 broadcasts: ``[1, 1, L, K]``
    (one mask for the batch), ``[B, 1, 1, K]`` (keys only: the same row for every query); without one, the shape
    must be ``[B, L, K]``."""
    K = L if keys is None else keys
    wanted = wanted_shapes(B, L, keys)
    if result is None:
        raise BadResult(f"returned None; expected a bool or additive float mask {wanted}. {NONE_HINT}")
    if not adapter.is_array(result):
        raise BadResult(f"returned {type(result).__name__}, not a {adapter.framework} array; expected a bool or "
                        f"additive float mask {wanted}{framework_hint(result, adapter.framework)}")
    try:
        array = adapter.to_numpy(result)
    except Exception as error:  # a meta tensor, a sparse layout, a subclass that refuses: say so
        raise BadResult(f"returned a {type(result).__name__} that cannot be read on the host: "
                        f"{short_error(error)}") from None
    shape = list(array.shape)
    if shape == [B, L, K]:  # without a head axis: exactly this shape (a [1, L, K] or [L, K] is more likely a slip)
        array = array[:, None]
    if len(shape) == 4 and L > 1 and shape[1] == L and shape[2] == 1:
        raise BadResult(f"returned shape {shape}: the head axis at position 2 ([B, L, 1, K] instead of "
                        f"[B, 1, L, K])? Expected {wanted}")
    target = [B, array.shape[1] if array.ndim == 4 else 1, L, K]
    if array.ndim != 4 or any(size not in (1, want) for size, want in zip(array.shape, target, strict=True)):
        raise BadResult(f"returned shape {shape}; expected {wanted}")
    if array.dtype == bool:
        return np.broadcast_to(array, target)
    if np.issubdtype(array.dtype, np.floating):
        return np.broadcast_to(decode_additive(array), target)
    raise BadResult(f"returned dtype {array.dtype}; expected bool (True = may attend) or an additive float mask "
                    "(0 = may attend, a large negative number or -inf = masked). Integers are ambiguous")


def decode_additive(values: np.ndarray) -> np.ndarray:
    """Bool allowed-cells of an additive mask (SPEC §6); ``BadResult`` naming the first cell that is neither."""
    allowed = values == 0
    masked = values <= MASKED_THRESHOLD  # -inf included; NaN compares False on both
    bad = ~(allowed | masked)
    if bad.any():
        where = np.argwhere(bad)[0]
        value = float(values[tuple(where)])
        b, i, j = (int(x) for x in (where[0], *where[-2:]))
        count = int(bad.sum())
        raise BadResult(
            f"additive mask value {value!r} at cell (b={b}, query={i}, key={j}) is neither 0 (may attend) nor "
            f"<= -1e4 / -inf (masked); {count} cell{'s' if count > 1 else ''} like it",
            cell=(b, i, j),
        )
    return allowed
