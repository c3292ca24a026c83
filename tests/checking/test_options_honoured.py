"""Every option honoured by every check of every kind (issue 16, item 1).

For each kind and each value of ``--padding``, ``--layout``, ``--att-dtype`` and ``--pad-queries`` (one option
varied at a time, the others at their defaults), a recording implementation keeps every input any check hands
it, with the name of the check that was running; each input must satisfy the options. The one documented
exception: ``att_dtypes`` feeds att in every dtype on purpose (that is what it checks).
"""

from __future__ import annotations

import numpy as np
import pytest

from maskoracle import check
from maskoracle.errors import UsageError
from maskoracle.implementations import numpy as numpy_impls
from maskoracle.strategies.families import fits_layout, fits_padding

GENERIC = ("any", "causal", "bidirectional", "prefix_lm")
VARIED = ([("padding", value) for value in ("any", "right", "left", "none")]
          + [("layout", value) for value in GENERIC]
          + [("att_dtype", value) for value in ("bool", "int32", "int64", "float32", "bfloat16", "float16")]
          + [("pad_queries", value) for value in ("masked", "free")])
IMPLEMENTATIONS = {"mask": numpy_impls.block_causal, "kv_cache": numpy_impls.kv_cache,
                   "incremental": numpy_impls.incremental}
# The checks that feed another att dtype on purpose.
DTYPE_EXEMPT = {"att_dtypes"}


def recording(kind: str, calls: list[tuple[str, tuple[np.ndarray, ...]]], current: list[str]):
    implementation = IMPLEMENTATIONS[kind]

    def fn(*arguments):
        calls.append((current[0], tuple(np.array(argument) for argument in arguments)))
        return implementation(*arguments)

    return fn


def rows_of(array: np.ndarray) -> list[tuple[bool, ...]]:
    return [tuple(bool(x) for x in row) for row in np.asarray(array) != 0]


def then_ones(row: tuple[bool, ...], fits) -> bool:
    """``row`` is a part that ``fits`` followed by ones (a prompt, then tokens decoded one at a time)."""
    return any(fits(row[:k]) and all(row[k:]) for k in range(1, len(row) + 1))


def violations(kind: str, arguments: tuple[np.ndarray, ...], options: dict[str, str]) -> list[str]:
    padding, layout = options.get("padding", "any"), options.get("layout", "any")
    found = []
    if kind == "kv_cache":
        pads, att = arguments[:2], arguments[2]
        if any(not fits_padding(row, padding) for pad in pads for row in rows_of(pad)):
            found.append(f"a prefix or suffix pad row is not --padding {padding}")
        if any(not row[0] or not fits_layout(row[1:], layout) for row in rows_of(att)):
            found.append(f"a suffix att row is not a --layout {layout} suffix")
    elif kind == "incremental":
        pad, att = arguments
        if any(not then_ones(row, lambda part: fits_padding(part, padding)) for row in rows_of(pad)):
            found.append(f"a pad row is not a --padding {padding} prompt and decoded tokens")
        if any(not then_ones(row, lambda part: fits_layout(part, layout)) for row in rows_of(att)):
            found.append(f"an att row is not a --layout {layout} prompt and decoded tokens")
    else:
        pad, att = arguments
        if any(not fits_padding(row, padding) for row in rows_of(pad)):
            found.append(f"a pad row is not --padding {padding}")
        if any(not fits_layout(row, layout) for row in rows_of(att)):
            found.append(f"an att row is not --layout {layout}")
    att_dtype = options.get("att_dtype", "bool")
    if arguments[-1].dtype.name != att_dtype:
        found.append(f"att given as {arguments[-1].dtype.name}, not --att-dtype {att_dtype}")
    return found


@pytest.mark.parametrize("kind", list(IMPLEMENTATIONS))
@pytest.mark.parametrize(("name", "value"), VARIED, ids=[f"{name}={value}" for name, value in VARIED])
def test_every_input_any_check_hands_the_implementation_satisfies_the_options(kind, name, value):
    calls: list[tuple[str, tuple[np.ndarray, ...]]] = []
    current = [""]
    options = {name: value}
    try:
        report = check(recording(kind, calls, current), framework="numpy", kind=kind, max_examples=4, seed=16,
                       db="none", progress=lambda check_name, result: current.__setitem__(0, check_name),
                       **options)
    except UsageError as error:  # an att dtype this numpy cannot build (bfloat16 without ml_dtypes)
        pytest.skip(str(error))
    assert calls
    bad = {}
    for check_name, arguments in calls:
        found = violations(kind, arguments, options)
        if check_name in DTYPE_EXEMPT:
            found = [line for line in found if not line.startswith("att given as")]
        if found:
            bad.setdefault(check_name, found[0])
    assert not bad, bad
    assert report.passed, [(result.name, result.message) for result in report.checks if result.status == "failed"]
    for result in report.checks:  # a check that did not run says why
        assert result.status != "skipped" or result.message


def unpadded_only(implementation):
    def fn(*arguments):
        if any(not np.asarray(argument).all() for argument in arguments[:-1]):
            raise ValueError("this implementation is written for unpadded inputs")
        return implementation(*arguments)

    return fn


@pytest.mark.parametrize("kind", ["kv_cache", "incremental"])
def test_a_function_for_unpadded_inputs_passes_with_padding_none(kind):
    # Issue 16's false alarm: spec_examples and size_boundaries padded the prefix or prompt whatever --padding said.
    report = check(unpadded_only(IMPLEMENTATIONS[kind]), framework="numpy", kind=kind, padding="none",
                   max_examples=4, seed=16, db="none")
    assert report.passed, [(result.name, result.message) for result in report.checks if result.status == "failed"]
