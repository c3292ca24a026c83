"""Masks as real code writes them, for the FlexAttention and additive-mask tests (written here, not copied).

Each function is ``fn(pad_masks, att_masks)`` or a FlexAttention factory; the docstrings say whose habit it is.
"""

from __future__ import annotations

import torch
from torch.nn.attention.flex_attention import create_block_mask

from maskoracle.implementations.flex import block_causal_mask_mod
from maskoracle.implementations.torch import MASKED_VALUE, block_causal

# --- additive masks --------------------------------------------------------------------------------------------

def transformers_eager_causal(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> torch.Tensor:
    """Hugging Face transformers' eager causal mask: ``finfo(dtype).min`` above the diagonal and on padded keys,
    ``[B, 1, L, L]``; padded query rows are left as they are (keys-only padding). att is not read."""
    B, L = pad_masks.shape
    dtype = torch.float32
    minimum = torch.finfo(dtype).min
    causal = torch.full((L, L), minimum, dtype=dtype).triu(diagonal=1)
    mask = causal[None, None].expand(B, 1, L, L).clone()
    padded_keys = ~pad_masks.bool()[:, None, None, :]
    return mask.masked_fill(padded_keys, minimum)


def openpi_additive(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> torch.Tensor:
    """openpi / LeRobot pi0: the bool block-causal mask to ``[B, 1, L, L]`` float32, 0 / -2.3819763e38."""
    allowed = block_causal(pad_masks, att_masks)[:, None]
    return torch.where(allowed, torch.tensor(0.0), torch.tensor(MASKED_VALUE))


def openpi_additive_bfloat16(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> torch.Tensor:
    """The same, as it lands in a bfloat16 model: -2.3819763e38 rounds to -2.3793181e38."""
    return openpi_additive(pad_masks, att_masks).to(torch.bfloat16)


def minus_inf_additive(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> torch.Tensor:
    """``-inf`` where masked: right on every cell, but a fully masked (padded) query row softmaxes to NaN."""
    allowed = block_causal(pad_masks, att_masks)[:, None]
    return torch.zeros(allowed.shape).masked_fill(~allowed, float("-inf"))


def small_negative_additive(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> torch.Tensor:
    """-100 where masked: a bias softmax only dents (exp(-100) is tiny but a long row of them is not nothing)."""
    allowed = block_causal(pad_masks, att_masks)[:, None]
    return torch.zeros(allowed.shape).masked_fill(~allowed, -100.0)


def minus_1e4_additive(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> torch.Tensor:
    """-1e4 in float32: decodes as masked, but in bfloat16 it rounds to -9984, no longer <= -1e4."""
    allowed = block_causal(pad_masks, att_masks)[:, None]
    return torch.zeros(allowed.shape).masked_fill(~allowed, -1e4)


# --- FlexAttention ---------------------------------------------------------------------------------------------

def strict_less_mask_mod(pad_masks: torch.Tensor, att_masks: torch.Tensor):
    """Off by one: ``<`` for ``<=``, so no token sees its own block."""
    pad = pad_masks.bool()
    blocks = torch.cumsum(att_masks.int(), dim=-1)

    def mask_mod(b, h, q_idx, kv_idx):
        return pad[b, q_idx] & pad[b, kv_idx] & (blocks[b, kv_idx] < blocks[b, q_idx])

    return mask_mod


def python_if_mask_mod(pad_masks: torch.Tensor, att_masks: torch.Tensor):
    """Data-dependent Python control flow: works called by hand, cannot be vmapped."""
    pad = pad_masks.bool()
    blocks = torch.cumsum(att_masks.int(), dim=-1)

    def mask_mod(b, h, q_idx, kv_idx):
        if pad[b, q_idx] and pad[b, kv_idx]:
            return blocks[b, kv_idx] <= blocks[b, q_idx]
        return torch.tensor(False)

    return mask_mod


def integer_mask_mod(pad_masks: torch.Tensor, att_masks: torch.Tensor):
    """Returns 0/1 integers instead of bools."""
    correct = block_causal_mask_mod(pad_masks, att_masks)
    return lambda b, h, q_idx, kv_idx: correct(b, h, q_idx, kv_idx).int()


def batch_none_block_mask(pad_masks: torch.Tensor, att_masks: torch.Tensor):
    """``create_block_mask(..., B=None)``: the block structure of batch row 0 is used for every row, and a block
    that is full for row 0 skips the mask_mod for all of them, so other rows' padding is ignored."""
    L = pad_masks.shape[1]
    return create_block_mask(block_causal_mask_mod(pad_masks, att_masks), None, None, L, L, device="cpu",
                             _compile=False)


def rounded_length_block_mask(pad_masks: torch.Tensor, att_masks: torch.Tensor):
    """Built for the length rounded up to the block size (128), not for L."""
    B, L = pad_masks.shape
    padded = -(-L // 128) * 128
    grow = padded - L
    pad = torch.nn.functional.pad(pad_masks.bool(), (0, grow))
    att = torch.nn.functional.pad(att_masks.bool(), (0, grow))
    return create_block_mask(block_causal_mask_mod(pad, att), B, None, padded, padded, device="cpu", _compile=False)


def ignores_padding_mask_mod(pad_masks: torch.Tensor, att_masks: torch.Tensor):
    """Only the block rule: padded keys attended, padded queries see everything (caught at every length)."""
    blocks = torch.cumsum(att_masks.int(), dim=-1)
    return lambda b, h, q_idx, kv_idx: blocks[b, kv_idx] <= blocks[b, q_idx]


def openpi_additive_cuda(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> torch.Tensor:
    """``openpi_additive`` on the inputs' device (its constants are built there)."""
    allowed = block_causal(pad_masks, att_masks)[:, None]
    zero = torch.zeros((), device=allowed.device)
    return torch.where(allowed, zero, torch.full((), MASKED_VALUE, device=allowed.device))
