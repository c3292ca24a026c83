"""FlexAttention forms of ``block_causal`` (SPEC §2): a ``mask_mod`` factory and a ``BlockMask`` factory.

Check them with ``maskoracle check maskoracle.implementations.flex:block_causal_mask_mod --kind mask_mod`` and
``... :block_causal_block_mask --kind block_mask``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn.attention.flex_attention import BlockMask, create_block_mask

MaskMod = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def block_causal_mask_mod(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> MaskMod:
    """``mask_mod(b, h, q_idx, kv_idx)``: query ``q_idx`` of batch row ``b`` may attend to key ``kv_idx``.

    Block ids are computed once, in int32 (a bfloat16 cumsum drifts past 256 blocks); the mask_mod only
    indexes them, so FlexAttention can vmap or compile it.

    >>> pad = torch.tensor([[True, False, True]]); att = torch.tensor([[False, True, False]])
    >>> block_causal_mask_mod(pad, att)(torch.tensor(0), torch.tensor(0), torch.tensor(0), torch.tensor(2))
    tensor(False)
    """
    pad = pad_masks.bool()
    blocks = torch.cumsum(att_masks != 0, dim=-1, dtype=torch.int32)

    def mask_mod(b: torch.Tensor, h: torch.Tensor, q_idx: torch.Tensor, kv_idx: torch.Tensor) -> torch.Tensor:
        return pad[b, q_idx] & pad[b, kv_idx] & (blocks[b, kv_idx] <= blocks[b, q_idx])

    return mask_mod


def block_causal_block_mask(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> BlockMask:
    """A ``BlockMask`` for ``flex_attention``, one per batch row (``B`` given: padding differs per row)."""
    B, L = pad_masks.shape
    return create_block_mask(block_causal_mask_mod(pad_masks, att_masks), B, None, L, L,
                             device=pad_masks.device, _compile=False)
