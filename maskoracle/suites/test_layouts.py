"""Checks of a grouped layout (``--mask-spec`` or ``--mask-layout path/file.py:LAYOUT``; deselected otherwise).

``output_format`` and ``equivalence`` run from ``test_equivalence`` on instances of the layout; the checks of
``(pad, att)`` specs that do not apply to a layout are skipped there and in ``test_invariants``.
"""

from __future__ import annotations

import pytest

from maskoracle.checking.plans import LAYOUT_PLAN

LAYOUT_SUITE_CHECKS = [check.name for check in LAYOUT_PLAN if check.name not in ("output_format", "equivalence")]


@pytest.mark.parametrize("check_name", LAYOUT_SUITE_CHECKS)
def test_layout(run_mask_check, pytestconfig, check_name: str) -> None:
    if not getattr(pytestconfig, "_maskoracle_grouped", False):
        pytest.skip("only for a grouped layout: --mask-spec or --mask-layout path/file.py:LAYOUT")
    run_mask_check(check_name)
