"""The forms a KV-cache or incremental result may take (README "Every form"; SPEC §5, §6): with or without a head
axis, bool or additive. (Found missing by the mutation run, docs/mutation.md: refusing ``[B, 1, S, P+S]`` passed
every test.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from maskoracle import check
from maskoracle.implementations import numpy as numpy_impl

CHECKS = ["output_format", "spec_examples"]
MASKED = np.float32(-2.3819763e38)  # openpi's masked value (SPEC §6)


def _head_axis(mask: np.ndarray) -> np.ndarray:
    return mask[:, None]


def _additive(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, np.float32(0), MASKED)


def _kv(form: Callable[[np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    return lambda prefix_pad, suffix_pad, suffix_att: form(numpy_impl.kv_cache(prefix_pad, suffix_pad, suffix_att))


def _incremental(form: Callable[[np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    return lambda pad_masks, att_masks: form(numpy_impl.incremental(pad_masks, att_masks))


FORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "bool": lambda mask: mask,
    "bool with a head axis": _head_axis,
    "additive": _additive,
    "additive with a head axis": lambda mask: _head_axis(_additive(mask)),
}
KINDS: dict[str, Callable[..., Any]] = {"kv_cache": _kv, "incremental": _incremental}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_result_form_passes(kind: str, form: str) -> None:
    report = check(KINDS[kind](FORMS[form]), framework="numpy", kind=kind, checks=CHECKS, seed=0)
    assert report.passed, [(result.name, result.message) for result in report.failed]
    assert [result.status for result in report.checks] == ["passed", "passed"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_head_axis_in_the_wrong_place_fails_output_format(kind: str) -> None:
    report = check(KINDS[kind](lambda mask: mask[..., None]), framework="numpy", kind=kind, checks=CHECKS, seed=0)
    first = report.checks[0]
    assert first.name == "output_format" and first.status == "failed"
    assert "returned shape" in first.message and "[B, 1, Q, K]" in first.message, first.message
