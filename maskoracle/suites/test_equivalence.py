"""Exact equivalence with the oracle (SPEC §2-§5): fixed SPEC cases, exhaustive small scope, random batches.

With ``--mask-kind kv_cache`` or ``incremental`` the tests are that kind's own checks (SPEC §5).
"""

from __future__ import annotations

from maskoracle.checking import check_names

EQUIVALENCE_CHECKS = ["output_format", "spec_examples", "exhaustive_small", "equivalence", "size_boundaries"]


def checks_for(kind: str) -> list[str]:
    """The checks this module runs for ``--mask-kind`` (the plugin parametrizes ``check_name`` with them)."""
    if kind == "mask":
        return EQUIVALENCE_CHECKS
    return [name for name in check_names(kind=kind) if name != "result_device"]


def test_equivalence(run_mask_check, check_name: str) -> None:
    run_mask_check(check_name)
