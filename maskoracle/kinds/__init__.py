"""Implementation kinds: the calling conventions ``check(..., kind=...)`` knows (``--kind`` on the CLI).

| kind          | the implementation                                                          |
|---------------|-----------------------------------------------------------------------------|
| ``mask``      | ``fn(pad_masks, att_masks) -> [B, L, L]`` (the default, INTERFACE.md)        |
| ``kv_cache``  | ``fn(prefix_pad, suffix_pad, suffix_att) -> [B, S, P+S]`` (SPEC §5)          |
| ``incremental`` | ``fn(pad_masks, att_masks) -> [B, 1, T]``: the row of the last token, the one |
|               | a decoding loop just appended (SPEC §5)                                     |
| ``mask_mod``  | a FlexAttention factory: ``fn(pad, att) -> mask_mod(b, h, q_idx, kv_idx)``     |
| ``block_mask`` | a FlexAttention factory: ``fn(pad, att) -> BlockMask``                      |

The FlexAttention kinds are materialised into masks (``adapters/flex.py``) and run the checks of ``mask``;
``kv_cache`` and ``incremental`` bring their own list of checks, which ``check()`` runs like the default one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

KINDS = ("mask", "kv_cache", "incremental", "mask_mod", "block_mask")
MASK_LIKE_KINDS = ("mask", "mask_mod", "block_mask")  # checked by the plan of ``mask`` (FlexAttention materialised)
DEFAULT_KIND = "mask"


def kind_check_descriptions(kind: str) -> dict[str, str]:
    """The checks a kind other than ``mask`` runs, in order, with their one-line descriptions."""
    from .split import INCREMENTAL_CHECKS, KV_CACHE_CHECKS

    return {"kv_cache": KV_CACHE_CHECKS, "incremental": INCREMENTAL_CHECKS}[kind]


def kind_plan(kind: str, fn: Callable[..., Any], adapter: Any, options: Any, run: Any
              ) -> list[tuple[str, Callable[[], Any]]]:
    """``(name, run)`` pairs of the checks of ``kind`` (not ``mask``: that plan lives in ``checking``)."""
    from .split import split_plan

    return split_plan(kind, fn, adapter, options, run)
