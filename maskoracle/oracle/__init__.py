"""The oracle: what a correct mask is (SPEC.md), as loops a reader can check, plus named invariants.

No torch, no Hypothesis, no printing here: only the semantics.
"""

from .cases import SPEC_CASES, USER_EXAMPLE, USER_EXAMPLE_LABELS, SpecCase
from .groups import Layout, LayoutInstance, Segment, group_rule_mask, instance_mask
from .invariants import INVARIANTS, Invariant, Violation, invariants_for
from .leaks import Leak, find_leaks, reachability
from .reference import reference_mask
from .specs import (
    PAD_QUERY_POLICIES,
    SPECS,
    as_rows,
    block_ids,
    validate_pad_queries,
    validate_spec,
)
from .vectorized import fast_reference_mask

__all__ = [
    "INVARIANTS",
    "Layout",
    "LayoutInstance",
    "Leak",
    "Segment",
    "find_leaks",
    "group_rule_mask",
    "instance_mask",
    "reachability",
    "SPEC_CASES",
    "USER_EXAMPLE",
    "USER_EXAMPLE_LABELS",
    "SpecCase",
    "PAD_QUERY_POLICIES",
    "SPECS",
    "Invariant",
    "Violation",
    "as_rows",
    "block_ids",
    "fast_reference_mask",
    "invariants_for",
    "reference_mask",
    "validate_pad_queries",
    "validate_spec",
]
