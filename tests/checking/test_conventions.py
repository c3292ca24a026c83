"""Input conventions, ``--inputs`` (issue 16, item 3): PaliGemma's and Gemma 3's ``(attention_mask,
token_type_ids)``, converted exactly from inputs the convention can express, with its own pad-query default."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

from maskoracle import check, reference_mask
from maskoracle.adapters.conventions import INPUT_CONVENTIONS
from maskoracle.errors import UsageError
from maskoracle.options import reproduce_arguments
from maskoracle.strategies import mask_examples

FAST = {"framework": "numpy", "max_examples": 15, "seed": 16, "db": "none"}


def failures(report) -> dict[str, str]:
    return {result.name: result.message for result in report.checks if result.status == "failed"}


def paligemma_style(attention_mask, token_type_ids):
    """PaliGemma's prefix-LM mask as transformers builds it: causal, every query sees the prefix (token type 0),
    padded keys masked; padded queries' rows are not emptied."""
    L = attention_mask.shape[1]
    causal = np.tril(np.ones((L, L), dtype=bool))[None]
    allowed = (causal | (token_type_ids[:, None, :] == 0)) & (attention_mask[:, None, :] != 0)
    return np.where(allowed, 0.0, np.finfo(np.float32).min).astype(np.float32)[:, None]


def gemma3_style(attention_mask, token_type_ids):
    """Gemma 3's mask: text causal, each run of image tokens (token type 1) bidirectional within itself."""
    B, L = attention_mask.shape
    image = token_type_ids != 0
    starts = image & ~np.concatenate([np.zeros((B, 1), dtype=bool), image[:, :-1]], axis=1)
    group = np.cumsum(starts, axis=1) * image
    same_group = (group[:, :, None] == group[:, None, :]) & (group[:, :, None] > 0)
    causal = np.tril(np.ones((L, L), dtype=bool))[None]
    return ((causal | same_group) & (attention_mask[:, None, :] != 0))[:, None]


def image_groups_ignored(attention_mask, token_type_ids):
    """Gemma 3 with a bug: image tokens causal like text."""
    return gemma3_style(attention_mask, np.zeros_like(token_type_ids))


@pytest.mark.parametrize(("convention", "fn"), [("paligemma", paligemma_style), ("gemma3", gemma3_style)])
def test_a_real_style_mask_passes_with_its_convention_and_its_pad_query_default(convention, fn):
    report = check(fn, inputs=convention, **FAST)
    assert report.passed, failures(report)
    assert report.options["pad_queries"] == "free" and report.options["inputs"] == convention
    assert reproduce_arguments(report.options)[:2] != ["--pad-queries", "free"]
    assert "--inputs" in reproduce_arguments(report.options)


def test_a_convention_bug_is_found():
    assert not check(image_groups_ignored, inputs="gemma3", **FAST).passed


def test_explicit_pad_queries_masked_overrides_the_convention_default_and_is_reproduced():
    report = check(paligemma_style, inputs="paligemma", pad_queries="masked", **FAST)
    assert not report.passed  # transformers' masks do not empty padded query rows
    assert report.options["pad_queries"] == "masked"
    assert "--pad-queries" in reproduce_arguments(report.options)


def test_the_default_convention_keeps_pad_queries_masked():
    from maskoracle.implementations.numpy import block_causal

    report = check(block_causal, **FAST)
    assert report.options["pad_queries"] == "masked" and "--pad-queries" not in reproduce_arguments(report.options)


def test_a_convention_refuses_att_dtype_and_other_kinds():
    with pytest.raises(UsageError, match="--inputs paligemma"):
        check(paligemma_style, inputs="paligemma", att_dtype="int64", **FAST)
    with pytest.raises(UsageError, match="--inputs paligemma applies to --kind mask"):
        check(paligemma_style, inputs="paligemma", kind="kv_cache", **FAST)


@settings(max_examples=200, deadline=None, database=None)
@given(mask_examples(sizes="small"))
def test_each_convention_converts_what_it_expresses_exactly(example):
    pad = example.pad_masks
    for name, fn in (("paligemma", paligemma_style), ("gemma3", gemma3_style)):
        convention = INPUT_CONVENTIONS[name]
        att = convention.express(example.att_masks)
        assert convention.token_types is not None
        mask = np.asarray(fn(pad.astype(np.int64), convention.token_types(att).astype(np.int64)))[:, 0]
        allowed = mask if mask.dtype == bool else mask == 0
        expected = reference_mask(pad, att, pad_queries="free")
        np.testing.assert_array_equal(allowed & pad[:, :, None], expected & pad[:, :, None])


CACHE_POSITION = Path(__file__).resolve().parents[1] / "fixtures" / "cache_position_masks.py"


@pytest.mark.parametrize("kind", ["mask", "kv_cache", "incremental"])
def test_transformers_convention_passes_a_right_cache_position_mask_for_every_kind(kind: str) -> None:
    report = check(f"{CACHE_POSITION}:causal_mask", inputs="transformers", kind=kind, seed=2, max_examples=25,
                   db="none")
    assert report.passed, [(r.name, r.message) for r in report.failed]
    assert report.options["layout"] == "causal" and report.options["pad_queries"] == "free"


@pytest.mark.parametrize(("name", "kind"), [("off_by_one", "mask"), ("off_by_one", "incremental"),
                                            ("ignores_the_cache_offset", "kv_cache"),
                                            ("ignores_the_cache_offset", "incremental")])
def test_transformers_convention_fails_wrong_cache_position_masks(name: str, kind: str) -> None:
    report = check(f"{CACHE_POSITION}:{name}", inputs="transformers", kind=kind, seed=2, max_examples=25, db="none")
    assert not report.passed
    assert report.failed[0].counterexample is not None


def test_transformers_convention_refuses_other_layouts_and_other_conventions_refuse_split_kinds() -> None:
    with pytest.raises(UsageError, match="expresses --layout causal only"):
        check(f"{CACHE_POSITION}:causal_mask", inputs="transformers", layout="prefix_lm")
    with pytest.raises(UsageError, match="--inputs paligemma applies to --kind mask"):
        check(f"{CACHE_POSITION}:causal_mask", inputs="paligemma", kind="kv_cache")
