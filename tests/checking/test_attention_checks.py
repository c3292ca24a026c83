"""Additive masks all the way through (SPEC §6): masked values per dtype, and what attention computes."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from maskoracle import UsageError, check, reference_mask  # noqa: E402
from maskoracle.checking.attention_math import attention_outcome, masked_value_casts  # noqa: E402
from maskoracle.cli import main  # noqa: E402
from maskoracle.implementations.torch import block_causal  # noqa: E402
from tests.fixtures import attention_fixtures as fixtures  # noqa: E402

FAST = {"max_examples": 20, "seed": 5, "db": "none"}
ATTENTION = ["masked_values", "attention_outputs"]


def _results(report) -> dict[str, object]:
    return {result.name: result for result in report.checks}


def _failed(report) -> dict[str, str]:
    return {result.name: result.message for result in report.failed}


# --- the masked value in each dtype ------------------------------------------------------------------------------

def test_openpi_masked_value_rounds_in_bfloat16_and_overflows_in_float16() -> None:
    """SPEC §6: -2.3819763e38 -> bfloat16 -2.3793181e38, float16 -inf."""
    pad, att = torch.tensor([[True, True, False]]), torch.tensor([[True, True, True]])
    (value,) = masked_value_casts(fixtures.openpi_additive(pad, att))
    assert value.value == pytest.approx(-2.3819763e38, rel=1e-7) and value.dtype == "float32"
    assert value.casts["bfloat16"] == pytest.approx(-2.3793181e38, rel=1e-7)
    assert value.casts["float16"] == -math.inf
    assert value.survives("float32") and value.survives("bfloat16") and not value.survives("float16")


def test_minus_inf_survives_every_dtype_and_minus_1e4_does_not_survive_bfloat16() -> None:
    pad, att = torch.tensor([[True, False]]), torch.tensor([[True, True]])
    (minus_inf,) = masked_value_casts(fixtures.minus_inf_additive(pad, att))
    assert all(minus_inf.survives(dtype) for dtype in ("float32", "bfloat16", "float16"))
    (minus_1e4,) = masked_value_casts(fixtures.minus_1e4_additive(pad, att))
    assert minus_1e4.casts["bfloat16"] == -9984.0 and not minus_1e4.survives("bfloat16")
    assert minus_1e4.survives("float16") and minus_1e4.survives("float32")


def test_transformers_eager_causal_mask_passes_with_causal_layout_and_free_pad_queries() -> None:
    report = check(fixtures.transformers_eager_causal, layout="causal", pad_queries="free",
                   **{**FAST, "max_examples": 10})
    assert report.passed, _failed(report)
    results = _results(report)
    assert results["masked_values"].status == "passed"
    assert "-3.4028235e+38 (float32)" in results["masked_values"].message  # finfo(float32).min, reported
    assert results["attention_outputs"].status == "passed"
    # Keys-only padding: padded query rows are not empty, so the same mask fails when they must be.
    assert "exhaustive_small" in _failed(check(fixtures.transformers_eager_causal, layout="causal",
                                               checks=["exhaustive_small"], **FAST))


def test_small_negative_masked_value_fails_naming_the_value_and_a_cell() -> None:
    report = check(fixtures.small_negative_additive, **FAST)
    message = _failed(report)["output_format"]
    assert "-100.0" in message and "cell (b=0, query=0, key=1)" in message


def test_masked_value_that_does_not_survive_a_declared_dtype_fails() -> None:
    report = check(fixtures.openpi_additive, model_dtypes="float16", checks=ATTENTION, **FAST)
    message = _failed(report)["masked_values"]
    for words in ("-2.3819763e+38", "float16", "cell (b=", "float16 -inf"):
        assert words in message
    bf16 = check(fixtures.minus_1e4_additive, model_dtypes=["float32", "bfloat16"], checks=ATTENTION, **FAST)
    assert "bfloat16 -9984" in _failed(bf16)["masked_values"]


# --- attention outputs -------------------------------------------------------------------------------------------

def test_minus_inf_mask_gives_nan_padded_rows_reported_and_failed_when_nan_free() -> None:
    report = check(fixtures.minus_inf_additive, checks=ATTENTION, **FAST)
    assert report.passed
    assert "float32: eager NaN, sdpa" in _results(report)["attention_outputs"].message
    strict = check(fixtures.minus_inf_additive, checks=ATTENTION, nan_free=True, **FAST)
    message = _failed(strict)["attention_outputs"]
    assert "--nan-free" in message and "padded query row (b=" in message and "is NaN" in message


def test_openpi_value_in_float16_gives_nan_padded_rows_and_fails_when_nan_free() -> None:
    report = check(fixtures.openpi_additive, model_dtypes="float16", checks=["attention_outputs"], **FAST)
    assert report.passed and "float16: eager NaN" in _results(report)["attention_outputs"].message
    strict = check(fixtures.openpi_additive, model_dtypes="float16", nan_free=True, checks=["attention_outputs"],
                   **FAST)
    assert "float16 eager: padded query row" in _failed(strict)["attention_outputs"]


@pytest.mark.parametrize("fn", [fixtures.openpi_additive, fixtures.openpi_additive_bfloat16],
                         ids=lambda fn: fn.__name__)
def test_openpi_conversion_passes_everything_in_float32_and_bfloat16_nan_free(fn) -> None:
    report = check(fn, model_dtypes="float32,bfloat16", nan_free=True, **FAST)
    assert report.passed, _failed(report)
    message = _results(report)["attention_outputs"].message
    assert "float32: eager uniform, sdpa uniform" in message and "bfloat16: eager uniform" in message


def test_bool_results_skip_the_additive_checks_with_the_reason() -> None:
    report = check(block_causal, checks=ATTENTION, **FAST)
    assert all(result.status == "skipped" and "additive" in result.message for result in report.checks)


def test_attention_outcome_flags_a_real_row_that_differs_or_is_nan() -> None:
    pad = np.array([[True, True, True, False]])
    att = np.array([[True, True, True, True]])
    expected = reference_mask(pad, att)
    additive = fixtures.openpi_additive(torch.from_numpy(pad), torch.from_numpy(att))
    assert attention_outcome(additive, expected, pad, ("float32",), seed=0).problem is None
    wrong = expected.copy()
    wrong[0, 2, 1] = False  # as if the oracle masked a cell the implementation allows
    problem = attention_outcome(additive, wrong, pad, ("float32",), seed=0).problem
    assert problem is not None and "real query row (b=0, head=0, query=2) differs" in problem
    nan_row = additive.clone()
    nan_row[0, 0, 1] = float("-inf")  # a real query that sees nothing
    problem = attention_outcome(nan_row, expected, pad, ("float32",), seed=0).problem
    assert problem is not None and "NaN in real query row (b=0, head=0, query=1)" in problem


def test_model_dtypes_are_validated() -> None:
    with pytest.raises(UsageError, match="--model-dtypes: invalid dtype 'float8'"):
        check(block_causal, model_dtypes="float32,float8", seed=0)


def test_cli_model_dtypes_and_nan_free(capsys, tmp_path) -> None:
    target = f"{fixtures.__file__}:minus_inf_additive"
    code = main(["check", target, "--nan-free", "--seed", "0", "--db", "none", "--max-examples", "10", "--plain"])
    out = capsys.readouterr().out
    assert code == 1 and "attention_outputs" in out and "--nan-free" in out
    assert main(["check", target, "--model-dtypes", "float32,half", "--seed", "0"]) == 2
    assert "invalid dtype 'half'" in capsys.readouterr().err


def test_pytest_plugin_runs_the_attention_checks_when_asked(pytester) -> None:
    """With --mask-model-dtypes / --mask-nan-free the suite holds masked_values and attention_outputs; without
    them (as in tests/test_suites_plugin.py's counts) they are deselected, and block_mask_ragged is without
    --mask-kind mask_mod."""
    target = f"{fixtures.__file__}:openpi_additive"
    common = ("-p", "no:cacheprovider", "--pyargs", "maskoracle.suites", "--mask-impl", target,
              "--mask-max-examples", "10", "--mask-seed", "0", "-k", "output_format or test_attention")
    declared = pytester.runpytest_subprocess(*common, "--mask-model-dtypes", "float16", "--mask-nan-free", "-rf")
    # (how many are deselected depends on the other suites, the speed suite among them)
    declared.assert_outcomes(passed=1, failed=2)
    text = declared.stdout.str()
    assert "--model-dtypes float16 --nan-free" in text  # the reproduce command repeats them


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: attention outputs of a mask on cuda")
def test_attention_checks_on_cuda() -> None:
    report = check(fixtures.openpi_additive_cuda, device="cuda", model_dtypes="float32,bfloat16", nan_free=True,
                   checks=ATTENTION, **FAST)
    assert report.passed, _failed(report)
