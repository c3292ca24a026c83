"""PyTorch mask implementations: ``block_causal`` (fast), ``block_causal_baseline``, ``to_additive_4d``."""

from __future__ import annotations

import torch

# openpi and LeRobot's masked value: about 0.7 x float32's minimum (SPEC §6).
MASKED_VALUE = -2.3819763e38


def block_causal(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> torch.Tensor:
    """``[B, L]`` pad and att masks -> bool ``[B, L, L]``, on the inputs' device (SPEC §2).

    Block ids are int32 cumsums whatever att's dtype (a bfloat16 cumsum drifts past 256 blocks). Padding is
    folded into the ids so that a single broadcast comparison writes the output once: padded keys get an id
    above every query's, padded queries one below every key's.
    """
    pad = pad_masks.bool()
    blocks = torch.cumsum(att_masks != 0, dim=-1, dtype=torch.int32)
    key_blocks = blocks.masked_fill(~pad, torch.iinfo(torch.int32).max)
    query_blocks = blocks.masked_fill(~pad, -1)
    return key_blocks[..., None, :] <= query_blocks[..., :, None]


def block_causal_baseline(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> torch.Tensor:
    """The straightforward formulation: cumsum, two broadcasts and an ``and`` (a reference point for speed)."""
    cumsum = torch.cumsum(att_masks.long(), dim=1)
    att_2d = cumsum[:, None, :] <= cumsum[:, :, None]
    pad_2d = pad_masks.bool()[:, None, :] & pad_masks.bool()[:, :, None]
    return att_2d & pad_2d


def to_additive_4d(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Bool ``[B, L, L]`` -> additive ``[B, 1, L, L]``: 0 where allowed, -2.3819763e38 where masked (SPEC §6)."""
    zero = torch.zeros((), dtype=dtype, device=mask.device)
    masked = torch.full((), MASKED_VALUE, dtype=dtype, device=mask.device)
    return torch.where(mask[:, None, :, :], zero, masked)


def block_causal_additive(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> torch.Tensor:
    """``block_causal`` then ``to_additive_4d``: what a pi0-style model feeds its attention layers."""
    return to_additive_4d(block_causal(pad_masks, att_masks))


def kv_cache(prefix_pad: torch.Tensor, suffix_pad: torch.Tensor, suffix_att: torch.Tensor) -> torch.Tensor:
    """SPEC §5: ``[B, P]`` cached prefix padding, ``[B, S]`` suffix pad and att -> bool ``[B, S, P+S]``.

    What a pi0-style model feeds attention when the action suffix runs against the cached prefix: every
    suffix query sees the real prefix tokens, and the suffix tokens follow ``block_causal`` among themselves.
    """
    suffix_mask = block_causal(suffix_pad, suffix_att)
    B, S = suffix_mask.shape[:2]
    prefix = prefix_pad.bool()[:, None, :].expand(B, S, prefix_pad.shape[-1])
    return torch.cat([prefix, suffix_mask], dim=-1)


def incremental(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> torch.Tensor:
    """SPEC §5, one decoding step: the sequence so far ``[B, T]`` -> the last token's row ``[B, 1, T]``.

    Block ids never decrease, so the last token's block is the latest one: a real last token sees every real
    token so far, a padded one nothing.
    """
    pad = pad_masks.bool()
    return (pad & pad[:, -1:])[:, None, :]
