"""Results in every form a real mask arrives in (issue 16, items 2-4): broadcastable shapes, several heads,
``None`` (``--none-means``), another framework's array, and failures that are maskoracle's reading of a result
rather than the implementation raising."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from maskoracle import check
from maskoracle.adapters import get_adapter
from maskoracle.checking.decode import BadResult, decode_heads, decode_mask
from maskoracle.implementations import numpy as numpy_impls

HAS_TORCH = importlib.util.find_spec("torch") is not None
FAST = {"framework": "numpy", "max_examples": 10, "seed": 16, "db": "none"}


def failures(report) -> dict[str, str]:
    return {result.name: result.message for result in report.checks if result.status == "failed"}


def causal_one_mask(pad, att):
    """One causal mask for the whole batch, ``[1, 1, L, L]``: right for unpadded causal inputs."""
    L = pad.shape[1]
    return np.tril(np.ones((L, L), dtype=bool))[None, None]


def keys_only(pad, att):
    """transformers' encoder form, ``[B, 1, 1, L]``: every query sees the real keys."""
    return pad[:, None, None, :].astype(bool)


def keys_only_additive(pad, att):
    return np.where(pad[:, None, None, :], 0.0, -1e9).astype(np.float32)


def three_heads(pad, att):
    return np.repeat(numpy_impls.block_causal(pad, att)[:, None], 3, axis=1)


def third_head_wrong(pad, att):
    heads = three_heads(pad, att).copy()
    heads[:, 2] = pad[:, None, :]  # head 2 ignores att
    return heads


@pytest.mark.parametrize("shape", [(1, 1, 4, 4), (2, 1, 1, 4), (2, 3, 4, 4), (2, 4, 4), (1, 3, 1, 4)])
def test_shapes_that_broadcast_to_b_h_l_l_are_decoded(shape):
    result = np.ones(shape, dtype=bool)
    heads = decode_heads(result, get_adapter("numpy"), 2, 4)
    assert heads.shape == (2, shape[1] if len(shape) == 4 else 1, 4, 4) and heads.all()
    assert decode_mask(result, get_adapter("numpy"), 2, 4).shape == (2, 4, 4)


@pytest.mark.parametrize("shape", [(3, 1, 4, 4), (2, 1, 4, 3), (2, 4, 5), (2, 1, 1, 1, 4), (4, 4), (1, 4, 4)])
def test_shapes_that_do_not_broadcast_are_refused(shape):
    with pytest.raises(BadResult, match="returned shape"):
        decode_mask(np.ones(shape, dtype=bool), get_adapter("numpy"), 2, 4)


def test_one_causal_mask_for_the_batch_passes_on_unpadded_causal_inputs():
    report = check(causal_one_mask, layout="causal", padding="none", **FAST)
    assert report.passed, failures(report)


@pytest.mark.parametrize("fn", [keys_only, keys_only_additive])
def test_a_keys_only_mask_passes_with_pad_queries_free(fn):
    report = check(fn, layout="bidirectional", pad_queries="free", **FAST)
    assert report.passed, failures(report)


def test_a_keys_only_mask_under_pad_queries_masked_says_why_and_suggests_free():
    report = check(keys_only, layout="bidirectional", **FAST)
    message = failures(report)["spec_examples"]
    assert "one row of keys for every query" in message and "--pad-queries free" in message


def test_every_head_is_checked_and_the_wrong_one_named():
    assert check(three_heads, **FAST).passed
    report = check(third_head_wrong, checks=["spec_examples", "equivalence"], **FAST)
    assert "head 2 of 3" in failures(report)["spec_examples"]


def test_none_says_what_it_usually_means_and_none_means_reads_it():
    def sdpa_style(pad, att):  # transformers: None when is_causal suffices
        return None

    report = check(sdpa_style, layout="causal", padding="none", **FAST)
    message = failures(report)["output_format"]
    assert "is_causal" in message and "--none-means causal" in message
    assert "raised" not in message
    assert check(sdpa_style, layout="causal", padding="none", none_means="causal", **FAST).passed
    assert check(sdpa_style, layout="bidirectional", padding="none", none_means="unmasked", **FAST).passed
    assert not check(sdpa_style, layout="causal", none_means="causal", **FAST).passed  # padding is not causal


def test_att_dtypes_does_not_call_an_unreadable_result_a_wrong_mask():
    def none_for_bool(pad, att):
        return None if att.dtype == bool else numpy_impls.block_causal(pad, att)

    report = check(none_for_bool, att_dtype="int64", checks=["att_dtypes"], **FAST)
    message = failures(report)["att_dtypes"]
    assert "accepts att bool but returns something that is not a mask" in message and "gets it wrong" not in message


@pytest.mark.skipif(not HAS_TORCH, reason="needs torch")
def test_another_frameworks_array_names_the_framework_to_use():
    import torch

    def computes_in_torch(pad, att):
        return torch.from_numpy(numpy_impls.block_causal(pad, att))

    message = failures(check(computes_in_torch, **FAST))["output_format"]
    assert "--framework torch" in message and "raised" not in message


@pytest.mark.skipif(not HAS_TORCH, reason="needs torch")
def test_a_block_mask_of_another_length_names_both_lengths_and_the_fix():
    from tests.fixtures.attention_fixtures import rounded_length_block_mask

    report = check(rounded_length_block_mask, framework="torch", kind="block_mask", max_examples=5, seed=16,
                   db="none", checks=["output_format"], timeout=300)
    message = failures(report)["output_format"]
    assert "(128, 128)" in message and "L = 3" in message and "create_block_mask" in message
    assert not message.startswith("raised") and "returned without raising" in message
