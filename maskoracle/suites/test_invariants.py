"""The named invariants of SPEC §2, each its own test (only those that hold for the chosen --mask-spec)."""

from __future__ import annotations

import pytest

from maskoracle.oracle import INVARIANTS


@pytest.mark.parametrize("invariant", list(INVARIANTS))
def test_invariant(run_mask_check, mask_options, invariant: str) -> None:
    if mask_options["spec"] not in INVARIANTS[invariant].holds_for:
        pytest.skip(f"{invariant} does not hold for spec {mask_options['spec']} (SPEC §3)")
    run_mask_check(invariant)
