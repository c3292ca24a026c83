"""Checks of what attention does with the mask (SPEC §6) and of FlexAttention block masks.

- ``block_mask_ragged`` (``--kind mask_mod``): the user's mask_mod turned into a ``BlockMask`` with
  ``create_block_mask`` at lengths that are not multiples of the block size; its blocks and the mask
  FlexAttention applies with it must match the oracle.
- ``masked_values``: each masked value of an additive result and what it becomes in float32, bfloat16 and
  float16; with ``--model-dtypes`` a value that does not survive a declared dtype fails.
- ``attention_outputs``: random q, k, v through eager attention and SDPA with the implementation's mask and with
  the oracle's; real rows must agree, padded rows are reported (NaN, uniform, zero), NaN fails with ``--nan-free``.

Each runs only where it applies and is skipped, with the reason, elsewhere. The torch code is in
``adapters/flex.py`` and ``checking/attention_math.py``, imported only when a check runs (torch is optional).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...adapters.flex import oracle_block_states
from ...strategies import MaskExample, boundary_examples
from ...strategies.families import bit_rows, fits
from ..attention_math import AttentionOutcome, MaskedValue, attention_outcome, dtype_name, masked_value_casts
from ..calling import call_implementation, helper_call
from ..engine import CheckState, run_fixed
from ..results import CheckResult, Counterexample, Failure
from ..runner import Runner
from ..units import Check, Context

# Lengths that are not multiples of FlexAttention's default block size (128): the last block is ragged.
RAGGED_LENGTHS = (130, 200, 257)

DESCRIPTIONS = {
    "block_mask_ragged": "--kind mask_mod: a BlockMask built from the mask_mod at lengths that are not multiples "
                         "of the block size (129, 130, 200, 257, ...) lists the right blocks and masks the right "
                         "cells",
    "masked_values": "additive results: each masked value and what it becomes in float32, bfloat16 and float16; "
                     "with --model-dtypes it must stay finite and <= -1e4 in each declared dtype",
    "attention_outputs": "additive results: eager attention and SDPA with the mask agree with the oracle's mask on "
                         "real query rows; padded rows reported as NaN / uniform / zero per dtype (--nan-free: "
                         "NaN fails)",
}


def _is_additive(runner: Runner, result: Any) -> bool:
    try:
        array = runner.adapter.to_numpy(result)
    except Exception:
        return False
    return bool(np.issubdtype(array.dtype, np.floating)) and array.ndim in (3, 4)


def _needs_torch(state: CheckState) -> CheckResult | None:
    try:
        import torch  # noqa: F401
    except ImportError:
        return state.result("skipped", "needs PyTorch: pip install 'maskoracle[torch]'")
    return None


def masked_values(runner: Runner, model_dtypes: tuple[str, ...], examples: list[MaskExample],
                  state: CheckState) -> CheckResult:
    """The masked values of an additive result, their casts, and (with ``model_dtypes``) whether they survive."""
    seen: dict[float, tuple[MaskedValue, MaskExample]] = {}
    additive = False
    for example in examples:
        call = runner.call_or_none(example.pad_masks, example.att_masks)
        if call is None or not _is_additive(runner, call.result):
            continue
        if not additive:  # torch (seconds to import) only once an additive result needs it
            missing = _needs_torch(state)
            if missing:
                return missing
        additive = True
        state.examples += 1
        result = call.result if hasattr(call.result, "detach") else runner.adapter.to_numpy(call.result)
        for value in masked_value_casts(result):
            seen.setdefault(value.value, (value, example))
    if not additive:
        return state.result("skipped", "applies to additive float results; this one is not additive")
    if not seen:
        return state.result("passed", "no masked cell in these inputs")
    report = "; ".join(value.describe() for value, _ in seen.values())
    for value, example in seen.values():
        for dtype in model_dtypes:
            if not value.survives(dtype):
                b, i, j = value.cell
                became = value.describe().split(" -> ")[1]
                return state.result(
                    "failed",
                    f"masked value {value.value:.8g} ({value.dtype}) at cell (b={b}, query={i}, key={j}) does not "
                    f"survive --model-dtypes {dtype}: {became}. Use torch.finfo({dtype}).min, or -inf if fully "
                    "masked rows are handled",
                    Counterexample(example.pad_masks.copy(), example.att_masks.copy(),
                                   note=f"masked value {value.value:.8g} in {dtype}"))
    declared = f" (survives {', '.join(model_dtypes)})" if model_dtypes else ""
    return state.result("passed", f"masked value{'s' if len(seen) > 1 else ''} {report}{declared}")


def attention_outputs(runner: Runner, model_dtypes: tuple[str, ...], nan_free: bool, seed: int,
                      examples: list[MaskExample], state: CheckState) -> CheckResult:
    """Attention with the implementation's additive mask against attention with the oracle's (SPEC §6)."""
    outcome = AttentionOutcome()
    dtypes: tuple[str, ...] = model_dtypes
    for example in examples:
        call = runner.call_or_none(example.pad_masks, example.att_masks)
        if call is None or not _is_additive(runner, call.result):
            continue
        missing = _needs_torch(state)  # only once a result is additive: torch takes seconds to import
        if missing:
            return missing
        pad, att = example.pad_masks, example.att_masks
        try:
            runner.decode(call, pad, att)
        except Failure:
            continue  # not a mask at all: output_format and the equivalence checks report it
        if not dtypes:
            own = dtype_name(call.result)
            dtypes = (own if own in ("float32", "bfloat16", "float16") else "float32",)
        attention_outcome(call.result, runner.expected(pad, att), pad, dtypes, seed + state.examples, outcome)
        state.examples += 1
        counterexample = Counterexample(pad.copy(), att.copy(), note="attention outputs")
        if outcome.problem:
            return state.result("failed", outcome.problem, counterexample)
        if nan_free and outcome.nan_in_padded:
            return state.result("failed", f"--nan-free: {outcome.nan_in_padded} (a fully masked row with -inf, "
                                "or a masked value that overflows the dtype; such rows poison losses and "
                                "gradients)", counterexample)
    if not state.examples:
        return state.result("skipped", "applies to additive float results; this one is not additive")
    rows = []
    for dtype in dtypes:
        kinds = [f"{path} {'/'.join(sorted(outcome.padded_rows.get((dtype, path), set()))) or '-'}"
                 for path in ("eager", "sdpa")]
        rows.append(f"{dtype}: {', '.join(kinds)}")
    return state.result("passed", "real rows agree with the oracle's mask; padded query rows: " + "; ".join(rows))


def block_mask_ragged(runner: Runner, factory: Callable[[Any, Any], Any], examples: list[MaskExample],
                      state: CheckState) -> CheckResult:
    """``create_block_mask`` on the user's mask_mod at ragged lengths: blocks and applied cells vs the oracle."""

    def body(example: MaskExample) -> None:
        pad, att = example.pad_masks, example.att_masks
        B, L = pad.shape
        runner.call(pad, att)  # the materialised mask_mod: raises Failure if the mask_mod is unusable
        pad_in, att_in = runner.adapter.inputs(pad, att, runner.att_dtype)
        # The factory and its mask_mod are the implementation's code: the one call path, under the time limit.
        block_size, applied, partial, full = call_implementation(
            helper_call(factory, "maskoracle.adapters.flex:block_mask_states"), (pad_in, att_in), runner.timeout, f"[B, L] = [{B}, {L}]",
            Counterexample(pad.copy(), att.copy()))
        expected = runner.expected(pad, att)
        compared = runner.compared_rows(pad)
        needed, all_allowed = oracle_block_states(expected, compared, block_size)
        listed = partial | full
        q_block, kv_block = block_size
        for what, wrong in (("holds an allowed cell but is not listed", needed & ~listed),
                            ("is listed as full (mask_mod skipped) but holds a masked cell", full & ~all_allowed)):
            if wrong.any():
                b, r, c = (int(x) for x in np.argwhere(wrong)[0])
                raise Failure(f"block (b={b}, q_block={r}, kv_block={c}) of BLOCK_SIZE {q_block}x{kv_block} {what}; "
                              f"on input [B, L] = [{B}, {L}]", Counterexample(pad.copy(), att.copy(), expected,
                                                                             applied, compared))
        differ = (expected != applied) & compared[:, :, None]
        if differ.any():
            b, i, j = (int(x) for x in np.argwhere(differ)[0])
            raise Failure(f"with its BlockMask, cell (b={b}, query={i}, key={j}): expected "
                          f"{'✓' if expected[b, i, j] else '✗'}, FlexAttention applies "
                          f"{'✓' if applied[b, i, j] else '✗'}; on input [B, L] = [{B}, {L}]",
                          Counterexample(pad.copy(), att.copy(), expected, applied, compared))

    return run_fixed(state, body, examples)


def ragged_examples(layout: str, padding: str, fixed: list[MaskExample]) -> list[MaskExample]:
    """Inputs whose length is not a multiple of 128: the boundary inputs of 129-300 tokens, and ``fixed``."""
    long = [example for example in boundary_examples(layout, padding)
            if example.shape[1] % 128 and example.shape[1] <= 300]
    return sorted([*fixed, *long], key=lambda example: example.shape[1])


def ragged_fixed(fits: Callable[[np.ndarray, np.ndarray], bool]) -> list[MaskExample]:
    """Lengths of RAGGED_LENGTHS: a prefix-LM with right padding crossing block edges, if it fits the options."""
    examples = []
    for L in RAGGED_LENGTHS:
        pad = np.ones((2, L), dtype=bool)
        pad[1, L - 70:] = False  # row 1 ends in 70 padded tokens: its last blocks are partly padded
        att = np.zeros((2, L), dtype=bool)
        att[:, L // 2:] = True
        if all(fits(pad[b], att[b]) for b in range(2)):
            examples.append(MaskExample(pad, att))
    return examples


# Small inputs for the attention checks: padded query rows (right and left), and the user's example.
ATTENTION_EXAMPLES = (("11111100", "00011100"), ("00111111", "11111111"), ("111110", "000111"),
                      ("11111111", "11111111"))


def _fits(context: Context) -> Callable[[np.ndarray, np.ndarray], bool]:
    family, padding = context.spec.family, context.options["padding"]
    return lambda pad, att: fits(MaskExample(pad[None], att[None]), family, padding)


def _attention_examples(context: Context) -> list[MaskExample]:
    family, padding = context.spec.family, context.options["padding"]
    small = [MaskExample(bit_rows(pad), bit_rows(att)) for pad, att in ATTENTION_EXAMPLES]
    return [example for example in small if fits(example, family, padding)] + \
        boundary_examples(family, padding)[:1]


def _run_block_mask_ragged(context: Context, state: CheckState) -> CheckResult:
    ragged = ragged_examples(context.spec.family, context.options["padding"], ragged_fixed(_fits(context)))
    return block_mask_ragged(context.mask_runner, context.target_fn, ragged, state)


def _run_masked_values(context: Context, state: CheckState) -> CheckResult:
    return masked_values(context.mask_runner, context.options["model_dtypes"], _attention_examples(context), state)


def _run_attention_outputs(context: Context, state: CheckState) -> CheckResult:
    return attention_outputs(context.mask_runner, context.options["model_dtypes"], context.options["nan_free"],
                             context.run.seed, _attention_examples(context), state)


def _only_mask_mod(context: Context) -> str | None:
    return None if context.options["kind"] == "mask_mod" else "applies to --kind mask_mod"


def _only_masks(context: Context) -> str | None:
    kind = context.options["kind"]
    if kind == "mask":
        return None
    return f"--kind {kind} gives bool masks; this check applies to additive float results"


BLOCK_MASK_RAGGED = Check("block_mask_ragged", DESCRIPTIONS["block_mask_ragged"], _run_block_mask_ragged,
                          _only_mask_mod)
MASKED_VALUES = Check("masked_values", DESCRIPTIONS["masked_values"], _run_masked_values, _only_masks)
ATTENTION_OUTPUTS = Check("attention_outputs", DESCRIPTIONS["attention_outputs"], _run_attention_outputs,
                          _only_masks)
