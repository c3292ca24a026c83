"""Plans: the checks each kind of run makes, in order, as lists of named ``Check`` units.

| plan | for | module |
|---|---|---|
| mask | ``fn(pad, att) -> mask`` and the FlexAttention kinds | ``mask.py``, ``contract.py``, ``attention.py`` |
| layout | a grouped layout (compiled, or its group rule) | ``layout.py`` |
| kv_cache, incremental | the split kinds of SPEC §5 | ``kv_cache.py`` |

The mask plan's invariants depend on the spec (an invariant is listed only where it holds).
"""

from __future__ import annotations

from ...kinds import SPLIT_KINDS
from ...oracle import invariants_for
from ..resolve import ResolvedSpec
from ..units import Check
from .attention import ATTENTION_OUTPUTS, BLOCK_MASK_RAGGED, MASKED_VALUES
from .contract import (
    ATT_DTYPES_CHECK,
    DETERMINISTIC,
    INPUT_FORMS_CHECK,
    INPUTS_UNCHANGED,
    NO_INPUT_ALIASING,
    RESULT_DEVICE,
    RESULTS_STAY_VALID,
)
from .kv_cache import INCREMENTAL_PLAN, KV_CACHE_PLAN
from .layout import LAYOUT_PLAN
from .mask import (
    EQUIVALENCE,
    EXHAUSTIVE_SMALL,
    OUTPUT_FORMAT,
    SIZE_BOUNDARIES,
    SPEC_EXAMPLES,
    invariant_check,
)

MASK_CHECKS: tuple[Check, ...] = (
    OUTPUT_FORMAT,
    SPEC_EXAMPLES,
    EXHAUSTIVE_SMALL,
    EQUIVALENCE,
    SIZE_BOUNDARIES,
    INPUTS_UNCHANGED,
    DETERMINISTIC,
    RESULTS_STAY_VALID,
    NO_INPUT_ALIASING,
    RESULT_DEVICE,
    ATT_DTYPES_CHECK,
    INPUT_FORMS_CHECK,
    BLOCK_MASK_RAGGED,
    MASKED_VALUES,
    ATTENTION_OUTPUTS,
)
SPLIT_PLANS = {"kv_cache": KV_CACHE_PLAN, "incremental": INCREMENTAL_PLAN}


def plan_for(spec: ResolvedSpec, kind: str) -> tuple[Check, ...]:
    """The checks a run of ``kind`` against ``spec`` makes, in order."""
    if spec.grouped is not None:
        return LAYOUT_PLAN
    if kind in SPLIT_KINDS:
        return SPLIT_PLANS[kind]
    return (*MASK_CHECKS, *(invariant_check(invariant) for invariant in invariants_for(spec.rule)))


__all__ = ["INCREMENTAL_PLAN", "KV_CACHE_PLAN", "LAYOUT_PLAN", "MASK_CHECKS", "plan_for"]
