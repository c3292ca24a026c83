"""What attention does with the mask (SPEC §6) and FlexAttention block masks at ragged lengths.

Collected only when asked for: ``--mask-kind mask_mod`` (``block_mask_ragged``), ``--mask-model-dtypes`` or
``--mask-nan-free`` (``masked_values``, ``attention_outputs``); the plugin deselects them otherwise.
"""

from __future__ import annotations

import pytest

ATTENTION_CHECKS = ["block_mask_ragged", "masked_values", "attention_outputs"]


@pytest.mark.parametrize("check_name", ATTENTION_CHECKS)
def test_attention(run_mask_check, check_name: str) -> None:
    run_mask_check(check_name)
