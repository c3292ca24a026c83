"""Implementation kinds: what TARGET returns, and how it becomes a ``fn(pad, att) -> mask`` the checks can call.

``mask`` (the default) is TARGET itself. The FlexAttention kinds (PyTorch's ``torch.nn.attention.flex_attention``)
wrap it:

- ``mask_mod``: ``TARGET(pad, att)`` returns ``mask_mod(b, h, q_idx, kv_idx) -> bool``. It is materialised with
  ``create_mask`` (``torch.vmap`` over every ``(b, h, q, kv)``), as FlexAttention evaluates it.
- ``block_mask``: ``TARGET(pad, att)`` returns a ``BlockMask`` (``create_block_mask(...)``). It is decoded into
  the mask FlexAttention really applies: a *full* block allows every cell without calling ``mask_mod``, a
  *partial* block applies ``mask_mod``, a block not listed masks every cell. So a block structure built for
  another batch row (``B=None``), a block wrongly marked full, or a block left out is seen cell by cell.

torch is imported lazily, so the core works with only numpy installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import UnreadableResult, UsageError


class MaskModError(UnreadableResult):
    """A ``mask_mod`` that FlexAttention cannot evaluate, or a result of the wrong kind; the message says why."""


def flex_module() -> Any:
    """``torch.nn.attention.flex_attention``; ``UsageError`` where this torch has none."""
    try:
        from torch.nn.attention import flex_attention
    except ImportError:
        raise UsageError("--kind mask_mod/block_mask needs torch >= 2.5 (torch.nn.attention.flex_attention)") \
            from None
    return flex_attention


def require_flex(kind: str, framework: str) -> None:
    """``UsageError`` unless a FlexAttention kind can run: PyTorch with ``flex_attention``."""
    if framework != "torch":
        raise UsageError(f"--kind {kind} is a PyTorch FlexAttention form; use it with --framework torch")
    flex_module()


def wrap_kind(fn: Callable[[Any, Any], Any], kind: str) -> Callable[[Any, Any], Any]:
    """``fn`` as a ``fn(pad, att) -> mask`` the checks call; the FlexAttention kinds are materialised."""
    if kind == "mask_mod":
        def materialised_mask_mod(pad: Any, att: Any) -> Any:
            B, L = pad.shape
            return materialise_mask_mod(_mask_mod_of(fn(pad, att)), B, L, pad.device)

        return materialised_mask_mod
    if kind == "block_mask":
        def materialised_block_mask(pad: Any, att: Any) -> Any:
            B, L = pad.shape
            with recording_create_mask() as evaluated:
                block_mask = fn(pad, att)
            return block_mask_to_dense(block_mask, B, L, evaluated)

        return materialised_block_mask
    return fn


def _mask_mod_of(value: Any) -> Callable[..., Any]:
    if not callable(value):
        raise MaskModError(f"the factory returned {type(value).__name__}, not a mask_mod; expected "
                           "mask_mod(b, h, q_idx, kv_idx) -> bool tensor")
    return value  # type: ignore[no-any-return]


# Up to this many cells a mask_mod is evaluated under one vmap over the flattened (b, h, q, kv) grid rather than
# create_mask's four nested ones: each tensor index inside a mask_mod costs torch a few milliseconds per vmap
# level, so small masks (most calls of a check) are about 2.5x cheaper; past it the nested form's broadcast
# indexing is faster. vmap applies the function to each cell alone in both forms, so the cells are the same.
FLAT_VMAP_MAX_CELLS = 4096


def materialise_mask_mod(mask_mod: Callable[..., Any], B: int, L: int, device: Any = "cpu",
                         heads: int = 1) -> Any:
    """Bool ``[B, heads, L, L]``: ``mask_mod`` at every cell, vmapped as FlexAttention evaluates it.

    A mask_mod that is not vmappable (Python ``if`` / ``and`` / ``.item()`` on a tensor) raises
    ``MaskModError`` saying so: FlexAttention could not use it either.
    """
    flex = flex_module()
    if B * heads * L * L <= FLAT_VMAP_MAX_CELLS:
        flat = _flat_vmap_mask(mask_mod, B, heads, L, device)
        if flat is not None:
            return _as_bool(flat, "the mask_mod")
    try:
        mask = flex.create_mask(mask_mod, B, heads, L, L, device=device)
    except MaskModError:
        raise
    except Exception as error:
        text = str(error).strip().splitlines()
        reason = f"{type(error).__name__}: {text[0] if text else ''}"
        hint = (" (data-dependent Python control flow such as `if`, `and`, `or` or `.item()` on a tensor; "
                "write it with &, |, ~ and torch.where)") if "vmap" in reason else ""
        raise MaskModError(f"the mask_mod cannot be evaluated by FlexAttention's vmap{hint}: {reason}") from None
    return _as_bool(mask, "the mask_mod")


def _flat_vmap_mask(mask_mod: Callable[..., Any], B: int, heads: int, L: int, device: Any) -> Any:
    """``create_mask``'s cells from one vmap over every ``(b, h, q, kv)``; ``None`` where that raises or does not
    give one value per cell (``create_mask`` then runs, and reports the mask_mod's error in its own words)."""
    import torch
    from torch._dynamo._trace_wrapped_higher_order_op import TransformGetItemToIndex

    shape = (B, heads, L, L)
    axes = [torch.arange(size, device=device).view([size if axis == k else 1 for k in range(4)])
            for axis, size in enumerate(shape)]
    grid = [axis.expand(shape).reshape(-1) for axis in axes]
    try:
        with TransformGetItemToIndex():
            cells = torch.vmap(mask_mod)(*grid)
    except Exception:
        return None
    if not isinstance(cells, torch.Tensor) or tuple(cells.shape) != (B * heads * L * L,):
        return None
    return cells.view(shape)


class recording_create_mask:
    """Records the masks ``create_mask`` computes while the block is open (``create_block_mask`` computes one
    from its mask_mod): decoding the BlockMask then reuses it instead of evaluating the mask_mod a second time.

    Entries are keyed by the mask_mod object and the grid ``(B, H, Q_LEN, KV_LEN)``; torch's own function is put
    back when the block closes, whatever happens inside it.
    """

    def __init__(self) -> None:
        self.masks: dict[tuple[int, int, int, int, int], tuple[Any, Any]] = {}

    def __enter__(self) -> recording_create_mask:
        flex = flex_module()
        self._original = original = flex.create_mask

        def create_mask(mod_fn: Any, B: Any, H: Any, Q_LEN: int, KV_LEN: int, device: Any = None) -> Any:
            mask = original(mod_fn, B, H, Q_LEN, KV_LEN, device)
            key = (id(mod_fn), B or 1, H or 1, int(Q_LEN), int(KV_LEN))
            self.masks[key] = (mod_fn, mask)  # the function is kept, so its id cannot be reused meanwhile
            return mask

        flex.create_mask = create_mask
        return self

    def __exit__(self, *exc_info: Any) -> None:
        flex_module().create_mask = self._original

    def get(self, mask_mod: Any, B: int, heads: int, L: int) -> Any:
        """The recorded bool ``[B, heads, L, L]`` mask of ``mask_mod``, or ``None``."""
        import torch

        entry = self.masks.get((id(mask_mod), B, heads, L, L))
        if entry is None or entry[0] is not mask_mod:
            return None
        mask = entry[1]
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or tuple(mask.shape) != (B, heads, L, L):
            return None
        return mask


def _as_bool(mask: Any, what: str) -> Any:
    import torch

    if not isinstance(mask, torch.Tensor):
        raise MaskModError(f"{what} returned {type(mask).__name__}; expected a bool tensor (True = may attend)")
    if mask.dtype != torch.bool:
        raise MaskModError(f"{what} returned dtype {mask.dtype}; a mask_mod returns bool (True = may attend)")
    return mask


def block_mask_to_dense(block_mask: Any, B: int, L: int, evaluated: recording_create_mask | None = None) -> Any:
    """The bool ``[B, 1, L, L]`` mask that FlexAttention applies with ``block_mask`` to a batch of ``B``.

    Its batch and head axes broadcast as FlexAttention broadcasts them; every head must give the same mask
    (the spec has none of its own). ``MaskModError`` for anything that is not a ``BlockMask`` of length ``L``.
    ``evaluated``: what ``create_mask`` computed while the BlockMask was built; the mask_mod's cells are taken
    from there when it holds them for this batch, else the mask_mod is evaluated here.
    """
    import torch

    flex = flex_module()
    if not isinstance(block_mask, flex.BlockMask):
        raise MaskModError(f"returned {type(block_mask).__name__}, not a BlockMask; expected "
                           "create_block_mask(mask_mod, B, H, L, L)")
    if tuple(block_mask.seq_lengths) != (L, L):
        built = tuple(int(length) for length in block_mask.seq_lengths)
        raise MaskModError(f"the BlockMask was built for (Q_LEN, KV_LEN) = {built}, but the inputs have length "
                           f"L = {L}: build it for the inputs' length, create_block_mask(mask_mod, B, H, L, L) with "
                           "L = pad_masks.shape[1] (not a fixed or rounded-up length)")
    mask_B, heads = int(block_mask.kv_num_blocks.shape[0]), int(block_mask.kv_num_blocks.shape[1])
    if mask_B not in (1, B):
        raise MaskModError(f"the BlockMask has batch size {mask_B}; the inputs have B = {B}")
    partial, full = block_states(block_mask)
    q_block, kv_block = block_mask.BLOCK_SIZE
    cells = evaluated.get(block_mask.mask_mod, B, heads, L) if evaluated is not None else None
    if cells is None:
        cells = materialise_mask_mod(block_mask.mask_mod, B, L, block_mask.kv_indices.device, heads)

    def to_cells(blocks: Any) -> Any:
        expanded = blocks.repeat_interleave(q_block, dim=-2).repeat_interleave(kv_block, dim=-1)
        return expanded[..., :L, :L].expand(B, heads, L, L)

    dense = to_cells(full) | (to_cells(partial) & cells)
    for head in range(1, heads):
        differ = torch.nonzero(dense[:, head] != dense[:, 0])
        if len(differ):
            b, i, j = (int(x) for x in differ[0])
            raise MaskModError(f"head {head} differs from head 0 at cell (b={b}, query={i}, key={j}); the spec "
                               "gives every head the same mask")
    return dense[:, :1]


def block_states(block_mask: Any) -> tuple[Any, Any]:
    """Bool ``[B, H, q_blocks, kv_blocks]`` grids: the blocks listed as partial, and those listed as full."""
    import torch

    def grid(num_blocks: Any, indices: Any) -> Any:
        *batch, rows, width = indices.shape
        columns = max(width, int(-(-block_mask.seq_lengths[1] // block_mask.BLOCK_SIZE[1])))
        listed = torch.arange(width, device=indices.device) < num_blocks[..., None]
        dense = torch.zeros((*batch, rows, columns + 1), dtype=torch.bool, device=indices.device)
        # Entries past num_blocks are undefined: send them to a spare column and drop it.
        target = torch.where(listed, indices.long(), columns)
        dense.scatter_(-1, target, True)
        return dense[..., :columns]

    partial = grid(block_mask.kv_num_blocks, block_mask.kv_indices)
    if block_mask.full_kv_num_blocks is None:
        return partial, torch.zeros_like(partial)
    return partial, grid(block_mask.full_kv_num_blocks, block_mask.full_kv_indices)


def oracle_block_states(expected: np.ndarray, compared_rows: np.ndarray,
                        block_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """From the oracle's bool ``[B, L, L]``: which blocks hold an allowed compared cell, which are all allowed.

    Cells of rows that are not compared (padded queries under ``--pad-queries free``) may be anything.
    """
    B, L, _ = expected.shape
    q_block, kv_block = block_size
    rows, columns = -(-L // q_block), -(-L // kv_block)
    needed = np.zeros((B, rows, columns), dtype=bool)
    all_allowed = np.zeros((B, rows, columns), dtype=bool)
    for r in range(rows):
        for c in range(columns):
            cells = expected[:, r * q_block:(r + 1) * q_block, c * kv_block:(c + 1) * kv_block]
            compared = compared_rows[:, r * q_block:(r + 1) * q_block, None]
            needed[:, r, c] = (cells & compared).any(axis=(1, 2))
            all_allowed[:, r, c] = (cells | ~compared).all(axis=(1, 2))
    return needed, all_allowed


def block_mask_states(factory: Callable[[Any, Any], Any], pad: Any, att: Any
                      ) -> tuple[tuple[int, int], np.ndarray, np.ndarray, np.ndarray]:
    """What ``create_block_mask`` makes of the factory's mask_mod on ``(pad, att)``: its ``BLOCK_SIZE``, the mask
    FlexAttention applies with it (bool ``[B, L, L]``), and its partial and full block grids (bool ``[B, Q, K]``
    blocks), all as numpy: the values a check reads, wherever the factory runs."""
    B, L = pad.shape
    mask_mod = factory(pad, att)
    block_mask = flex_module().create_block_mask(mask_mod, B, None, L, L, device=pad.device, _compile=False)
    applied = block_mask_to_dense(block_mask, B, L)[:, 0].cpu().numpy()
    partial, full = (grid[:, 0].cpu().numpy() for grid in block_states(block_mask))
    q_block, kv_block = block_mask.BLOCK_SIZE
    return (int(q_block), int(kv_block)), applied, partial, full

