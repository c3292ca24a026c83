"""The option table (``maskoracle/options.py``): every front end is derived from it, so one row is one option."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from maskoracle import UsageError, check
from maskoracle.cli import build_parser, main
from maskoracle.implementations.numpy import block_causal
from maskoracle.options import CHECK_OPTIONS, add_check_options, check_options, reproduce_arguments
from maskoracle.reports.terminal import reproduce_command
from maskoracle.suites import plugin

FAST = {"framework": "numpy", "max_examples": 10, "seed": 3, "db": "none"}


def test_every_option_is_a_flag_of_check_with_its_default() -> None:
    parser = argparse.ArgumentParser()
    add_check_options(parser.add_argument)
    parsed = vars(parser.parse_args([]))
    assert parsed == {option.name: option.default for option in CHECK_OPTIONS}
    check_parser = build_parser()
    namespace = check_parser.parse_args(["check", "m:f"])
    assert {option.name for option in CHECK_OPTIONS} <= set(vars(namespace))


def test_every_option_is_a_pytest_option_with_the_mask_prefix() -> None:
    seen: list[str] = []

    class Group:
        def addoption(self, flag: str, **keywords: object) -> None:
            seen.append(flag)

    class Parser:
        def getgroup(self, *args: object) -> Group:
            return Group()

    plugin.pytest_addoption(Parser())  # type: ignore[arg-type]
    assert {option.flag("--mask-") for option in CHECK_OPTIONS} <= set(seen)


def test_check_rejects_an_unknown_keyword_and_a_bad_value_naming_the_option() -> None:
    with pytest.raises(UsageError, match="unknown option 'max_example'"):
        check(block_causal, max_example=3, seed=3, framework="numpy", db="none")
    with pytest.raises(UsageError, match="--max-shrink-seconds must be more than 0"):
        check(block_causal, max_shrink_seconds=0, **FAST)
    with pytest.raises(UsageError, match="--mask-padding: invalid value 'top'"):
        check_options({"padding": "top"}, prefix="--mask-")


def test_reproduce_arguments_give_back_every_non_default_value() -> None:
    options = check_options({"framework": "numpy", "padding": "right", "model_dtypes": "float32,bfloat16",
                             "nan_free": True, "max_shrink_seconds": 2.5, "seed": 7})
    words = reproduce_arguments({**options, "model_dtypes": list(options["model_dtypes"])})
    assert words == ["--framework", "numpy", "--padding", "right", "--seed", "7", "--max-shrink-seconds", "2.5",
                     "--model-dtypes", "float32,bfloat16", "--nan-free"]
    again = vars(build_parser().parse_args(["check", "m:f", *words]))
    assert {name: again[name] for name in ("framework", "padding", "seed", "max_shrink_seconds", "nan_free")} == \
        {"framework": "numpy", "padding": "right", "seed": 7, "max_shrink_seconds": 2.5, "nan_free": True}


def slow_to_shrink(pad: np.ndarray, att: np.ndarray) -> np.ndarray:
    """Wrong on every input longer than 3 tokens: Hypothesis has plenty to shrink."""
    mask = block_causal(pad, att)
    if pad.shape[1] > 3:
        mask[:, 0, -1] = ~mask[:, 0, -1]
    return mask


def test_max_shrink_seconds_bounds_shrinking_and_reaches_the_report(tmp_path, monkeypatch) -> None:
    report = check(slow_to_shrink, max_shrink_seconds=1e-6, checks=["equivalence"], **FAST)
    result = report.checks[0]
    assert result.status == "failed"
    assert "(shrinking stopped after 1e-06 s)" in result.message
    assert report.options["max_shrink_seconds"] == 1e-6
    assert "--max-shrink-seconds 1e-06" in reproduce_command(report)

    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "shrinky.py").write_text("from maskoracle.implementations.numpy import block_causal\n"
                                         "def fn(pad, att):\n    return block_causal(pad, att)\n")
    out = tmp_path / "report.json"
    assert main(["check", "shrinky:fn", "--framework", "numpy", "--max-examples", "5", "--seed", "1",
                 "--db", "none", "--max-shrink-seconds", "3", "--json", str(out), "--plain"]) == 0
    assert json.loads(out.read_text())["options"]["max_shrink_seconds"] == 3.0
