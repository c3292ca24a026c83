"""Exact equivalence with the oracle (SPEC §2-§5): fixed SPEC cases, exhaustive small scope, random batches.

With ``--mask-kind kv_cache`` or ``incremental`` the tests are that kind's own checks (SPEC §5).
"""

from __future__ import annotations

import pytest

from maskoracle.kinds import kind_check_descriptions

EQUIVALENCE_CHECKS = ["output_format", "spec_examples", "exhaustive_small", "equivalence", "size_boundaries"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "check_name" not in metafunc.fixturenames:
        return
    kind = metafunc.config.getoption("--mask-kind", default="mask")
    names = EQUIVALENCE_CHECKS if kind == "mask" else \
        [name for name in kind_check_descriptions(kind) if name != "result_device"]
    metafunc.parametrize("check_name", names)


def test_equivalence(run_mask_check, check_name: str) -> None:
    run_mask_check(check_name)
