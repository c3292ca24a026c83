"""The checks of the other implementation kinds (``--mask-kind kv_cache`` / ``incremental``, SPEC §5)."""

from __future__ import annotations

import pytest

from maskoracle.kinds import KINDS, kind_check_descriptions

KIND_CHECKS = sorted({name for kind in KINDS if kind != "mask" for name in kind_check_descriptions(kind)}
                     - {"output_format", "spec_examples", "equivalence", "size_boundaries", "result_device"})


@pytest.mark.parametrize("check_name", KIND_CHECKS)
def test_kind_check(run_mask_check, check_name: str) -> None:
    run_mask_check(check_name)
