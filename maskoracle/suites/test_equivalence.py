"""Exact equivalence with the oracle (SPEC §2-§4): fixed SPEC cases, exhaustive small scope, random batches."""

from __future__ import annotations

import pytest

EQUIVALENCE_CHECKS = ["output_format", "spec_examples", "exhaustive_small", "equivalence", "size_boundaries"]


@pytest.mark.parametrize("check_name", EQUIVALENCE_CHECKS)
def test_equivalence(run_mask_check, check_name: str) -> None:
    run_mask_check(check_name)
