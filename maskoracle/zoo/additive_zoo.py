"""PyTorch masks with known verdicts that differ in what they return: additive biases, 4D shapes, result dtypes.

The block logic of every function here is right (it is ``torch_zoo``'s reference); what is under test is the
last step, the conversion to what an attention layer wants (SPEC §6). The bugs are slips in that step; the
``correct_*`` entries take other legal routes (another dtype, ``-inf``, a 4D shape).
"""

from __future__ import annotations

import torch

from .entry import ZooEntry
from .torch_zoo import MASKED_VALUE
from .torch_zoo import reference as _right_mask

# MASKED_VALUE rounded to bfloat16, as openpi's value lands in a bfloat16 model (SPEC §6).
MASKED_VALUE_BF16 = -2.3793181e38


def _bias(mask: torch.Tensor, masked: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """0 where ``mask`` allows, ``masked`` elsewhere, built with ``masked_fill`` as most ports do."""
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, masked)


# --- bugs ------------------------------------------------------------------------------------------------

def additive_minus_one(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """``mask.float() - 1``: masked cells get -1, a bias softmax barely notices (the scale was forgotten)."""
    return _right_mask(pad, att).float() - 1.0


def additive_minus_1e3(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Masked value -1e3: above SPEC §6's -1e4 threshold, too weak a bias once logit gaps near 1e3."""
    return _bias(_right_mask(pad, att), -1e3)


def additive_plus_inf(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Masked value ``+inf`` (the sign dropped): masked keys get all the attention, or NaN."""
    return _bias(_right_mask(pad, att), float("inf"))


def additive_nan_padded_rows(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Padded query rows filled with NaN (what SDPA would return for them) instead of the masked value."""
    bias = _bias(_right_mask(pad, att), torch.finfo(torch.float32).min)
    return bias.masked_fill(~pad.bool()[:, :, None], float("nan"))


def additive_padding_only(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """The bias masks padded keys only: the block structure was left to a causal flag that is never set."""
    B, L = pad.shape
    keys = pad.bool()[:, None, :].expand(B, L, L)
    return _bias(keys, MASKED_VALUE)


def additive_converted_twice(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """``(1 - m) * MASKED_VALUE`` applied to a mask that was already additive: every cell ends up masked."""
    bias = (1.0 - _right_mask(pad, att).float()) * MASKED_VALUE
    return (1.0 - bias) * MASKED_VALUE


def half_additive_overflow(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """A float16 bias filled with openpi's -2.3819763e38: raises, float16 cannot hold it (SPEC §6)."""
    return _bias(_right_mask(pad, att), MASKED_VALUE, torch.float16)


def half_additive_finfo_tiny(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """A float16 bias of ``-finfo(float16).tiny`` (``tiny`` taken for ``min``): about -6e-5, masks nothing."""
    return _bias(_right_mask(pad, att), -torch.finfo(torch.float16).tiny, torch.float16)


def head_axis_2(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """The head axis inserted at position 2: shape [B, L, 1, L] instead of [B, 1, L, L]."""
    return _right_mask(pad, att).unsqueeze(2)


def one_mask_for_every_batch(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Returns row 0's mask as [1, L, L], counting on broadcasting over the batch: wrong shape when B > 1."""
    return _right_mask(pad[:1], att[:1])


def squeezed_batch(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """A [B, 1, L, L] mask passed through ``.squeeze()``, which also drops the batch axis when B = 1."""
    return _right_mask(pad, att)[:, None].squeeze()


def legacy_byte_mask(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """A uint8 0/1 mask (PyTorch's pre-1.2 ByteTensor masks): an integer result, ambiguous, refused."""
    return _right_mask(pad, att).to(torch.uint8)


def inverted_bool_convention(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """True where masked (``nn.MultiheadAttention``'s ``attn_mask`` convention), the inverse of SDPA's."""
    return ~_right_mask(pad, att)


# --- right by another route ------------------------------------------------------------------------------

def correct_additive_half_finfo_min(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """A float16 [B, 1, L, L] bias with ``finfo(float16).min`` (-65504), the value float16 can hold."""
    return _bias(_right_mask(pad, att), torch.finfo(torch.float16).min, torch.float16)[:, None]


def correct_additive_float64_inf(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """A float64 [B, L, L] bias with ``-inf`` for masked cells."""
    return _bias(_right_mask(pad, att), float("-inf"), torch.float64)


def correct_additive_bfloat16(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """A bfloat16 [B, 1, L, L] bias holding -2.3793181e38, openpi's value as a bfloat16 model has it."""
    return _bias(_right_mask(pad, att), MASKED_VALUE_BF16, torch.bfloat16)[:, None]


def correct_additive_4d_neg_inf(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """A float32 [B, 1, L, L] bias built with ``torch.where`` and ``-inf``."""
    mask = _right_mask(pad, att)[:, None]
    zero = torch.zeros((), device=mask.device)
    return torch.where(mask, zero, zero - float("inf"))


def correct_log_of_mask(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """The bias as ``log(mask)``: log 1 = 0 where allowed, log 0 = -inf where masked."""
    return torch.log(_right_mask(pad, att).float())


ENTRIES: list[ZooEntry] = [
    ZooEntry("additive_minus_one", additive_minus_one),
    ZooEntry("additive_minus_1e3", additive_minus_1e3),
    ZooEntry("additive_plus_inf", additive_plus_inf),
    ZooEntry("additive_nan_padded_rows", additive_nan_padded_rows),
    ZooEntry("additive_padding_only", additive_padding_only),
    ZooEntry("additive_converted_twice", additive_converted_twice),
    ZooEntry("half_additive_overflow", half_additive_overflow),
    ZooEntry("half_additive_finfo_tiny", half_additive_finfo_tiny),
    ZooEntry("head_axis_2", head_axis_2),
    ZooEntry("one_mask_for_every_batch", one_mask_for_every_batch),
    ZooEntry("squeezed_batch", squeezed_batch),
    ZooEntry("legacy_byte_mask", legacy_byte_mask),
    ZooEntry("inverted_bool_convention", inverted_bool_convention),
    ZooEntry("correct_additive_half_finfo_min", correct_additive_half_finfo_min, equivalent=True),
    ZooEntry("correct_additive_float64_inf", correct_additive_float64_inf, equivalent=True),
    ZooEntry("correct_additive_bfloat16", correct_additive_bfloat16, equivalent=True),
    ZooEntry("correct_additive_4d_neg_inf", correct_additive_4d_neg_inf, equivalent=True),
    ZooEntry("correct_log_of_mask", correct_log_of_mask, equivalent=True),
]
