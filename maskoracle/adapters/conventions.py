"""Input conventions (``--inputs``): the arguments a real mask function takes, built from ``(pad, att)``.

| convention | the implementation is called as | expresses | pad queries |
|---|---|---|---|
| ``pad_att`` | ``fn(pad_masks, att_masks)`` (INTERFACE) | every input | ``masked`` |
| ``paligemma`` | ``fn(attention_mask, token_type_ids)``: 1 = real, 0 = pad; 0 = prefix, 1 = suffix | prefix-LM att rows (``0...0 1...1``) | ``free`` |
| ``gemma3`` | ``fn(attention_mask, token_type_ids)``: 1 = image token, 0 = text; each run of image tokens one bidirectional group, text causal | att rows whose blocks of two or more tokens are never adjacent | ``free`` |

Each converts the generated input exactly: the plan's inputs are first moved into what the convention can
express (``express``), and the oracle reads that same input. The default pad-query policy is the one the
convention's models use: transformers' masks pad keys only, and their models ignore padded queries' outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError
from .base import Adapter


def _same(att: np.ndarray) -> np.ndarray:
    return att


def _prefix_lm(att: np.ndarray) -> np.ndarray:
    """Each row sorted: a bidirectional prefix (token type 0), then causal suffix tokens (token type 1)."""
    return np.sort(att, axis=1)


def _blocks(row: np.ndarray) -> list[list[int]]:
    """The token positions of each block of an att row (SPEC §2: a block starts at each 1 after position 0)."""
    blocks: list[list[int]] = []
    for position, starts in enumerate(row):
        if position == 0 or starts:
            blocks.append([])
        blocks[-1].append(position)
    return blocks


def _image_groups(att: np.ndarray) -> np.ndarray:
    """Rows whose blocks of two or more tokens (image groups) never touch: where two would, the later one's
    tokens become causal text tokens (each a block of its own)."""
    rows = att.copy()
    for row in rows:
        previous_is_group = False
        for block in _blocks(row):
            is_group = len(block) > 1 and not previous_is_group
            if len(block) > 1 and previous_is_group:
                row[block] = True  # text tokens: each starts a block
            previous_is_group = is_group
    return rows


def _gemma3_token_types(att: np.ndarray) -> np.ndarray:
    """1 for a token of a block of two or more tokens (an image group), 0 for a text token."""
    types = np.zeros(att.shape, dtype=bool)
    for b, row in enumerate(att):
        for block in _blocks(row):
            if len(block) > 1:
                types[b, block] = True
    return types


def _integers(adapter: Adapter, rows: np.ndarray) -> Any:
    """``rows`` as an integer array of the adapter's framework (int64; int32 where it has no int64)."""
    try:
        return adapter.inputs(rows, rows, "int64")[1]
    except UsageError:  # JAX without x64
        return adapter.inputs(rows, rows, "int32")[1]


@dataclass(frozen=True)
class Convention:
    """How the implementation takes its inputs; see the module's table."""

    name: str
    summary: str
    pad_queries: str
    express: Callable[[np.ndarray], np.ndarray] = _same  # att rows -> rows the convention can express
    token_types: Callable[[np.ndarray], np.ndarray] | None = None  # att rows -> the token_type_ids it passes

    @property
    def is_default(self) -> bool:
        return self.token_types is None

    def wrap(self, fn: Callable[..., Any], adapter: Adapter) -> Callable[[Any, Any], Any]:
        """``fn`` as a ``fn(pad_masks, att_masks)`` the checks call: the arguments converted, then ``fn``."""
        token_types = self.token_types
        if token_types is None:
            return fn

        def called_with_convention(pad: Any, att: Any) -> Any:
            pad_rows = adapter.to_numpy(pad).astype(bool)
            att_rows = adapter.to_numpy(att) != 0
            return fn(_integers(adapter, pad_rows), _integers(adapter, token_types(att_rows)))

        called_with_convention.__name__ = getattr(fn, "__name__", "fn")
        return called_with_convention


INPUT_CONVENTIONS: dict[str, Convention] = {
    "pad_att": Convention("pad_att", "fn(pad_masks, att_masks), the default", "masked"),
    "paligemma": Convention("paligemma", "fn(attention_mask, token_type_ids): token type 0 = prefix "
                            "(bidirectional), 1 = suffix (causal), as PaliGemma builds its prefix-LM mask", "free",
                            _prefix_lm, _same),
    "gemma3": Convention("gemma3", "fn(attention_mask, token_type_ids): token type 1 = image (each run of image "
                         "tokens bidirectional within itself), 0 = text (causal), as Gemma 3 builds its mask",
                         "free", _image_groups, _gemma3_token_types),
}
