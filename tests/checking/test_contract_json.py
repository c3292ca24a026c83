"""The JSON report's contract (shared/INTERFACE.md, "JSON report"), field by field, for every kind of check.

Every report here is read back from JSON text: written by ``maskoracle check --json`` for the ``mask`` kind,
and by ``CheckReport.to_json()`` (what ``--json`` writes) for the others. For passing and failing runs of the
``mask``, ``kv_cache`` and ``incremental`` kinds, a grouped layout and the FlexAttention kinds (where torch has
them) it checks:

- the top-level fields and their types, ``passed`` as the conjunction of the checks';
- each check's fields; a failed one carries a message and, where there is an input, a counterexample;
- each counterexample's fields and shapes (``pad``/``att`` ``[B, N]``; ``expected``/``actual`` ``[B, Q, N]``
  with ``Q`` the compared query rows; ``compared_rows`` ``[B, Q]``), the split kinds' extra fields;
- ``differing_cells`` recomputed independently: the cells where ``expected`` and ``actual`` differ on compared
  rows, in ``(b, query, key)`` order, the first 1,000 of them; ``compared_rows`` as SPEC §4's policy says.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from maskoracle import check, reference_mask
from maskoracle.cli import main
from maskoracle.implementations import numpy as numpy_impl
from maskoracle.layouts import BUILTIN_LAYOUTS
from tests.fixtures.group_rule_by_hand import group_rule_by_hand

NUMPY_BUILTIN = "maskoracle.implementations.numpy:block_causal"
FAST: dict[str, Any] = {"max_examples": 10, "seed": 0, "db": "none"}
TOP_LEVEL = {"target": str, "spec": str, "options": dict, "passed": bool, "elapsed_s": float, "checks": list}
CHECK_FIELDS = {"name": str, "passed": bool, "status": str, "examples": int, "message": str, "seconds": float}
# INTERFACE's options table, as the report's options name them (spec is top-level).
OPTIONS = {"framework", "device", "layout", "padding", "pad_queries", "att_dtype", "max_examples", "timeout", "seed"}
DIFFERING_CELLS_LIMIT = 1000
HIDDEN = BUILTIN_LAYOUTS["pi05_subtask_hidden"]
FLEX_CHECKS = ["output_format", "spec_examples", "equivalence"]
# Checks of the mask kinds whose counterexample compares the implementation with the oracle on the input shown.
ORACLE_CHECKS = ("output_format", "spec_examples", "exhaustive_small", "equivalence", "size_boundaries")
HAS_FLEX = (importlib.util.find_spec("torch") is not None
            and importlib.util.find_spec("torch.nn.attention.flex_attention") is not None)

OFF_BY_ONE = '''
import numpy as np

def block_causal(pad, att):
    """Off by one: < for <=, so no token sees its own block."""
    pad, blocks = pad.astype(bool), np.cumsum(att.astype(np.int64), axis=1)
    return pad[:, :, None] & pad[:, None, :] & (blocks[:, None, :] < blocks[:, :, None])
'''


# --- implementations (failing ones wrong on real rows, so that every policy has cells to compare) ----------------

def kv_ignores_prefix_padding(prefix_pad: Any, suffix_pad: Any, suffix_att: Any) -> np.ndarray:
    return numpy_impl.kv_cache(np.ones_like(prefix_pad), suffix_pad, suffix_att)


def incremental_sees_padding(pad_masks: Any, att_masks: Any) -> np.ndarray:
    """The last token's row with every key visible, padded ones included."""
    return np.ones((pad_masks.shape[0], 1, pad_masks.shape[1]), dtype=bool)


def hidden_by_hand(pad_masks: Any, segment_ids: Any) -> np.ndarray:
    return group_rule_by_hand(pad_masks, segment_ids, HIDDEN)


def hidden_sees_everything(pad_masks: Any, segment_ids: Any) -> np.ndarray:
    mask = group_rule_by_hand(pad_masks, segment_ids, HIDDEN)
    return mask | (np.asarray(pad_masks)[:, :, None] & np.asarray(pad_masks)[:, None, :])


def returns_none(pad_masks: Any, att_masks: Any) -> None:
    return None


def _through_json(report: Any) -> dict[str, Any]:
    return json.loads(json.dumps(report.to_json()))


def _cli_report(tmp_path: Path, target: str, *options: str) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "report.json"
    status = main(["check", target, "--framework", "numpy", "--max-examples", "10", "--seed", "0", "--db", "none",
                   "--plain", "--json", str(path), *options])
    return status, json.loads(path.read_text(encoding="utf-8"))


def _reports(tmp_path: Path) -> dict[str, tuple[bool, dict[str, Any]]]:
    """name -> (whether it should pass, its JSON report)."""
    off_by_one = tmp_path / "off_by_one.py"
    off_by_one.write_text(OFF_BY_ONE)
    reports: dict[str, tuple[bool, dict[str, Any]]] = {}
    for name, target, options, passes in [
        ("mask passing (CLI)", NUMPY_BUILTIN, (), True),
        ("mask failing (CLI)", f"{off_by_one}:block_causal", (), False),
        ("mask failing, pad queries free (CLI)", f"{off_by_one}:block_causal", ("--pad-queries", "free"), False),
    ]:
        status, report = _cli_report(tmp_path, target, *options)
        assert status == (0 if passes else 1), (name, status)  # INTERFACE's exit status
        reports[name] = (passes, report)
    runs: list[tuple[str, Any, dict[str, Any], bool]] = [
        ("mask returning None", returns_none, {"framework": "numpy"}, False),
        ("kv_cache passing", numpy_impl.kv_cache, {"framework": "numpy", "kind": "kv_cache"}, True),
        ("kv_cache failing", kv_ignores_prefix_padding, {"framework": "numpy", "kind": "kv_cache"}, False),
        ("kv_cache failing, pad queries free", kv_ignores_prefix_padding,
         {"framework": "numpy", "kind": "kv_cache", "pad_queries": "free"}, False),
        ("incremental passing", numpy_impl.incremental, {"framework": "numpy", "kind": "incremental"}, True),
        ("incremental failing", incremental_sees_padding, {"framework": "numpy", "kind": "incremental"}, False),
        ("grouped layout passing", hidden_by_hand, {"framework": "numpy", "spec": HIDDEN}, True),
        ("grouped layout failing", hidden_sees_everything, {"framework": "numpy", "spec": HIDDEN}, False),
        ("grouped layout failing, pad queries free", hidden_sees_everything,
         {"framework": "numpy", "spec": HIDDEN, "pad_queries": "free"}, False),
    ]
    if HAS_FLEX:
        from maskoracle.implementations.flex import block_causal_block_mask, block_causal_mask_mod
        from tests.fixtures.attention_fixtures import strict_less_mask_mod

        runs += [
            # (the checks whose counterexamples come from a fixed list, Hypothesis, and a block mask; the full
            # lists are tests/test_flex.py's, and cost seconds each here)
            ("mask_mod passing", block_causal_mask_mod, {"kind": "mask_mod", "checks": FLEX_CHECKS}, True),
            ("mask_mod failing", strict_less_mask_mod, {"kind": "mask_mod", "checks": FLEX_CHECKS}, False),
            ("block_mask passing", block_causal_block_mask, {"kind": "block_mask", "checks": FLEX_CHECKS}, True),
        ]
    for name, fn, options, passes in runs:
        reports[name] = (passes, _through_json(check(fn, **{**FAST, **options})))
    return reports


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bool, dict[str, Any]]]:
    return _reports(tmp_path_factory.mktemp("contract"))


# --- the contract ---------------------------------------------------------------------------------------------

def _bits(value: Any, depth: int) -> np.ndarray:
    array = np.array(value)
    assert array.ndim == depth, f"expected a {depth}-level list, got {array.ndim} levels"
    assert array.size == 0 or set(np.unique(array).tolist()) <= {0, 1}, "not 0/1"
    return array.astype(bool)


def _differing_cells(example: dict[str, Any], B: int, Q: int) -> list[list[int]]:
    """``differing_cells`` recomputed from the JSON alone: expected != actual on compared rows, row-major."""
    if example["expected"] is None or example["actual"] is None:
        return []
    expected, actual = _bits(example["expected"], 3), _bits(example["actual"], 3)
    compared = np.ones((B, Q), dtype=bool) if example["compared_rows"] is None else \
        _bits(example["compared_rows"], 2)
    cells = []
    for b in range(B):
        for query in range(Q):
            for key in range(expected.shape[2]):
                if compared[b, query] and expected[b, query, key] != actual[b, query, key]:
                    cells.append([b, query, key])
    return cells[:DIFFERING_CELLS_LIMIT]


def _check_counterexample(example: dict[str, Any], report: dict[str, Any], check_name: str) -> None:
    where = f"{check_name}: "
    assert {"pad", "att", "expected", "actual", "differing_cells", "compared_rows", "note"} <= example.keys(), \
        where + str(sorted(example))
    pad = _bits(example["pad"], 2)
    if report["options"].get("group_rule"):  # a group-rule layout: att holds each token's segment index
        att = np.array(example["att"])
        assert att.ndim == 2 and ((0 <= att) & (att < len(report["options"]["segments"]))).all(), where + "att"
    else:
        att = _bits(example["att"], 2)
    assert pad.shape == att.shape and pad.shape[0] >= 1, where + f"pad {pad.shape}, att {att.shape}"
    B, N = pad.shape
    kind = report["options"].get("kind", "mask")
    split_kind = kind in ("kv_cache", "incremental")
    offset = 0
    if split_kind:
        assert example["kind"] == kind and isinstance(example["split"], int)
        offset = example["query_offset"]
        assert offset == (example["split"] if kind == "kv_cache" else N - 1), where + str(offset)
        if kind == "kv_cache":
            split = example["split"]
            assert example["prefix_pad"] == pad[:, :split].astype(int).tolist()
            assert example["suffix_pad"] == pad[:, split:].astype(int).tolist()
            assert example["suffix_att"] == att[:, split:].astype(int).tolist()
    Q = N - offset
    for side in ("expected", "actual"):
        if example[side] is not None:
            assert _bits(example[side], 3).shape == (B, Q, N), where + f"{side} {_bits(example[side], 3).shape}"
    if example["compared_rows"] is not None:
        compared = _bits(example["compared_rows"], 2)
        assert compared.shape == (B, Q), where + f"compared_rows {compared.shape}"
        real_rows = pad[:, offset:]
        if report["options"]["pad_queries"] == "free":  # SPEC §4: only real query rows are compared
            assert np.array_equal(compared, real_rows), where + "compared_rows are not the real query rows"
        elif check_name != "matches_full_mask":  # (that check compares real suffix rows by definition, SPEC §5)
            assert compared.all(), where + "every query row counts under --pad-queries masked"
    if kind in ("mask", "mask_mod", "block_mask") and not report["options"].get("group_rule") \
            and check_name.split("/")[-1] in ORACLE_CHECKS and example["expected"] is not None:
        # "expected" is the oracle's mask, not the implementation's (which "actual" is)
        oracle = reference_mask(pad, att, spec=report["spec"], pad_queries=report["options"]["pad_queries"])
        assert np.array_equal(_bits(example["expected"], 3), oracle), where + "expected is not the oracle's mask"
    cells = example["differing_cells"]
    assert isinstance(cells, list) and all(isinstance(cell, list) and len(cell) == 3 for cell in cells)
    assert cells == _differing_cells(example, B, Q), where + "differing_cells are not where expected != actual"
    assert isinstance(example["note"], str)


def _check_report(name: str, passes: bool, report: dict[str, Any]) -> None:
    for field, kind in TOP_LEVEL.items():
        assert isinstance(report[field], kind), f"{name}: {field} = {report[field]!r}"
    assert OPTIONS <= report["options"].keys(), f"{name}: options lack {sorted(OPTIONS - report['options'].keys())}"
    assert report["checks"], name
    assert report["passed"] is all(check_["passed"] for check_ in report["checks"]), name
    assert report["passed"] is passes, f"{name}: {[(c['name'], c['message']) for c in report['checks']]}"
    assert report["elapsed_s"] >= 0
    for check_ in report["checks"]:
        for field, kind in CHECK_FIELDS.items():
            assert isinstance(check_[field], kind), f"{name}/{check_.get('name')}: {field} = {check_[field]!r}"
        assert "counterexample" in check_
        assert check_["status"] in ("passed", "failed", "skipped")
        assert check_["passed"] is (check_["status"] != "failed")
        assert check_["examples"] >= 0 and check_["seconds"] >= 0
        if check_["status"] == "failed":
            assert check_["message"], f"{name}/{check_['name']}: a failure without a message"
        else:
            assert check_["counterexample"] is None, f"{name}/{check_['name']}"
        if check_["counterexample"] is not None:
            _check_counterexample(check_["counterexample"], report, f"{name}/{check_['name']}")


def test_every_kind_of_report_keeps_the_contract(reports) -> None:
    expected_names = {"mask passing (CLI)", "mask failing (CLI)", "kv_cache failing", "incremental failing",
                      "grouped layout failing"}
    assert expected_names <= reports.keys()
    for name, (passes, report) in reports.items():
        _check_report(name, passes, report)


def test_failing_reports_show_differing_cells(reports) -> None:
    """A test of the test: the failing runs do reach the differing_cells comparison, with cells in it."""
    for name, (passes, report) in reports.items():
        if passes or name == "mask returning None":
            continue
        examples = [c["counterexample"] for c in report["checks"] if c["counterexample"] is not None]
        assert any(example["differing_cells"] for example in examples), name


def test_a_report_with_more_differing_cells_than_listed(tmp_path) -> None:
    """Past 1,000 differing cells the list is cut, in (b, query, key) order (a long failing input)."""
    def everything_inverted(pad: Any, att: Any) -> np.ndarray:
        return ~numpy_impl.block_causal(pad, att)

    report = _through_json(check(everything_inverted, framework="numpy", checks=["size_boundaries"], **FAST))
    [result] = report["checks"]
    example = result["counterexample"]
    B, N = np.array(example["pad"]).shape
    assert len(example["differing_cells"]) == DIFFERING_CELLS_LIMIT < B * N * N
    _check_report("size_boundaries, inverted", False, report)


def test_the_contract_checker_fails_a_report_without_differing_cells(reports) -> None:
    """The checker above can fail: the same report with differing_cells dropped, or one cell wrong, is refused."""
    passes, report = reports["mask failing (CLI)"]
    failed = next(c for c in report["checks"] if c["counterexample"] and c["counterexample"]["differing_cells"])
    for broken in ({key: value for key, value in failed["counterexample"].items() if key != "differing_cells"},
                   {**failed["counterexample"], "differing_cells": failed["counterexample"]["differing_cells"][1:]}):
        with pytest.raises((AssertionError, KeyError)):
            _check_counterexample(broken, report, failed["name"])


def test_written_json_is_the_report(tmp_path) -> None:
    """What ``--json`` writes is ``CheckReport.to_json()`` of the same run (timings aside)."""
    status, written = _cli_report(tmp_path, NUMPY_BUILTIN)
    assert status == 0
    again = _through_json(check(numpy_impl.block_causal, framework="numpy", target=NUMPY_BUILTIN, **FAST))
    for report in (written, again):
        report.pop("elapsed_s")
        for check_ in report["checks"]:
            check_.pop("seconds")
    assert written["options"] == again["options"]
    # (exhaustive_small's example count follows its time budget, so a loaded machine may change it)
    assert [(c["name"], c["status"], c["examples"] if c["name"] != "exhaustive_small" else None)
            for c in written["checks"]] == \
        [(c["name"], c["status"], c["examples"] if c["name"] != "exhaustive_small" else None) for c in again["checks"]]
