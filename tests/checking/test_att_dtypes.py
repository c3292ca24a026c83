"""Tests for the input dtype matrix (the ``att_dtypes`` check) and plain reports of a rejected att dtype.

An implementation may accept only some att dtypes: a dtype it raises on is named in the message and is not a
failure; a dtype it accepts but answers wrongly for is a failure; the dtype asked for with ``--att-dtype``
that it rejects fails ``output_format`` with "rejects att DTYPE".
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from maskoracle import check
from maskoracle.implementations.numpy import block_causal as numpy_block_causal

torch = pytest.importorskip("torch", reason="needs PyTorch")
from maskoracle.implementations.torch import block_causal  # noqa: E402


def integers_only(pad_masks, att_masks):
    if att_masks.dtype.is_floating_point:
        raise TypeError(f"att_masks must be bool or integer, got {att_masks.dtype}")
    return block_causal(pad_masks, att_masks)


def float_att_read_inverted(pad_masks, att_masks):
    """Reads a float att as 'masked where 1': right for bool and int, wrong for floats."""
    if att_masks.dtype.is_floating_point:
        return block_causal(pad_masks, att_masks == 0)
    return block_causal(pad_masks, att_masks)


def test_builtin_accepts_every_dtype():
    result = check(block_causal, checks=["att_dtypes"], seed=0).checks[0]
    assert result.status == "passed"
    assert result.message == "accepts att bool, int32, int64, float32, bfloat16, float16"


def test_rejected_dtypes_are_named_and_not_a_failure():
    result = check(integers_only, checks=["att_dtypes"], seed=0).checks[0]
    assert result.status == "passed"
    assert result.message.startswith("accepts att bool, int32, int64; rejects att float32: TypeError: att_masks "
                                     "must be bool or integer, got torch.float32")
    assert "rejects att bfloat16" in result.message and "rejects att float16" in result.message


def test_a_wrong_mask_for_an_accepted_dtype_fails():
    result = check(float_att_read_inverted, checks=["att_dtypes"], seed=0).checks[0]
    assert result.status == "failed"
    assert result.message.startswith("accepts att float32 but gets it wrong: cell (b=0, query=")
    assert result.counterexample is not None and result.counterexample.note == "att given as float32"
    assert result.counterexample.differing_cells()


def test_the_requested_dtype_rejected_says_so_plainly():
    report = check(integers_only, att_dtype="bfloat16", seed=0)
    first = report.checks[0]
    assert first.name == "output_format" and first.status == "failed"
    assert first.message.startswith("rejects att bfloat16 (--att-dtype bfloat16): raised TypeError: att_masks must "
                                    "be bool or integer, got torch.bfloat16")
    assert all(result.status == "skipped" for result in report.checks[1:])


def test_numpy_dtype_matrix():
    result = check(numpy_block_causal, framework="numpy", checks=["att_dtypes"], seed=0).checks[0]
    expected = ["bool", "int32", "int64", "float32", "float16"]
    if importlib.util.find_spec("ml_dtypes") is not None:
        expected.insert(4, "bfloat16")
    assert result.status == "passed" and result.message.startswith("accepts att " + ", ".join(expected))


def test_model_layout_gets_an_input_in_its_own_pattern():
    seen = []

    def recording(pad_masks, att_masks):
        seen.append(att_masks.to(torch.bool).tolist())
        return block_causal(pad_masks, att_masks)

    result = check(recording, layout="pi0", checks=["att_dtypes"], seed=0).checks[0]
    assert result.status == "passed" and result.examples == 6
    assert all(att == [[False, False, False, False, True, True, False]] for att in seen)
    assert np.array(seen).shape == (6, 1, 7)
