"""PyTorch mask implementations: ``block_causal`` (fast), ``block_causal_baseline``, ``to_additive_4d``.

On the CPU the fast functions write the output once, row by row: with the small C writer compiled on first
use (``maskoracle.implementations._native``), or where there is no C compiler with NumPy broadcast copies
(``_rows``). The buffer is NumPy's, handed over without a copy by ``torch.from_numpy``: NumPy asks the kernel
for huge pages for large arrays, which makes first writes to fresh memory several times cheaper than
``torch.empty``'s. On other devices, and under ``torch.compile`` or tracing, they use one broadcast
comparison, which a GPU runs at its memory bandwidth and a compiler can fuse.
"""

from __future__ import annotations

import numpy as np
import torch

from . import _native
from ._rows import write_block_causal

# openpi and LeRobot's masked value: about 0.7 x float32's minimum (SPEC §6).
MASKED_VALUE = -2.3819763e38


def _numpy_writer_applies(tensor: torch.Tensor) -> bool:
    """CPU tensors, outside ``torch.compile`` and tracing (there the comparison is what gets compiled)."""
    if tensor.device.type != "cpu" or torch.jit.is_tracing():
        return False
    is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None)
    return not (is_compiling is not None and is_compiling())


def _bool_inputs(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    return _as_bool_array(pad_masks), _as_bool_array(att_masks)


def _as_bool_array(tensor: torch.Tensor) -> np.ndarray:
    if tensor.dtype == torch.bool and not tensor.requires_grad:
        return tensor.numpy()  # a view: nothing to convert
    return (tensor != 0).numpy()


def block_causal(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> torch.Tensor:
    """``[B, L]`` pad and att masks -> bool ``[B, L, L]``, on the inputs' device (SPEC §2).

    Block ids never come from a cumsum in att's dtype (a bfloat16 cumsum drifts past 256 blocks).
    """
    B, L = pad_masks.shape
    if _numpy_writer_applies(pad_masks):
        pad, att = _bool_inputs(pad_masks, att_masks)
        return torch.from_numpy(write_block_causal(pad, att, np.empty((B, L, L), dtype=bool), True, False))
    return _block_causal_by_comparison(pad_masks, att_masks)


def _block_causal_by_comparison(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> torch.Tensor:
    """One broadcast comparison of int32 block ids with padding folded in: the output written once."""
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
    """Bool ``[B, L, L]`` -> additive ``[B, 1, L, L]``: 0 where allowed, -2.3819763e38 where masked (SPEC §6).

    On the CPU, one pass of the native writer (each mask byte read once, each element written once, at memory
    speed); elsewhere, and without a C compiler, one ``where``. In float16 the masked value overflows to -inf.
    """
    if _numpy_writer_applies(mask) and mask.dtype == torch.bool and dtype.is_floating_point:
        values = _additive_values(dtype)
        out = np.empty((mask.shape[0], 1, *mask.shape[1:]), dtype=values.dtype)
        if _native.select(mask.contiguous().numpy(), values, out):
            return torch.from_numpy(out).view(dtype)  # the same bytes, read as ``dtype``
    return _to_additive_4d_by_where(mask, dtype)


def _to_additive_4d_by_where(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The conversion as openpi writes it: one ``where`` between 0 and the masked value."""
    zero = torch.zeros((), dtype=dtype, device=mask.device)
    masked = torch.full((), MASKED_VALUE, dtype=dtype, device=mask.device)
    return torch.where(mask[:, None, :, :], zero, masked)


_ADDITIVE_VALUES: dict[torch.dtype, np.ndarray] = {}
_SAME_SIZE_INTEGER = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def _additive_values(dtype: torch.dtype) -> np.ndarray:
    """The masked value and 0 in ``dtype``, as same-sized integers (NumPy has no bfloat16): the bytes to write."""
    if dtype not in _ADDITIVE_VALUES:
        pair = torch.stack([torch.full((), MASKED_VALUE, dtype=dtype), torch.zeros((), dtype=dtype)])
        _ADDITIVE_VALUES[dtype] = pair.view(_SAME_SIZE_INTEGER[pair.element_size()]).numpy()
    return _ADDITIVE_VALUES[dtype]


def block_causal_additive(pad_masks: torch.Tensor, att_masks: torch.Tensor,
                          dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``[B, L]`` pad and att -> additive ``[B, 1, L, L]`` (what a pi0-style model feeds its attention layers).

    Equal to ``to_additive_4d(block_causal(...))``, but on the CPU the float output is written directly, once,
    without a bool mask in between.
    """
    B, L = pad_masks.shape
    if _numpy_writer_applies(pad_masks) and dtype.is_floating_point:
        masked, allowed = _additive_values(dtype)
        out = np.empty((B, 1, L, L), dtype=masked.dtype)
        pad, att = _bool_inputs(pad_masks, att_masks)
        write_block_causal(pad, att, out[:, 0], allowed, masked)
        return torch.from_numpy(out).view(dtype)  # the same bytes, read as ``dtype``
    return to_additive_4d(block_causal(pad_masks, att_masks), dtype)


def block_causal_additive_unfused(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> torch.Tensor:
    """``to_additive_4d(block_causal(...))``: the fast bool mask, then the fast conversion (what a model that
    keeps both calls gets; against ``block_causal_additive`` it shows what the bool mask in between costs)."""
    return to_additive_4d(block_causal(pad_masks, att_masks))


def block_causal_additive_baseline(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> torch.Tensor:
    """openpi's pipeline: the straightforward bool mask, then ``where`` into a 4D additive float32 mask."""
    return _to_additive_4d_by_where(block_causal_baseline(pad_masks, att_masks))


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
