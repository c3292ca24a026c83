"""What attention does with an additive mask (SPEC §6): the masked value in each model dtype, and real outputs.

Two analyses, both PyTorch (imported lazily):

- ``masked_value_casts``: each masked value of an additive result, cast to float32, bfloat16 and float16, as it
  is when a mask built in one dtype meets a model running in another.
- ``attention_outcome``: random q, k, v through eager softmax attention (the Hugging Face recipe: logits in the
  model dtype plus the mask, softmax in float32, back to the model dtype) and through
  ``torch.nn.functional.scaled_dot_product_attention``, once with the implementation's mask cast to the model
  dtype and once with the oracle's mask in its natural form (bool for SDPA, ``0`` / ``finfo(dtype).min`` for
  eager). Real query rows must agree; padded query rows are classified as NaN, uniform or zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .decode import MASKED_THRESHOLD

MODEL_DTYPES = ("float32", "bfloat16", "float16")
# Outputs of the two masks on real rows differ only through rounding of the same operations; a wrong mask moves
# them by O(1). 16 units in the last place of the model dtype separates the two by orders of magnitude.
TOLERANCE_ULPS = 16
HEADS, HEAD_DIM = 2, 8
PATHS = ("eager", "sdpa")


def _torch() -> Any:
    import torch

    return torch


def tolerance(dtype: str) -> float:
    """Absolute and relative tolerance for outputs in ``dtype``: ``TOLERANCE_ULPS`` machine epsilons."""
    torch = _torch()
    return TOLERANCE_ULPS * float(torch.finfo(getattr(torch, dtype)).eps)


@dataclass(frozen=True)
class MaskedValue:
    """One masked value of an additive result, where it was first seen, and what it becomes in each dtype."""

    value: float
    dtype: str
    cell: tuple[int, int, int]
    casts: dict[str, float]

    def survives(self, dtype: str) -> bool:
        """Whether the value still masks, and masks the same way, in ``dtype`` (README: "survive").

        A finite value must stay finite and ``<= -1e4``; ``-inf`` chosen on purpose stays ``-inf``.
        """
        cast = self.casts[dtype]
        if math.isnan(cast):
            return False
        if math.isinf(self.value):
            return cast == -math.inf
        return math.isfinite(cast) and cast <= MASKED_THRESHOLD

    def describe(self) -> str:
        parts = []
        for name, cast in self.casts.items():
            note = ""
            if math.isinf(cast) and math.isfinite(self.value):
                note = " (overflow: fully masked rows softmax to NaN)"
            elif math.isfinite(cast) and cast > MASKED_THRESHOLD:
                note = " (no longer <= -1e4)"
            parts.append(f"{name} {_number(cast)}{note}")
        return f"{_number(self.value)} ({self.dtype}) -> " + ", ".join(parts)


def _number(value: float) -> str:
    if math.isinf(value):
        return "-inf" if value < 0 else "inf"
    return f"{value:.8g}"


def dtype_name(array: Any) -> str:
    """``float32``, ``bfloat16``, ... for a torch tensor or numpy array."""
    dtype = getattr(array, "dtype", None)
    return str(dtype).replace("torch.", "")


def masked_value_casts(result: Any) -> list[MaskedValue]:
    """The distinct masked values (``<= -1e4`` or ``-inf``) of a floating result, first cell of each, and casts."""
    torch = _torch()
    tensor = result.detach().cpu() if isinstance(result, torch.Tensor) else torch.from_numpy(np.asarray(result))
    if tensor.dim() == 4:
        tensor = tensor[:, 0]
    name = dtype_name(tensor)
    values = tensor.double()
    masked = values <= MASKED_THRESHOLD
    found: list[MaskedValue] = []
    for value in torch.unique(values[masked]).tolist():
        b, i, j = (int(x) for x in torch.nonzero(values == value)[0])
        original = torch.tensor(value, dtype=tensor.dtype)
        casts = {dtype: float(original.to(getattr(torch, dtype)).double()) for dtype in MODEL_DTYPES}
        found.append(MaskedValue(float(value), name, (b, i, j), casts))
    return found


@dataclass
class AttentionOutcome:
    """Per model dtype and path (eager, sdpa): how padded query rows came out, and the first real-row problem."""

    padded_rows: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    problem: str | None = None  # real rows: NaN or a disagreement with the oracle's mask
    nan_in_padded: str | None = None  # the first NaN in a padded row, for --nan-free


def attention_outcome(result: Any, expected: np.ndarray, pad: np.ndarray, dtypes: tuple[str, ...], seed: int,
                      outcome: AttentionOutcome | None = None) -> AttentionOutcome:
    """Run both attention paths with the implementation's additive mask and the oracle's; collect the outcome."""
    torch = _torch()
    functional = torch.nn.functional
    outcome = outcome or AttentionOutcome()
    given = result.detach().cpu() if isinstance(result, torch.Tensor) else torch.from_numpy(np.asarray(result))
    if given.dim() == 3:
        given = given[:, None]
    B, L = expected.shape[0], expected.shape[1]
    given = given.reshape((1,) * (4 - given.dim()) + tuple(given.shape))  # [L, L] and the like
    if given.shape[1] not in (1, HEADS):  # a per-head mask of another head count: each head is compared elsewhere
        given = given[:, :1]
    given = given.expand(B, given.shape[1], L, L)  # broadcastable forms: [1, 1, L, L], [B, 1, 1, L]
    allowed = torch.from_numpy(np.ascontiguousarray(expected))[:, None]
    real = torch.from_numpy(pad.copy())
    generator = torch.Generator().manual_seed(seed % 2**63)  # any --seed: torch takes 64-bit seeds
    q, k, v = (torch.randn(B, HEADS, L, HEAD_DIM, generator=generator) for _ in range(3))
    for dtype in dtypes:
        torch_dtype = getattr(torch, dtype)
        qd, kd, vd = q.to(torch_dtype), k.to(torch_dtype), v.to(torch_dtype)
        mask = given.to(torch_dtype)
        natural = torch.zeros(allowed.shape, dtype=torch_dtype).masked_fill(~allowed, torch.finfo(torch_dtype).min)
        runs = {
            "eager": (_eager(qd, kd, vd, mask), _eager(qd, kd, vd, natural)),
            "sdpa": (functional.scaled_dot_product_attention(qd, kd, vd, attn_mask=mask),
                     functional.scaled_dot_product_attention(qd, kd, vd, attn_mask=allowed)),
        }
        for path, (out, reference) in runs.items():
            out, reference = out.double(), reference.double()
            _judge_real_rows(outcome, out, reference, real, dtype, path)
            kinds = outcome.padded_rows.setdefault((dtype, path), set())
            for b, i in torch.nonzero(~real).tolist():
                row = out[b, :, i]
                kind = _padded_row_kind(row, vd.double()[b], tolerance(dtype))
                kinds.add(kind)
                if kind == "NaN" and outcome.nan_in_padded is None:
                    outcome.nan_in_padded = f"{dtype} {path}: padded query row (b={b}, query={i}) is NaN"
    return outcome


def _eager(q: Any, k: Any, v: Any, mask: Any) -> Any:
    torch = _torch()
    logits = (q @ k.transpose(-1, -2)) * (q.shape[-1] ** -0.5) + mask
    weights = torch.softmax(logits, dim=-1, dtype=torch.float32).to(q.dtype)
    return weights @ v


def _judge_real_rows(outcome: AttentionOutcome, out: Any, reference: Any, real: Any, dtype: str, path: str) -> None:
    torch = _torch()
    if outcome.problem is not None:
        return
    rows = real[:, None, :, None].expand_as(out)
    nan = torch.nonzero(torch.isnan(out) & rows)
    if len(nan):
        b, h, i, _ = nan[0].tolist()
        outcome.problem = f"{dtype} {path}: NaN in real query row (b={b}, head={h}, query={i})"
        return
    tol = tolerance(dtype)
    error = (out - reference).abs() - tol * (1 + reference.abs())
    bad = torch.nonzero((error > 0) & rows)
    if len(bad):
        b, h, i, d = bad[0].tolist()
        outcome.problem = (f"{dtype} {path}: real query row (b={b}, head={h}, query={i}) differs from the oracle "
                           f"mask's output: {out[b, h, i, d]:.6g} vs {reference[b, h, i, d]:.6g} (tolerance "
                           f"{tol:.2g})")


def _padded_row_kind(row: Any, values: Any, tol: float) -> str:
    """``NaN``, ``zero``, ``uniform`` (the mean of v over every key) or ``other`` for one padded query row."""
    torch = _torch()
    if torch.isnan(row).any():
        return "NaN"
    if (row.abs() <= tol).all():
        return "zero"
    uniform = values.mean(dim=-2)  # [heads, head_dim]: equal weight on every key
    if ((row - uniform).abs() <= tol * (1 + uniform.abs())).all():
        return "uniform"
    return "other"
