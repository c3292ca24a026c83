"""PyTorch mask implementations with known verdicts: deliberate bugs (SPEC §7) and right-by-another-route ones.

Each function is a short, plausible ``make_att_2d_masks`` port with one thing wrong (or nothing wrong, for the
``correct_*`` ones): in the mask itself, in what it does at some lengths or att dtypes, or in the calling contract
(``CONTRACT_BUGS``: inputs modified, results aliased, state kept between calls, the wrong device). The project's
tests and ``maskoracle selftest`` check that the suite kills every bug and raises no false alarm on the correct
ones. Additive biases and result shapes are in ``additive_zoo``.
"""

from __future__ import annotations

import functools
import random

import numpy as np
import torch
import torch.nn.functional as F

from .entry import ZooEntry

MASKED_VALUE = -2.3819763e38


def reference(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
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
    mask = reference(pad, att)
    return torch.where(mask[:, None], torch.tensor(MASKED_VALUE), torch.tensor(0.0))


def integer_result(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Returns int64 0/1: ambiguous (is 1 "allowed" or "masked"?), so refused."""
    return reference(pad, att).long()


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
    """Correct for bool/int att, but cumsums in att's own dtype: wrong for bfloat16 or float16 att (SPEC §7)."""
    blocks = torch.cumsum(att, dim=1) if att.is_floating_point() else torch.cumsum(att.long(), dim=1)
    pad = pad.bool()
    return (blocks[:, None, :] <= blocks[:, :, None]) & pad[:, None, :] & pad[:, :, None]


def _from_blocks(blocks: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
    """SPEC §2's comparison on given block ids, with padding on both axes (the part the bugs below keep)."""
    pad = pad.bool()
    return (blocks[:, None, :] <= blocks[:, :, None]) & pad[:, None, :] & pad[:, :, None]


def uint8_blocks(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Block ids held in uint8 (a "small unsigned counter"): they wrap to 0 past 255 blocks."""
    return _from_blocks(torch.cumsum(att.to(torch.uint8), dim=1, dtype=torch.uint8), pad)


def first_row_att(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Batch row 0's block ids used for every row (``att[:1]`` kept from a single-example prototype)."""
    blocks = torch.cumsum(att[:1].long(), dim=1).expand(att.shape[0], -1)
    return _from_blocks(blocks, pad)


def pad_keys_wrong_batch_axis(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Key padding broadcast as ``pad[None, :, :]`` (batch on the query axis): right only when B = 1."""
    blocks = torch.cumsum(att.long(), dim=1)
    pad = pad.bool()
    return (blocks[:, None, :] <= blocks[:, :, None]) & pad[:, :, None] & pad[None, :, :]


def queries_only_padding(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Padding applied to query rows only: real tokens attend padded keys."""
    blocks = torch.cumsum(att.long(), dim=1)
    return (blocks[:, None, :] <= blocks[:, :, None]) & pad.bool()[:, :, None]


def padded_query_sees_itself(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """The diagonal forced on to avoid fully masked rows: padded queries attend themselves (SPEC §2: nothing)."""
    L = pad.shape[1]
    return reference(pad, att) | torch.eye(L, dtype=torch.bool, device=pad.device)


def left_padding_as_right(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Padding rebuilt from the real-token count as right padding: wrong for left padding and holes."""
    L = pad.shape[1]
    lengths = pad.long().sum(dim=1)
    rebuilt = torch.arange(L, device=pad.device)[None, :] < lengths[:, None]
    return reference(rebuilt, att)


def arguments_swapped(att_masks: torch.Tensor, pad_masks: torch.Tensor) -> torch.Tensor:
    """Parameters in the order ``(att_masks, pad_masks)``: padding is read from att and blocks from pad."""
    return reference(pad_masks, att_masks)


def exclusive_cumsum(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Exclusive block ids (``cumsum - att``): a block's first token is counted in the block before it."""
    att = att.long()
    return _from_blocks(torch.cumsum(att, dim=1) - att, pad)


def shifted_block_ids(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Drops the (irrelevant) first att bit but pads the cumsum back on the wrong side: ``F.pad(.., (0, 1))``."""
    blocks = F.pad(torch.cumsum(att[:, 1:].long(), dim=1), (0, 1))  # (1, 0) would be right
    return _from_blocks(blocks, pad)


def clamped_block_ids(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """0-based block ids as ``(cumsum - 1).clamp(min=0)``: merges a leading att-0 run into the next block."""
    blocks = (torch.cumsum(att.long(), dim=1) - 1).clamp(min=0)
    return _from_blocks(blocks, pad)


def causal_within_blocks(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Causal inside every block as well (``& tril``): blocks are meant to be bidirectional."""
    L = pad.shape[1]
    lower = torch.ones(L, L, dtype=torch.bool, device=pad.device).tril()
    return reference(pad, att) & lower


def all_zero_att_causal(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """An all-zero att read as "no att given" and replaced by causal (SPEC §2: it means fully bidirectional)."""
    if not att.bool().any():
        att = torch.ones_like(att)
    return reference(pad, att)


def query_blocks_skip_padding(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Query block ids count real tokens only, key ids every position: left-padded real rows can see nothing."""
    att = att.long()
    query_blocks = torch.cumsum(att * pad.long(), dim=1)
    key_blocks = torch.cumsum(att, dim=1)
    pad = pad.bool()
    return (key_blocks[:, None, :] <= query_blocks[:, :, None]) & pad[:, None, :] & pad[:, :, None]


def ignores_att(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Ignores att and returns the causal mask with padding: right only when every att is 1 (``--layout causal``)."""
    L = pad.shape[1]
    lower = torch.ones(L, L, dtype=torch.bool, device=pad.device).tril()
    pad = pad.bool()
    return lower[None] & pad[:, None, :] & pad[:, :, None]


@functools.cache
def _lower_triangle_1024() -> torch.Tensor:
    return torch.ones(1024, 1024).tril()


def cached_triangle_1024(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Cumsum as a matmul with a cached 1024 x 1024 triangle (an accelerator trick): raises past L = 1024."""
    L = pad.shape[1]
    triangle = _lower_triangle_1024()[:L, :L].to(pad.device)
    blocks = att.float() @ triangle.T  # exact: integer sums far below 2**24
    return _from_blocks(blocks, pad)


QUERY_CHUNK = 512


def chunked_rows_causal_shortcut(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Query rows in chunks of 512, each against keys up to its chunk's end: a block crossing a chunk is cut."""
    B, L = pad.shape
    blocks = torch.cumsum(att.long(), dim=1)
    pad = pad.bool()
    out = torch.zeros(B, L, L, dtype=torch.bool, device=pad.device)
    for start in range(0, L, QUERY_CHUNK):
        end = min(start + QUERY_CHUNK, L)  # keys past ``end`` assumed unseen, as they would be if causal
        allowed = blocks[:, None, :end] <= blocks[:, start:end, None]
        out[:, start:end, :end] = allowed & pad[:, None, :end] & pad[:, start:end, None]
    return out


def single_sequence_only(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Written for one sequence (``.view(L)``): raises for batches of more than one row."""
    L = pad.shape[-1]
    pad, att = pad.view(L).bool(), att.view(L).long()
    blocks = torch.cumsum(att, dim=0)
    mask = (blocks[None, :] <= blocks[:, None]) & pad[None, :] & pad[:, None]
    return mask[None]


LONG_ROWS = 256  # past this length the two issue-15 bugs below take their "fast" path


def _blocks_fast_path(pad: torch.Tensor, att: torch.Tensor, keys_padded_in_block: bool) -> torch.Tensor:
    blocks = torch.cumsum(att.long(), dim=1)
    pad = pad.bool()
    if pad.shape[1] <= LONG_ROWS:
        return (blocks[:, None, :] <= blocks[:, :, None]) & pad[:, None, :] & pad[:, :, None]
    # Long rows: a block's own keys as one broadcast "same block" tile, earlier blocks as another.
    same = blocks[:, None, :] == blocks[:, :, None]
    if keys_padded_in_block:
        same = same & pad[:, None, :]
    earlier = (blocks[:, None, :] < blocks[:, :, None]) & pad[:, None, :]
    return (same | earlier) & pad[:, :, None]


def long_rows_forget_block_padding(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """A fast path for rows past 256 tokens forgets key padding inside a query's own block (padded language
    inside a bidirectional prefix is seen)."""
    return _blocks_fast_path(pad, att, keys_padded_in_block=False)


def _as_if_contiguous(array: torch.Tensor) -> torch.Tensor:
    """What a native kernel that reads ``data_ptr()`` row-major sees: right only for contiguous inputs."""
    B, L = array.shape
    return torch.as_strided(array, (B, L), (L, 1))


def assumes_contiguous_inputs(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """A native kernel that reads its inputs as contiguous row-major memory: wrong for ``x[:, :L]`` of a wider
    buffer, strided or column-major inputs."""
    return reference(_as_if_contiguous(pad), _as_if_contiguous(att))


def clears_first_att_bit_in_place_when_long(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Past 256 tokens (a chunked path) clears ``att[:, 0]`` in place through ``att.bool()``: the caller's att
    changes on long inputs only."""
    if pad.shape[1] > LONG_ROWS:
        att = att.bool()
        att[:, 0] = False
    return reference(pad, att)


# --- bugs in the calling contract: the values are right, the behaviour around them is not --------------------

def clears_first_att_bit_in_place(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Clears ``att[:, 0]`` through ``att.bool()``, which is no copy for bool att: the caller's att changes."""
    att = att.bool()
    att[:, 0] = False  # legal for the mask (the first bit never matters), not for the caller's tensor
    return reference(pad, att)


def cumsum_in_place(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """``att.long().cumsum_(1)``: ``.long()`` is no copy for int64 att, so the caller's att becomes block ids."""
    blocks = att.long()
    blocks.cumsum_(dim=1)
    return _from_blocks(blocks, pad)


def unsqueezes_pad_in_place(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """``pad.unsqueeze_(1)`` to broadcast over queries: the caller's pad_masks is left with shape [B, 1, L]."""
    blocks = torch.cumsum(att.long(), dim=1)
    keys = pad.unsqueeze_(1).bool()
    return (blocks[:, None, :] <= blocks[:, :, None]) & keys & keys.transpose(1, 2)


def bidirectional_fast_path_view(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """A fast path for no padding and att all 0 returns ``pad[:, None, :].expand(..)``: a view of the input."""
    B, L = pad.shape
    if bool(pad.all()) and not bool(att[:, 1:].bool().any()):
        return pad[:, None, :].expand(B, L, L)
    return reference(pad, att)


_FLAKY = random.Random(20_240_601)  # private: Hypothesis reseeds the global ``random`` for every example


def flaky_cell(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Flips one random cell in about 1 call in 20 (a racy kernel): the same input may give another mask."""
    mask = reference(pad, att)
    if _FLAKY.random() < 1 / 20:
        B, L = pad.shape
        b, query, key = _FLAKY.randrange(B), _FLAKY.randrange(L), _FLAKY.randrange(L)
        mask[b, query, key] = ~mask[b, query, key]
    return mask


_CACHE: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}


def cached_by_id(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Memoises masks by ``id(pad)`` and shape: a new tensor that reuses a freed one's id gets a stale mask."""
    key = (id(pad), tuple(pad.shape))
    if key not in _CACHE:
        _CACHE[key] = reference(pad, att)
    return _CACHE[key]


_WORKSPACE: list[torch.Tensor] = []  # one preallocated output, replaced when the shape changes


def reused_output_buffer(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Returns one preallocated output buffer every call: the next call of the same shape overwrites the result."""
    B, L = pad.shape
    if not _WORKSPACE or _WORKSPACE[0].shape != (B, L, L) or _WORKSPACE[0].device != pad.device:
        _WORKSPACE[:] = [torch.empty(B, L, L, dtype=torch.bool, device=pad.device)]
    out = _WORKSPACE[0]
    blocks = torch.cumsum(att.long(), dim=1)
    torch.le(blocks[:, None, :], blocks[:, :, None], out=out)
    out &= pad.bool()[:, None, :]
    out &= pad.bool()[:, :, None]
    return out


def numpy_round_trip_on_cpu(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Computed in NumPy and wrapped with ``torch.from_numpy``: the result is on the CPU for CUDA inputs."""
    pad_np = pad.bool().cpu().numpy()
    blocks = np.cumsum(att.long().cpu().numpy(), axis=1)
    mask = (blocks[:, None, :] <= blocks[:, :, None]) & pad_np[:, None, :] & pad_np[:, :, None]
    return torch.from_numpy(mask)


def correct_long_rows_block_fast_path(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """The long-row fast path of ``long_rows_forget_block_padding``, with key padding applied inside the block."""
    return _blocks_fast_path(pad, att, keys_padded_in_block=True)


def correct_contiguous_first(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """The native kernel of ``assumes_contiguous_inputs``, handed ``.contiguous()`` copies first."""
    return reference(_as_if_contiguous(pad.contiguous()), _as_if_contiguous(att.contiguous()))


def correct_clears_first_att_bit_of_a_copy(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Clears ``att[:, 0]`` (it never matters, SPEC §2) of a copy, on long inputs."""
    if pad.shape[1] > LONG_ROWS:
        att = att.bool().clone()
        att[:, 0] = False
    return reference(pad, att)


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
    return reference(pad, att)


def correct_additive_finfo_min(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """A 4D additive float32 mask with ``finfo.min``, as Hugging Face transformers writes them."""
    mask = reference(pad, att)
    bias = torch.zeros(mask.shape, dtype=torch.float32).masked_fill(~mask, torch.finfo(torch.float32).min)
    return bias[:, None]


def correct_bool_4d(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """A ``[B, 1, L, L]`` bool mask."""
    return reference(pad, att).unsqueeze(1)


def correct_cummax_starts(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Block ids replaced by each token's block start (``cummax`` of start positions): same order, no count."""
    L = pad.shape[1]
    positions = torch.arange(L, device=pad.device).expand_as(pad)
    starts = torch.where(att.bool(), positions, torch.full_like(positions, -1))
    return _from_blocks(torch.cummax(starts, dim=1).values, pad)


def correct_block_by_block(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Filled block by block with slices: a block's rows see every key up to the block's end."""
    B, L = pad.shape
    out = torch.zeros(B, L, L, dtype=torch.bool, device=pad.device)
    for b in range(B):
        starts = [0, *(int(i) for i in torch.nonzero(att[b, 1:].bool()).flatten() + 1), L]
        for start, end in zip(starts[:-1], starts[1:], strict=True):
            out[b, start:end, :end] = True
    real = pad.bool()
    return out & real[:, None, :] & real[:, :, None]


ENTRIES: list[ZooEntry] = [
    ZooEntry("strict_less", strict_less),
    ZooEntry("transposed", transposed),
    ZooEntry("keys_only_padding", keys_only_padding),
    ZooEntry("padding_not_counted", padding_not_counted),
    ZooEntry("first_row_padding", first_row_padding),
    ZooEntry("explanation_rowwise", explanation_rowwise),
    ZooEntry("flipped_additive", flipped_additive),
    ZooEntry("integer_result", integer_result),
    ZooEntry("int8_blocks", int8_blocks, size_dependent=True),
    ZooEntry("bfloat16_blocks", bfloat16_blocks, size_dependent=True),
    ZooEntry("float16_blocks", float16_blocks, size_dependent=True),
    ZooEntry("cumsum_in_input_dtype", cumsum_in_input_dtype, options={"att_dtype": "bfloat16"}, size_dependent=True),
    ZooEntry("cumsum_in_input_dtype_float16_att", cumsum_in_input_dtype, options={"att_dtype": "float16"},
             size_dependent=True),
    ZooEntry("uint8_blocks", uint8_blocks, size_dependent=True),
    ZooEntry("first_row_att", first_row_att),
    ZooEntry("pad_keys_wrong_batch_axis", pad_keys_wrong_batch_axis),
    ZooEntry("queries_only_padding", queries_only_padding),
    ZooEntry("padded_query_sees_itself", padded_query_sees_itself),
    ZooEntry("left_padding_as_right", left_padding_as_right),
    ZooEntry("arguments_swapped", arguments_swapped),
    ZooEntry("exclusive_cumsum", exclusive_cumsum),
    ZooEntry("shifted_block_ids", shifted_block_ids),
    ZooEntry("clamped_block_ids", clamped_block_ids),
    ZooEntry("causal_within_blocks", causal_within_blocks),
    ZooEntry("all_zero_att_causal", all_zero_att_causal),
    ZooEntry("query_blocks_skip_padding", query_blocks_skip_padding),
    ZooEntry("ignores_att", ignores_att),
    ZooEntry("cached_triangle_1024", cached_triangle_1024, size_dependent=True),
    ZooEntry("chunked_rows_causal_shortcut", chunked_rows_causal_shortcut, size_dependent=True),
    ZooEntry("single_sequence_only", single_sequence_only),
    ZooEntry("clears_first_att_bit_in_place", clears_first_att_bit_in_place),
    ZooEntry("cumsum_in_place", cumsum_in_place, options={"att_dtype": "int64"}),
    ZooEntry("unsqueezes_pad_in_place", unsqueezes_pad_in_place),
    ZooEntry("bidirectional_fast_path_view", bidirectional_fast_path_view),
    ZooEntry("long_rows_forget_block_padding", long_rows_forget_block_padding, size_dependent=True),
    ZooEntry("assumes_contiguous_inputs", assumes_contiguous_inputs),
    ZooEntry("clears_first_att_bit_in_place_when_long", clears_first_att_bit_in_place_when_long,
             size_dependent=True),
    ZooEntry("flaky_cell", flaky_cell, history_dependent=True),
    ZooEntry("cached_by_id", cached_by_id, history_dependent=True),
    ZooEntry("reused_output_buffer", reused_output_buffer, history_dependent=True),
    ZooEntry("numpy_round_trip_on_cpu", numpy_round_trip_on_cpu, options={"device": "cuda"}),
    ZooEntry("correct_searchsorted", correct_searchsorted, equivalent=True),
    ZooEntry("correct_single_comparison", correct_single_comparison, equivalent=True),
    ZooEntry("correct_ignores_first_bit", correct_ignores_first_bit, equivalent=True),
    ZooEntry("correct_additive_finfo_min", correct_additive_finfo_min, equivalent=True),
    ZooEntry("correct_bool_4d", correct_bool_4d, equivalent=True),
    ZooEntry("cumsum_in_input_dtype_bool_att", cumsum_in_input_dtype, equivalent=True),
    # float32 holds every integer up to 2**24: no [B, L, L] mask that fits in memory is long enough to break it.
    ZooEntry("cumsum_in_input_dtype_float32_att", cumsum_in_input_dtype, options={"att_dtype": "float32"},
             equivalent=True),
    ZooEntry("correct_cummax_starts", correct_cummax_starts, equivalent=True),
    ZooEntry("correct_block_by_block", correct_block_by_block, equivalent=True),
    ZooEntry("correct_long_rows_block_fast_path", correct_long_rows_block_fast_path, equivalent=True),
    ZooEntry("correct_contiguous_first", correct_contiguous_first, equivalent=True),
    ZooEntry("correct_clears_first_att_bit_of_a_copy", correct_clears_first_att_bit_of_a_copy, equivalent=True),
    # Bugs above that are right under the option a user of them would pass (SPEC §3, §4; --layout).
    ZooEntry("keys_only_padding_pad_queries_free", keys_only_padding, options={"pad_queries": "free"},
             equivalent=True),
    ZooEntry("explanation_rowwise_spec_rowwise", explanation_rowwise, options={"spec": "rowwise"}, equivalent=True),
    ZooEntry("ignores_att_layout_causal", ignores_att, options={"layout": "causal"}, equivalent=True),
]

# Bugs that one call's values, compared with the oracle, cannot reliably show: the mask is right but the calling
# contract is broken (an input modified, the result a view of an input or of an earlier result, on another
# device, wrong only for inputs in another memory layout), or the result depends on earlier calls (a flaky cell,
# a stale cache).
CONTRACT_BUGS = frozenset({
    "assumes_contiguous_inputs",
    "clears_first_att_bit_in_place", "clears_first_att_bit_in_place_when_long", "cumsum_in_place", "unsqueezes_pad_in_place", "bidirectional_fast_path_view",
    "flaky_cell", "cached_by_id", "reused_output_buffer", "numpy_round_trip_on_cpu",
})

BUGS = tuple(entry.fn for entry in ENTRIES if not entry.equivalent)
# Right under the default options (a function that is a bug elsewhere is right only under its entry's options).
CORRECT = tuple(entry.fn for entry in ENTRIES if entry.equivalent and not entry.options and entry.fn not in BUGS)
