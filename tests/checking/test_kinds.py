"""Tests for the KV-cache and incremental kinds (SPEC §5): the oracle, the strategies, the checks, the reports.

- ``kv_cache_mask`` (loops) equals SPEC §5's formula composed from ``block_causal``, and on real suffix rows the
  full mask's rows ``P..P+S-1`` whenever the suffix starts a new block, exhaustively for small sizes;
- ``incremental_row`` is the last row of the full mask;
- the built-ins of every framework pass ``check(kind=...)``, and wrong implementations fail with a
  counterexample rendered as S x (P+S) tables, cut to their fewest batch rows.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings

from maskoracle import check, reference_mask
from maskoracle.checking.results import SplitCounterexample
from maskoracle.cli import main
from maskoracle.implementations import numpy as numpy_impls
from maskoracle.oracle.kv_cache import incremental_row, kv_cache_mask
from maskoracle.reports.terminal import Output, render_failure, reproduce_snippet
from maskoracle.strategies.kv_cache import decoding_examples, kv_cache_examples

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_JAX = importlib.util.find_spec("jax") is not None


def rows(length: int) -> list[tuple[bool, ...]]:
    return list(itertools.product((False, True), repeat=length))


# --- the oracle --------------------------------------------------------------------------------------------

def test_kv_cache_mask_is_spec_5_formula_exhaustively():
    for P, S in [(0, 1), (1, 1), (2, 2), (1, 3), (3, 2)]:
        for prefix, suffix, att in itertools.product(rows(P), rows(S), rows(S)):
            mask = kv_cache_mask([prefix], [suffix], [att])[0] if P else \
                kv_cache_mask(np.zeros((1, 0), bool), [suffix], [att])[0]
            assert mask.shape == (S, P + S)
            np.testing.assert_array_equal(mask[:, :P], np.broadcast_to(np.array(prefix, bool), (S, P)))
            np.testing.assert_array_equal(mask[:, P:], reference_mask([suffix], [att])[0])


def test_real_suffix_rows_equal_the_full_mask_when_the_suffix_starts_a_block():
    for P, S in [(1, 1), (2, 2), (3, 2), (2, 3)]:
        for prefix, prefix_att, suffix, att_rest in itertools.product(rows(P), rows(P), rows(S), rows(S - 1)):
            att = (True, *att_rest)
            mask = kv_cache_mask([prefix], [suffix], [att])[0]
            full = reference_mask([prefix + suffix], [prefix_att + att])[0]
            real = np.array(suffix, dtype=bool)
            np.testing.assert_array_equal(mask[real], full[P:][real])


def test_suffix_rows_agree_even_without_a_new_block_but_the_prefix_rows_do_not():
    # Block ids never decrease, so real suffix rows equal the full mask's rows whatever suffix_att[0] is. What
    # suffix_att[0] = 0 breaks is the cache: the prefix's last block then sees the suffix in the full mask,
    # which a prefix run on its own (and cached) never did. That is why every real suffix starts a block.
    prefix, suffix = [1, 1], [1, 1]
    for first in (0, 1):
        att = [first, 0]
        full = reference_mask([prefix + suffix], [[0, 0] + att])[0]
        np.testing.assert_array_equal(kv_cache_mask([prefix], [suffix], [att])[0], full[2:])
        prefix_sees_suffix = full[:2, 2:].any()
        assert prefix_sees_suffix == (first == 0)


def test_padded_suffix_rows_follow_the_formula():
    mask = kv_cache_mask([[1, 0]], [[1, 0]], [[1, 0]])[0]
    assert mask.astype(int).tolist() == [[1, 0, 1, 0], [1, 0, 0, 0]]
    free = kv_cache_mask([[1, 0]], [[1, 0]], [[1, 0]], pad_queries="free")[0]
    assert free[0].tolist() == mask[0].tolist()


def test_incremental_row_is_the_last_row_of_the_full_mask():
    for L in range(1, 7):
        pads, atts = np.array(rows(L), bool), np.array(rows(L), bool)
        for att in atts:
            batch_att = np.broadcast_to(att, pads.shape)
            np.testing.assert_array_equal(incremental_row(pads, batch_att), reference_mask(pads, batch_att)[:, -1])


@settings(max_examples=40, deadline=None)
@given(kv_cache_examples(layout="any"))
def test_kv_strategy_suffix_starts_a_new_block(example):
    assert example.suffix_att[:, 0].all()
    assert 1 <= example.split < example.shape[1]


@settings(max_examples=40, deadline=None)
@given(decoding_examples(layout="pi0"))
def test_decoded_tokens_are_real_and_start_blocks(example):
    assert example.pad_masks[:, example.split:].all() and example.att_masks[:, example.split:].all()


# --- implementations checked -------------------------------------------------------------------------------

def kv_ignores_prefix_padding(prefix_pad, suffix_pad, suffix_att):
    return numpy_impls.kv_cache(np.ones_like(prefix_pad), suffix_pad, suffix_att)


def kv_first_row_prefix(prefix_pad, suffix_pad, suffix_att):
    """One batch row's cache padding applied to every row."""
    return numpy_impls.kv_cache(np.broadcast_to(prefix_pad[:1], prefix_pad.shape), suffix_pad, suffix_att)


def kv_full_mask_rows(prefix_pad, suffix_pad, suffix_att):
    """Rows P.. of the full mask: right on real suffix rows, empty padded rows (SPEC §5's policy free)."""
    P = prefix_pad.shape[1]
    pad = np.concatenate([prefix_pad, suffix_pad], axis=1)
    att = np.concatenate([np.zeros_like(prefix_pad), suffix_att != 0], axis=1)
    return numpy_impls.block_causal(pad, att)[:, P:]


def incremental_position_causal(pad_masks, att_masks):
    """A decoding step written with positions: key j visible if j < number of real tokens (wrong with padding)."""
    T = pad_masks.shape[1]
    real = pad_masks.sum(axis=1, keepdims=True)
    return (np.arange(T)[None, :] < real)[:, None, :]


def test_numpy_builtins_pass():
    for kind, fn in (("kv_cache", numpy_impls.kv_cache), ("incremental", numpy_impls.incremental)):
        report = check(fn, kind=kind, framework="numpy", seed=0, max_examples=60)
        assert report.passed, (kind, [(c.name, c.message) for c in report.failed])
        assert report.options["kind"] == kind


@pytest.mark.skipif(not HAS_TORCH, reason="needs PyTorch")
def test_torch_builtins_pass():
    from maskoracle.implementations import torch as torch_impls

    for kind, fn in (("kv_cache", torch_impls.kv_cache), ("incremental", torch_impls.incremental)):
        report = check(fn, kind=kind, seed=0, max_examples=20)
        assert report.passed, (kind, [(c.name, c.message) for c in report.failed])
        # The suffix att in the model's dtype, as real models build it: long suffixes included.
        report = check(fn, kind=kind, seed=0, att_dtype="bfloat16", checks=["spec_examples", "size_boundaries"])
        assert report.passed, (kind, [(c.name, c.message) for c in report.failed])


@pytest.mark.skipif(not HAS_JAX, reason="needs JAX")
def test_jax_builtins_pass():
    from maskoracle.implementations import jax as jax_impls

    for kind, fn in (("kv_cache", jax_impls.kv_cache), ("incremental", jax_impls.incremental)):
        report = check(fn, kind=kind, framework="jax", seed=0, max_examples=5,
                       checks=["output_format", "spec_examples", "result_device"])
        assert report.passed, (kind, [(c.name, c.message) for c in report.failed])


def test_kv_ignoring_prefix_padding_fails_with_a_readable_counterexample():
    report = check(kv_ignores_prefix_padding, kind="kv_cache", framework="numpy", seed=0,
                   target="tests/checking/test_kinds.py:kv_ignores_prefix_padding")
    failed = {c.name: c for c in report.failed}
    assert {"spec_examples", "equivalence", "matches_full_mask"} <= set(failed)
    shrunk = failed["equivalence"].counterexample
    assert isinstance(shrunk, SplitCounterexample) and shrunk.shape == (1, 2)  # one padded prefix key, one suffix
    assert shrunk.differing_cells() == [(0, 0, 0)]
    stream = io.StringIO()
    render_failure(report, failed["equivalence"], Output(stream, plain=True))
    text = stream.getvalue()
    for expected in ("counterexample [B, P, S] = [1, 1, 1]", "prefix_pad[0] = 0", "suffix_att[0] = 1",
                     "s0 (pos 1)", "[✓]", "--kind kv_cache", "kv_cache_mask("):
        assert expected in text, (expected, text)
    payload = failed["equivalence"].to_json()["counterexample"]
    assert payload["prefix_pad"] == [[0]] and payload["suffix_pad"] == [[1]] and payload["kind"] == "kv_cache"
    assert payload["expected"] == [[[0, 1]]] and payload["actual"] == [[[1, 1]]]


def test_reproduce_snippet_of_a_kv_failure_runs():
    report = check(kv_ignores_prefix_padding, kind="kv_cache", framework="numpy", seed=0, checks=["spec_examples"],
                   target=f"{__file__}:kv_ignores_prefix_padding")
    namespace: dict = {}
    exec(reproduce_snippet(report, report.checks[0].counterexample).replace("print(", "len("), namespace)
    assert not np.array_equal(namespace["expected"], namespace["actual"])


def test_one_rows_padding_for_every_row_is_cut_to_two_rows():
    report = check(kv_first_row_prefix, kind="kv_cache", framework="numpy", seed=0, checks=["equivalence"])
    counterexample = report.checks[0].counterexample
    assert report.checks[0].status == "failed" and counterexample.shape[0] == 2


def test_slicing_the_full_mask_passes_only_with_free_padded_queries():
    masked = check(kv_full_mask_rows, kind="kv_cache", framework="numpy", seed=0,
                   checks=["spec_examples", "matches_full_mask"])
    assert [c.status for c in masked.checks] == ["failed", "passed"]
    free = check(kv_full_mask_rows, kind="kv_cache", framework="numpy", seed=0, pad_queries="free")
    assert free.passed, [(c.name, c.message) for c in free.failed]


def test_position_based_decoding_step_fails_on_padding():
    report = check(incremental_position_causal, kind="incremental", framework="numpy", seed=0)
    failed = {c.name: c for c in report.failed}
    assert "decoding_matches_full_mask" in failed
    example = failed["decoding_matches_full_mask"].counterexample
    assert isinstance(example, SplitCounterexample) and not example.pad.all()
    stream = io.StringIO()
    render_failure(report, failed["decoding_matches_full_mask"], Output(stream, plain=True))
    assert "decoded" in stream.getvalue() and "(new)" in stream.getvalue()


def test_wrong_shapes_fail_output_format():
    report = check(lambda prefix_pad, suffix_pad, suffix_att: numpy_impls.block_causal(suffix_pad, suffix_att),
                   kind="kv_cache", framework="numpy", seed=0)
    assert report.checks[0].name == "output_format" and report.checks[0].status == "failed"
    assert "[B, Q, K] = [1, 2, 5]" in report.checks[0].message
    assert all(c.status == "skipped" for c in report.checks[1:])


def test_cli_kinds(capsys, tmp_path):
    assert main(["check", "maskoracle.implementations.numpy:kv_cache", "--framework", "numpy", "--kind",
                 "kv_cache", "--seed", "0", "--plain"]) == 0
    path = tmp_path / "report.json"
    assert main(["check", "maskoracle.implementations.numpy:incremental", "--framework", "numpy", "--kind",
                 "incremental", "--seed", "0", "--plain", "--json", str(path)]) == 0
    payload = json.loads(path.read_text())
    assert payload["options"]["kind"] == "incremental"
    assert [c["name"] for c in payload["checks"]][:3] == ["output_format", "spec_examples",
                                                          "decoding_matches_full_mask"]
    out = capsys.readouterr().out
    assert "matches_full_mask" in out and "PASSED" in out


def test_pytest_plugin_runs_the_kind_checks(pytester):
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--pyargs", "maskoracle.suites", "-rs",
                                           "--mask-impl", "maskoracle.implementations.numpy:kv_cache",
                                           "--mask-framework", "numpy", "--mask-kind", "kv_cache",
                                           "--mask-seed", "0")
    # output_format, spec_examples, equivalence, matches_full_mask, size_boundaries; the mask invariants skip.
    result.assert_outcomes(passed=5, skipped=10, failed=0, errors=0)
    assert "not a check of --mask-kind kv_cache" in result.stdout.str()
