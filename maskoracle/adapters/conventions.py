"""Input conventions (``--inputs``): the arguments a real mask function takes, built from ``(pad, att)``.

| convention | the implementation is called as | expresses | pad queries |
|---|---|---|---|
| ``pad_att`` | ``fn(pad_masks, att_masks)`` (INTERFACE) | every input | ``masked`` |
| ``paligemma`` | ``fn(attention_mask, token_type_ids)``: 1 = real, 0 = pad; 0 = prefix, 1 = suffix | prefix-LM att rows (``0...0 1...1``) | ``free`` |
| ``gemma3`` | ``fn(attention_mask, token_type_ids)``: 1 = image token, 0 = text; each run of image tokens one bidirectional group, text causal | att rows whose blocks of two or more tokens are never adjacent | ``free`` |
| ``transformers`` | ``fn(attention_mask, cache_position)``: 1 = real key; the queries' positions (``arange(L)``; ``arange(P, P + S)`` for ``--kind kv_cache``; ``[T - 1]`` for ``--kind incremental``) | causal rows (``--layout causal``) | ``free`` |

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


def _causal(att: np.ndarray) -> np.ndarray:
    """Every token a block of its own: the causal rows, all a convention without att can express."""
    return np.ones_like(att)


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
    layout: str | None = None  # the only --layout it can express (its inputs carry no att), if one

    @property
    def is_default(self) -> bool:
        return self.token_types is None and self.layout is None

    @property
    def splits(self) -> bool:
        """Whether it also serves ``--kind kv_cache`` and ``incremental`` (``wrap_split``)."""
        return self.layout is not None

    def wrap(self, fn: Callable[..., Any], adapter: Adapter) -> Callable[[Any, Any], Any]:
        """``fn`` as a ``fn(pad_masks, att_masks)`` the checks call: the arguments converted, then ``fn``."""
        token_types = self.token_types
        if self.layout is not None:
            return self.wrap_split(fn, adapter, "mask")
        if token_types is None:
            return fn

        def called_with_convention(pad: Any, att: Any) -> Any:
            pad_rows = adapter.to_numpy(pad).astype(bool)
            att_rows = adapter.to_numpy(att) != 0
            return fn(_integers(adapter, pad_rows), _integers(adapter, token_types(att_rows)))

        called_with_convention.__name__ = getattr(fn, "__name__", "fn")
        return called_with_convention


    def wrap_split(self, fn: Callable[..., Any], adapter: Adapter, kind: str) -> Callable[..., Any]:
        """``fn(attention_mask, cache_position)`` as the runner of ``kind`` calls it: ``mask`` and
        ``incremental`` with ``(pad, att)``, ``kv_cache`` with ``(prefix_pad, suffix_pad, suffix_att)``. The
        attention mask covers every key (cached prefix included); the positions are those of the queries."""

        def called_with_positions(*arguments: Any) -> Any:
            pads = [adapter.to_numpy(argument).astype(bool) for argument in arguments[:-1]]
            keys = np.concatenate(pads, axis=1)
            K = keys.shape[1]
            queries = {"mask": np.arange(K), "incremental": np.array([K - 1]),
                       "kv_cache": np.arange(pads[0].shape[1], K)}[kind]
            positions = _integers(adapter, queries[None].astype(np.int64))[0]
            return fn(_integers(adapter, keys), positions)

        called_with_positions.__name__ = getattr(fn, "__name__", "fn")
        return called_with_positions


INPUT_CONVENTIONS: dict[str, Convention] = {
    "pad_att": Convention("pad_att", "fn(pad_masks, att_masks), the default", "masked"),
    "paligemma": Convention("paligemma", "fn(attention_mask, token_type_ids): token type 0 = prefix "
                            "(bidirectional), 1 = suffix (causal), as PaliGemma builds its prefix-LM mask", "free",
                            _prefix_lm, _same),
    "gemma3": Convention("gemma3", "fn(attention_mask, token_type_ids): token type 1 = image (each run of image "
                         "tokens bidirectional within itself), 0 = text (causal), as Gemma 3 builds its mask",
                         "free", _image_groups, _gemma3_token_types),
    "transformers": Convention("transformers", "fn(attention_mask, cache_position): 1 = real key; the queries' "
                               "positions, as transformers' causal-mask functions take them (causal layout; also "
                               "--kind kv_cache and incremental)", "free", _causal, layout="causal"),
}
