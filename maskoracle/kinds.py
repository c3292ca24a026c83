"""Implementation kinds: the calling conventions ``check(..., kind=...)`` knows (``--kind`` on the CLI).

| kind          | the implementation                                                          |
|---------------|-----------------------------------------------------------------------------|
| ``mask``      | ``fn(pad_masks, att_masks) -> [B, L, L]`` (the default, INTERFACE.md)        |
| ``kv_cache``  | ``fn(prefix_pad, suffix_pad, suffix_att) -> [B, S, P+S]`` (SPEC §5)          |
| ``incremental`` | ``fn(pad_masks, att_masks) -> [B, 1, T]``: the row of the last token, the one |
|               | a decoding loop just appended (SPEC §5)                                     |
| ``mask_mod``  | a FlexAttention factory: ``fn(pad, att) -> mask_mod(b, h, q_idx, kv_idx)``     |
| ``block_mask`` | a FlexAttention factory: ``fn(pad, att) -> BlockMask``                      |

The FlexAttention kinds are materialised into masks (``adapters/flex.py``) and run the plan of ``mask``;
``kv_cache`` and ``incremental`` have plans of their own (``checking/plans/kv_cache.py``).
"""

from __future__ import annotations

KINDS = ("mask", "kv_cache", "incremental", "mask_mod", "block_mask")
DEFAULT_KIND = "mask"
FLEX_KINDS = ("mask_mod", "block_mask")  # PyTorch FlexAttention forms, materialised into masks
MASK_LIKE_KINDS = ("mask", *FLEX_KINDS)  # checked by the plan of ``mask``
SPLIT_KINDS = ("kv_cache", "incremental")  # a sequence split in two (SPEC §5)
