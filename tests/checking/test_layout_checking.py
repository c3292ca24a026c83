"""``check()`` on grouped layouts (``maskoracle.layout_checking``) and the layout strategies."""

from __future__ import annotations

import inspect
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings

from maskoracle import UsageError, check
from maskoracle.implementations.numpy import block_causal
from maskoracle.layouts import BUILTIN_LAYOUTS, Layout, Segment
from maskoracle.strategies import layout_examples
from tests.fixtures.group_rule_by_hand import group_rule_by_hand

HIDDEN = BUILTIN_LAYOUTS["pi05_subtask_hidden"]
IMAGE, LANGUAGE, SUBTASK, ACTIONS = range(4)


def hidden_subtask(pad_masks, segment_ids):
    """A right implementation of pi05_subtask_hidden, written without the oracle: block ids per segment,
    except that actions skip the subtask tokens."""
    pad = np.asarray(pad_masks, dtype=bool)
    segments = np.asarray(segment_ids)
    L = pad.shape[1]
    query, key = segments[:, :, None], segments[:, None, :]
    prefix_key = key <= LANGUAGE
    causal_subtask = (key == SUBTASK) & np.tri(L, dtype=bool)[None]
    allowed = np.where(query <= LANGUAGE, prefix_key,
                       np.where(query == SUBTASK, prefix_key | causal_subtask, prefix_key | (key == ACTIONS)))
    return allowed & pad[:, None, :] & pad[:, :, None]


def actions_see_subtask(pad_masks, segment_ids):
    """The mistake the layout exists to prevent: the plain pi0.5-subtask mask (actions see the subtask)."""
    segments = np.asarray(segment_ids)
    att = np.zeros(segments.shape, dtype=bool)
    att[:, 1:] = (segments[:, 1:] != segments[:, :-1]) & (segments[:, 1:] >= SUBTASK)
    att |= segments == SUBTASK
    return block_causal(pad_masks, att)


def test_a_group_rule_spec_passes_a_right_implementation() -> None:
    report = check(hidden_subtask, spec=HIDDEN, framework="numpy", max_examples=30, seed=0)
    assert report.passed, [(c.name, c.message) for c in report.failed]
    names = [c.name for c in report.checks]
    assert names[:4] == ["output_format", "layout_examples", "equivalence", "realistic_size"]
    assert report.options["group_rule"] is True and report.options["att_dtype"] == "int64"


def test_a_group_rule_spec_catches_actions_that_see_the_subtask_on_a_tiny_instance() -> None:
    report = check(actions_see_subtask, spec="pi05_subtask_hidden", framework="numpy", max_examples=30, seed=0)
    failed = {c.name: c for c in report.failed}
    assert {"layout_examples", "equivalence", "realistic_size"} <= set(failed)
    example = failed["equivalence"].counterexample
    assert example is not None and example.shape[1] <= 6  # shrunk to a few tokens
    b, query, key = example.differing_cells()[0]
    assert example.att[b, query] == ACTIONS and example.att[b, key] == SUBTASK  # att holds segment ids
    assert "segment ids" in example.note


def test_a_compiled_layout_checks_an_ordinary_mask_function() -> None:
    report = check(block_causal, layout=BUILTIN_LAYOUTS["pi05_subtask"], framework="numpy", max_examples=30, seed=0)
    assert report.passed
    assert report.spec == "block_causal" and report.options["group_rule"] is False


def test_a_layout_under_rowwise_fails_layout_no_leak_with_the_path() -> None:
    report = check(block_causal, layout=BUILTIN_LAYOUTS["pi05_subtask"], spec="rowwise", framework="numpy",
                   max_examples=20, seed=0, checks=["layout_no_leak"])
    (result,) = report.checks
    assert result.status == "failed"
    assert "subtask1 -> image0 -> subtask0" in result.message


def test_a_leaky_layout_is_reported() -> None:
    leaky = Layout("leaky", [Segment("image", 2), Segment("subtask", 2, rule="causal"),
                             Segment("state", 1, sees=["image", "subtask"]),
                             Segment("actions", 2, sees=["image", "state"])])
    assert not leaky.compiled.expressible

    def rule(pad, segment_ids):  # a right implementation of the rule, written without the oracle
        return group_rule_by_hand(pad, segment_ids, leaky)

    report = check(rule, spec=leaky, framework="numpy", max_examples=10, seed=0)
    failed = [c.name for c in report.failed]
    assert failed == ["layout_no_leak"]
    assert "subtask0 -> state -> actions0" in report.failed[0].message


def test_usage_errors() -> None:
    with pytest.raises(UsageError, match="padding"):
        check(hidden_subtask, spec=HIDDEN, framework="numpy", padding="left", seed=0)
    with pytest.raises(UsageError, match="segment ids"):
        check(hidden_subtask, spec=HIDDEN, framework="numpy", att_dtype="float16", seed=0)
    with pytest.raises(UsageError, match="--spec"):
        check(block_causal, layout=BUILTIN_LAYOUTS["pi0"], spec="nonsense", framework="numpy", seed=0)
    with pytest.raises(UsageError, match="unknown check"):
        check(hidden_subtask, spec=HIDDEN, framework="numpy", checks=["spec_examples"], seed=0)


def test_torch_implementations_get_segment_ids_as_int64_tensors() -> None:
    torch = pytest.importorskip("torch")
    seen = []

    def fn(pad, segment_ids):
        seen.append(segment_ids.dtype)
        return torch.from_numpy(hidden_subtask(pad.numpy(), segment_ids.numpy()))

    assert check(fn, spec=HIDDEN, max_examples=10, seed=0).passed
    assert set(seen) == {torch.int64}


@settings(max_examples=40, deadline=None)
@given(layout_examples(BUILTIN_LAYOUTS["smolvla"]))
def test_layout_examples_follow_the_segments(example) -> None:
    layout = BUILTIN_LAYOUTS["smolvla"]
    B, L = example.shape
    assert L == sum(example.lengths)
    for b in range(B):
        ids = example.segment_ids[b].tolist()
        assert ids == sorted(ids)  # segments in order, lengths shared by every row
        prefix_padding = [k for k, s in enumerate(ids) if layout.segments[s].name == "prefix_padding"]
        assert not example.pad_masks[b, prefix_padding].any()
        real_language = example.pad_masks[b][np.array(ids) == 1].tolist()
        assert real_language == sorted(real_language, reverse=True)  # right-padded
    assert example.att_masks is not None


def test_a_broken_implementation_fails_checks_and_never_crashes() -> None:
    import time

    def hangs(pad, segment_ids):
        time.sleep(30)

    def returns_none(pad, segment_ids):
        return None

    report = check(hangs, spec=HIDDEN, framework="numpy", timeout=0.2, seed=0)
    assert report.checks[0].status == "failed" and "timed out" in report.checks[0].message
    assert all(c.status == "skipped" for c in report.checks[1:-1])
    report = check(returns_none, spec=HIDDEN, framework="numpy", seed=0)
    assert report.checks[0].status == "failed" and not report.passed


def test_the_pytest_suites_check_a_grouped_layout(pytester) -> None:
    # The implementations are the rule written by hand (group_rule_by_hand), not the oracle checked against itself.
    pytester.makepyfile(my_layout=textwrap.dedent("""
        from __future__ import annotations
        from maskoracle.layouts import Layout, Segment
        HIDDEN = Layout("hidden", [Segment("image", 2), Segment("subtask", 2, rule="causal"),
                                   Segment("actions", 2, sees=["image"])])
        def right(pad, segment_ids):
            return group_rule_by_hand(pad, segment_ids, HIDDEN)
        def wrong(pad, segment_ids):
            return group_rule_by_hand(pad, segment_ids, HIDDEN) | True
    """) + inspect.getsource(group_rule_by_hand))
    path = pytester.path / "my_layout.py"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--pyargs", "maskoracle.suites", "-rfs",
        "--mask-impl", f"{path}:right", "--mask-impl", f"{path}:wrong", "--mask-framework", "numpy",
        "--mask-spec", f"{path}:HIDDEN", "--mask-max-examples", "10", "--mask-seed", "0")
    outcomes = result.parseoutcomes()
    text = result.stdout.str()
    # right passes every layout check; wrong fails the comparisons; checks of (pad, att) specs are skipped
    failed = [line for line in text.splitlines() if line.startswith("FAILED")]
    assert {line.split("::")[1].split("[")[0] for line in failed} >= {"test_equivalence", "test_layout"}
    assert all("wrong" in line for line in failed)
    assert "not a check of grouped layouts" in text
    assert outcomes["passed"] == 2 * 10 - len(failed)  # 10 layout checks for each implementation
