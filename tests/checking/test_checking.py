"""``check()`` verdicts: no false alarms on correct implementations, every listed bug caught and shrunk."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maskoracle import UsageError, check, check_names
from maskoracle.implementations import numpy as numpy_impl
from maskoracle.implementations import torch as torch_impl
from maskoracle.strategies import ATT_DTYPES, LAYOUTS, PADDINGS
from maskoracle.zoo import torch_zoo as zoo

FAST = {"max_examples": 25, "seed": 7}


def _failed(report) -> dict[str, object]:
    return {result.name: result for result in report.failed}


# --- no false alarms -------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [torch_impl.block_causal, torch_impl.block_causal_baseline,
                                torch_impl.block_causal_additive, *zoo.CORRECT], ids=lambda fn: fn.__name__)
def test_correct_torch_implementations_pass(fn) -> None:
    report = check(fn, **FAST)
    assert report.passed, [(r.name, r.message) for r in report.failed]
    assert {r.name for r in report.checks} == set(check_names())
    assert all(r.examples > 0 for r in report.checks if r.status == "passed")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_correct_implementation_passes_every_layout(layout: str) -> None:
    report = check(torch_impl.block_causal, layout=layout, **FAST)
    assert report.passed, [(r.name, r.message) for r in report.failed]


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("pad_queries", ["masked", "free"])
def test_correct_implementation_passes_every_padding(padding: str, pad_queries: str) -> None:
    report = check(numpy_impl.block_causal, framework="numpy", padding=padding, pad_queries=pad_queries, **FAST)
    assert report.passed, [(r.name, r.message) for r in report.failed]


@pytest.mark.parametrize("att_dtype", ATT_DTYPES)
def test_correct_implementation_passes_every_att_dtype(att_dtype: str) -> None:
    report = check(torch_impl.block_causal, att_dtype=att_dtype, **FAST)
    assert report.passed, [(r.name, r.message) for r in report.failed]


def test_rowwise_spec_accepts_the_explanation_and_rejects_block_causal() -> None:
    assert check(zoo.explanation_rowwise, spec="rowwise", **FAST).passed
    rejected = check(torch_impl.block_causal, spec="rowwise", **FAST)
    assert not rejected.passed
    assert "equivalence" in _failed(rejected)
    # The invariants SPEC §3 says rowwise breaks are not demanded of a rowwise implementation.
    assert "no_multilayer_leak" not in check_names("rowwise")


def test_transformers_style_causal_mask_passes_with_keys_only_padding() -> None:
    """A causal mask that only masks padded keys (Hugging Face style) is right under --pad-queries free."""
    def hf_causal(pad: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
        L = pad.shape[1]
        causal = torch.ones(L, L, dtype=torch.bool).tril()
        allowed = causal[None] & pad.bool()[:, None, :]
        bias = torch.zeros(allowed.shape).masked_fill(~allowed, torch.finfo(torch.float32).min)
        return bias[:, None]

    assert check(hf_causal, layout="causal", pad_queries="free", **FAST).passed
    assert not check(hf_causal, layout="causal", pad_queries="masked", **FAST).passed


# --- bugs caught, with small counterexamples ----------------------------------------------------------------

@pytest.mark.parametrize("fn, check_name, max_length", [
    (zoo.strict_less, "equivalence", 4),
    (zoo.transposed, "equivalence", 4),
    (zoo.keys_only_padding, "equivalence", 4),
    (zoo.padding_not_counted, "equivalence", 4),
    (zoo.first_row_padding, "equivalence", 4),
    (zoo.explanation_rowwise, "equivalence", 4),
    (zoo.flipped_additive, "equivalence", 4),
    (zoo.keys_only_padding, "padded_queries_empty", 4),
    (zoo.explanation_rowwise, "no_multilayer_leak", 4),
    (zoo.explanation_rowwise, "first_att_bit_irrelevant", 4),
], ids=lambda value: getattr(value, "__name__", str(value)))
def test_bug_is_caught_with_a_small_counterexample(fn, check_name: str, max_length: int) -> None:
    # The nightly profile's 60 s shrinking budget: this asserts how far shrinking gets, not how fast (that is
    # benchmarks/); the default 4 s budget can run out on a loaded 2-core machine.
    report = check(fn, **FAST, profile="nightly")
    failed = _failed(report)
    assert check_name in failed, f"{fn.__name__} not caught by {check_name}: {sorted(failed)}"
    counterexample = failed[check_name].counterexample
    assert counterexample is not None
    B, L = counterexample.shape
    assert L <= max_length, f"counterexample not shrunk: [B, L] = [{B}, {L}]"


def test_batch_broadcasting_bug_needs_and_gets_two_rows() -> None:
    failed = _failed(check(zoo.first_row_padding, **FAST))
    assert failed["equivalence"].counterexample.shape[0] == 2
    assert failed["exhaustive_small"].counterexample.shape[0] == 2


def test_keys_only_padding_passes_when_padded_queries_are_free() -> None:
    report = check(zoo.keys_only_padding, pad_queries="free", **FAST)
    assert report.passed, [(r.name, r.message) for r in report.failed]


def test_integer_result_fails_output_format_and_stops() -> None:
    report = check(zoo.integer_result, **FAST)
    failed = _failed(report)
    assert "output_format" in failed
    assert "int64" in failed["output_format"].message
    assert all(r.status == "skipped" for r in report.checks[1:])


def test_exitfirst_stops_at_the_first_failed_check_and_says_so() -> None:
    full = check(zoo.strict_less, **FAST)
    first = check(zoo.strict_less, exitfirst=True, **FAST)
    assert len(full.failed) > 1  # without it, every later check runs and several fail
    assert [r.name for r in first.failed] == [full.failed[0].name]
    at = [r.name for r in first.checks].index(full.failed[0].name)
    later = first.checks[at + 1:]
    assert later and all(r.status == "skipped" for r in later)
    assert later[0].message == f"not run: --exitfirst, and {full.failed[0].name} failed"
    # SPEC's worked example that failed is shrunk, so the one counterexample shown is as small as any later one
    assert first.failed[0].counterexample.shape == (1, 1), first.failed[0].message
    assert "shrunk from an input of [B, L] = [1, 6]" in first.failed[0].message
    assert not first.passed
    assert check(torch_impl.block_causal, exitfirst=True, **FAST).passed  # nothing to stop at: every check runs


@pytest.mark.parametrize("fn, kwargs, length", [
    (zoo.int8_blocks, {}, 128),
    (zoo.bfloat16_blocks, {}, 257),
    (zoo.float16_blocks, {}, 2049),
    (zoo.cumsum_in_input_dtype, {"att_dtype": "bfloat16"}, 257),
], ids=["int8", "bfloat16", "float16", "cumsum_of_bfloat16_input"])
def test_size_dependent_bugs_are_caught_at_the_boundary(fn, kwargs, length: int) -> None:
    failed = _failed(check(fn, **FAST, **kwargs))
    assert "size_boundaries" in failed
    assert failed["size_boundaries"].counterexample.shape == (1, length)


def test_cumsum_in_input_dtype_is_right_for_bool_att() -> None:
    assert check(zoo.cumsum_in_input_dtype, **FAST).passed


# --- report content ------------------------------------------------------------------------------------

def test_failure_counterexample_holds_both_masks_and_the_differing_cells() -> None:
    failed = _failed(check(zoo.strict_less, **FAST))["equivalence"]
    example = failed.counterexample
    assert example.expected is not None and example.actual is not None
    cells = example.differing_cells()
    assert cells and all(example.expected[c] != example.actual[c] for c in cells)
    assert f"cell (b={cells[0][0]}, query={cells[0][1]}, key={cells[0][2]})" in failed.message
    data = failed.to_json()
    assert data["passed"] is False and data["counterexample"]["pad"] == example.pad.astype(int).tolist()


def test_same_seed_same_report() -> None:
    # The nightly profile's shrinking budget (60 s): a 4 s budget can stop two runs at different points on a
    # loaded machine, and this is about the seed, not the machine.
    first = check(zoo.padding_not_counted, max_examples=40, seed=11, profile="nightly").to_json()
    second = check(zoo.padding_not_counted, max_examples=40, seed=11, profile="nightly").to_json()
    for a, b in zip(first["checks"], second["checks"], strict=True):
        assert (a["name"], a["passed"], a["examples"], a["counterexample"]) == \
               (b["name"], b["passed"], b["examples"], b["counterexample"])


def test_an_implementation_that_raises_fails_with_the_exception_named() -> None:
    def only_batch_one(pad, att):
        if pad.shape[0] > 1:
            raise ValueError("batch must be 1")
        return torch_impl.block_causal(pad, att)

    failed = _failed(check(only_batch_one, **FAST))
    assert "ValueError: batch must be 1" in failed["exhaustive_small"].message
    assert failed["equivalence"].counterexample.shape[0] == 2


def test_bad_option_values_raise_usage_errors() -> None:
    with pytest.raises(UsageError, match="--layout"):
        check(torch_impl.block_causal, layout="nope", seed=0)
    with pytest.raises(UsageError, match="--att-dtype"):
        check(torch_impl.block_causal, att_dtype="int8", seed=0)
    with pytest.raises(UsageError, match="unknown check"):
        check(torch_impl.block_causal, checks=["nope"], seed=0)


def test_checks_subset_runs_only_those() -> None:
    report = check(numpy_impl.block_causal, framework="numpy", checks=["spec_examples"], **FAST)
    assert [r.name for r in report.checks] == ["spec_examples"]
    assert report.checks[0].examples == 9


def test_numpy_implementation_under_numpy_framework() -> None:
    pad = np.array([[1, 1, 0]], dtype=bool)
    att = np.array([[0, 1, 0]], dtype=bool)
    assert numpy_impl.block_causal(pad, att).astype(int).tolist() == [[[1, 0, 0], [1, 1, 0], [0, 0, 0]]]
