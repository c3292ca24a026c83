"""PyTorch mask implementations with known verdicts: deliberate bugs (SPEC §7) and right-by-another-route ones.

Each function is a short, plausible ``make_att_2d_masks`` port with one thing wrong (or nothing wrong, for the
``correct_*`` ones). The project's tests and ``maskoracle selftest`` check that the suite kills every bug and
raises no false alarm on the correct ones.
"""

from __future__ import annotations

import torch

MASKED_VALUE = -2.3819763e38


def _reference(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    blocks = torch.cumsum(att.long(), dim=1)
    pad = pad.bool()
    return (blocks[:, None, :] <= blocks[:, :, None]) & pad[:, None, :] & pad[:, :, None]


# --- bugs ------------------------------------------------------------------------------------------------

def strict_less(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """``<`` for ``<=``: a token no longer sees its own block."""
    blocks = torch.cumsum(att.long(), dim=1)
    pad = pad.bool()
    return (blocks[:, None, :] < blocks[:, :, None]) & pad[:, None, :] & pad[:, :, None]


def transposed(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """The comparison transposed: queries see later blocks instead of earlier ones."""
    blocks = torch.cumsum(att.long(), dim=1)
    pad = pad.bool()
    return (blocks[:, :, None] <= blocks[:, None, :]) & pad[:, None, :] & pad[:, :, None]


def keys_only_padding(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Padding applied to keys only: padded query rows are not empty (fine under ``--pad-queries free``)."""
    blocks = torch.cumsum(att.long(), dim=1)
    return (blocks[:, None, :] <= blocks[:, :, None]) & pad.bool()[:, None, :]


def padding_not_counted(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Padded positions left out of the block count (SPEC §2: they count)."""
    pad = pad.bool()
    blocks = torch.cumsum((att.bool() & pad).long(), dim=1)
    return (blocks[:, None, :] <= blocks[:, :, None]) & pad[:, None, :] & pad[:, :, None]


def first_row_padding(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Batch row 0's padding applied to every row (a broadcasting slip)."""
    blocks = torch.cumsum(att.long(), dim=1)
    first = pad.bool()[0]
    return (blocks[:, None, :] <= blocks[:, :, None]) & first[None, None, :] & first[None, :, None]


def explanation_rowwise(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """The user's explanation (SPEC §3): a bidirectional token sees every real token."""
    L = pad.shape[1]
    pad = pad.bool()
    lower = torch.ones(L, L, dtype=torch.bool, device=pad.device).tril()
    return pad[:, None, :] & pad[:, :, None] & (~att.bool()[:, :, None] | lower[None])


def flipped_additive(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Additive conversion flipped: 0 where masked, the large negative value where allowed."""
    mask = _reference(pad, att)
    return torch.where(mask[:, None], torch.tensor(MASKED_VALUE), torch.tensor(0.0))


def integer_result(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Returns int64 0/1: ambiguous (is 1 "allowed" or "masked"?), so refused."""
    return _reference(pad, att).long()


def int8_blocks(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Block ids held in int8: they wrap past 127 blocks."""
    blocks = torch.cumsum(att.to(torch.int8), dim=1, dtype=torch.int8)
    pad = pad.bool()
    return (blocks[:, None, :] <= blocks[:, :, None]) & pad[:, None, :] & pad[:, :, None]


def bfloat16_blocks(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Block ids held in bfloat16 (the model dtype): exact only up to 256 blocks."""
    blocks = torch.cumsum(att.to(torch.bfloat16), dim=1)
    pad = pad.bool()
    return (blocks[:, None, :] <= blocks[:, :, None]) & pad[:, None, :] & pad[:, :, None]


def float16_blocks(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Block ids held in float16: exact only up to 2048 blocks."""
    blocks = torch.cumsum(att.to(torch.float16), dim=1)
    pad = pad.bool()
    return (blocks[:, None, :] <= blocks[:, :, None]) & pad[:, None, :] & pad[:, :, None]


def cumsum_in_input_dtype(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Correct for bool/int att, but cumsums in att's own dtype: wrong when att arrives as bfloat16."""
    blocks = torch.cumsum(att, dim=1) if att.is_floating_point() else torch.cumsum(att.long(), dim=1)
    pad = pad.bool()
    return (blocks[:, None, :] <= blocks[:, :, None]) & pad[:, None, :] & pad[:, :, None]


# --- right by another route ------------------------------------------------------------------------------

def correct_searchsorted(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Block ids via searchsorted over the positions of block starts, instead of a cumsum."""
    B, L = pad.shape
    out = torch.zeros(B, L, L, dtype=torch.bool, device=pad.device)
    positions = torch.arange(L, device=pad.device)
    for b in range(B):
        starts = positions[att[b].bool()].contiguous()
        blocks = torch.searchsorted(starts, positions, right=True)
        real = pad[b].bool()
        out[b] = (blocks[None, :] <= blocks[:, None]) & real[None, :] & real[:, None]
    return out


def correct_single_comparison(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Padding folded into the block ids, one comparison (the built-in's method, written independently)."""
    blocks = torch.cumsum(att.to(torch.int64), dim=-1)
    big = torch.iinfo(torch.int64).max
    keys = torch.where(pad.bool(), blocks, torch.full_like(blocks, big))
    queries = torch.where(pad.bool(), blocks, torch.full_like(blocks, -1))
    return keys.unsqueeze(-2) <= queries.unsqueeze(-1)


def correct_ignores_first_bit(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Forces att[:, 0] to 0 before the cumsum: legal, since the first bit never matters."""
    att = att.long().clone()
    att[:, 0] = 0
    return _reference(pad, att)


def correct_additive_finfo_min(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """A 4D additive float32 mask with ``finfo.min``, as Hugging Face transformers writes them."""
    mask = _reference(pad, att)
    bias = torch.zeros(mask.shape, dtype=torch.float32).masked_fill(~mask, torch.finfo(torch.float32).min)
    return bias[:, None]


def correct_bool_4d(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """A ``[B, 1, L, L]`` bool mask."""
    return _reference(pad, att).unsqueeze(1)


BUGS = (
    strict_less, transposed, keys_only_padding, padding_not_counted, first_row_padding, explanation_rowwise,
    flipped_additive, integer_result, int8_blocks, bfloat16_blocks, float16_blocks,
)
CORRECT = (
    correct_searchsorted, correct_single_comparison, correct_ignores_first_bit, correct_additive_finfo_min,
    correct_bool_4d,
)
