"""Grouped layouts (``maskoracle.oracle.groups``, ``maskoracle.layouts``): the group rule, compiling to att."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maskoracle.layouts import BUILTIN_LAYOUTS, Layout, Segment, load_layout
from maskoracle.oracle import group_rule_mask, reference_mask
from maskoracle.oracle.groups import _structural_reason
from maskoracle.oracle.vectorized import fast_group_rule_mask
from maskoracle.strategies import realistic_examples, small_layout_instances
from tests.fixtures.group_rule_by_hand import group_rule_by_hand

MODEL_LAYOUTS = ("pi0", "pi05", "pi05_subtask", "smolvla", "fast")


@st.composite
def random_layouts(draw: st.DrawFn) -> Layout:
    """Layouts of 1-4 segments with random rules, paddings and sees-relations (earlier or explicit)."""
    count = draw(st.integers(1, 4))
    names = [f"s{k}" for k in range(count)]
    segments = []
    for k, name in enumerate(names):
        rule = draw(st.sampled_from(("bidirectional", "causal")))
        padding = draw(st.sampled_from(("none", "right", "left")))
        if draw(st.booleans()):
            sees: str | tuple[str, ...] = "earlier"
        else:
            sees = tuple(other for j, other in enumerate(names) if j != k and draw(st.booleans()))
        segments.append(Segment(name, draw(st.integers(1, 3)), rule=rule, sees=sees, padding=padding))
    return Layout("random", segments)


@pytest.mark.parametrize("name", MODEL_LAYOUTS)
def test_model_layouts_compile_to_their_real_att(name: str) -> None:
    layout = BUILTIN_LAYOUTS[name]
    assert layout.compiled.expressible, layout.compiled.reason
    # The realistic sizes give exactly the att row the att-family strategies use for the same model (SPEC §8).
    assert layout.instance().att == realistic_examples(name)[0].att_masks[0].tolist()


def test_subtask_hidden_from_actions_is_a_group_rule_with_a_reason() -> None:
    layout = BUILTIN_LAYOUTS["pi05_subtask_hidden"]
    assert not layout.compiled.expressible
    reason = layout.compiled.reason
    assert "'actions' must not see 'subtask'" in reason and "earlier" in reason
    assert layout.instance().att is None


@pytest.mark.parametrize("name", [*MODEL_LAYOUTS, "pi05_subtask_hidden"])
def test_group_rule_equals_block_causal_of_the_compiled_att_on_every_small_instance(name: str) -> None:
    layout = BUILTIN_LAYOUTS[name]
    for example in small_layout_instances(layout, longest=2):
        wanted = group_rule_mask(example.pad_masks, example.segment_ids, layout)
        assert np.array_equal(wanted, fast_group_rule_mask(example.pad_masks, example.segment_ids, layout))
        if example.att_masks is not None:
            assert np.array_equal(wanted, reference_mask(example.pad_masks, example.att_masks))


def _brute_force_expressible(layout: Layout) -> bool:
    """Whether any att row gives block_causal == the group rule on the two-tokens-per-segment instance."""
    lengths = [2] * len(layout.segments)
    instance = layout.instance(lengths, lengths)
    wanted = group_rule_mask([instance.pad], [instance.segment_ids], layout)
    for att in itertools.product((False, True), repeat=instance.length):
        if np.array_equal(reference_mask([instance.pad], [list(att)]), wanted):
            return True
    return False


@settings(max_examples=150, deadline=None)
@given(random_layouts(), st.data())
def test_compiling_finds_an_att_row_exactly_when_one_exists(layout: Layout, data: st.DataObject) -> None:
    assert layout.compiled.expressible == _brute_force_expressible(layout), layout.describe()
    # The reason is given in segments whenever there is one to give.
    assert (_structural_reason(layout) is None) == layout.compiled.expressible, layout.describe()
    # And the compiled att is right at other lengths and paddings too (the two-token instance decides).
    lengths = [data.draw(st.integers(0, 4)) for _ in layout.segments]
    real = [size if segment.padding == "none" else data.draw(st.integers(0, size))
            for segment, size in zip(layout.segments, lengths, strict=True)]
    instance = layout.instance(lengths, real)
    wanted = group_rule_mask([instance.pad], [instance.segment_ids], layout)
    # The loops against the rule written independently (reference_mask(spec=layout) calls group_rule_mask:
    # comparing those two alone would compare the loops with themselves).
    by_hand = group_rule_by_hand([instance.pad], [instance.segment_ids], layout)
    assert np.array_equal(wanted, by_hand), layout.describe()
    assert np.array_equal(wanted, fast_group_rule_mask([instance.pad], [instance.segment_ids], layout))
    assert np.array_equal(by_hand, reference_mask([instance.pad], [instance.segment_ids], spec=layout))
    if instance.att is not None:
        assert np.array_equal(wanted, reference_mask([instance.pad], [instance.att]))


def test_group_rule_reads_like_the_rule() -> None:
    # image 2, subtask 2 causal, actions 2 seeing only the image.
    layout = Layout("t", [Segment("image", 2), Segment("subtask", 2, rule="causal"),
                          Segment("actions", 2, sees=["image"])])
    instance = layout.instance()
    mask = group_rule_mask([instance.pad], [instance.segment_ids], layout)[0].astype(int).tolist()
    assert mask == [
        [1, 1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [1, 1, 0, 0, 1, 1],
        [1, 1, 0, 0, 1, 1],
    ]
    assert instance.labels == ["image0", "image1", "subtask0", "subtask1", "actions0", "actions1"]


def test_padding_of_segments_and_pad_queries() -> None:
    layout = BUILTIN_LAYOUTS["pi05"]
    instance = layout.instance([1, 3, 2], [1, 1, 2])
    assert instance.pad == [True, True, False, False, True, True]
    masked = group_rule_mask([instance.pad], [instance.segment_ids], layout)[0]
    free = group_rule_mask([instance.pad], [instance.segment_ids], layout, pad_queries="free")[0]
    assert not masked[2].any() and free[2].any() and not free[:, 2].any()


@pytest.mark.parametrize("make, message", [
    (lambda: Segment("a", 2, rule="sideways"), "rule"),
    (lambda: Segment("a", 2, padding="middle"), "padding"),
    (lambda: Segment("a", 2, sees="later"), "sees"),
    (lambda: Segment("a", -1), "length"),
    (lambda: Layout("x", [Segment("a", 1), Segment("a", 1)]), "two segments"),
    (lambda: Layout("x", [Segment("a", 1, sees=["b"])]), "not a segment"),
    (lambda: Layout("x", []), "no segments"),
    (lambda: BUILTIN_LAYOUTS["pi05"].instance([1, 2]), "3 segments"),
    (lambda: BUILTIN_LAYOUTS["pi05"].instance([1, 2, 2], [0, 2, 2]), "padding 'none'"),
])
def test_bad_layouts_are_refused_with_the_reason(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_load_layout_by_name_and_file(tmp_path) -> None:
    from maskoracle.adapters import UsageError

    assert load_layout("pi0") is BUILTIN_LAYOUTS["pi0"]
    path = tmp_path / "mine.py"
    path.write_text("from maskoracle.layouts import Layout, Segment\n"
                    "MINE = Layout('mine', [Segment('a', 2), Segment('b', 2, rule='causal')])\nNOT = 3\n")
    assert load_layout(f"{path}:MINE").name == "mine"
    with pytest.raises(UsageError, match="not a maskoracle Layout"):
        load_layout(f"{path}:NOT")
    with pytest.raises(UsageError, match="no attribute"):
        load_layout(f"{path}:MISSING")
    with pytest.raises(UsageError, match="built-in"):
        load_layout("nothing")


@pytest.mark.parametrize("segments, reason", [
    ([Segment("a", 2, sees=["c"]), Segment("b", 2), Segment("c", 2)], "'a' sees 'c' after it but not 'b' between"),
    ([Segment("a", 2, sees=["b"]), Segment("b", 2, rule="causal")], "'b' is causal"),
    ([Segment("a", 2, sees=["b", "c"]), Segment("b", 2, sees=["a"]), Segment("c", 2)],
     "but 'b' must not see 'c'"),
    ([Segment("a", 2, sees=["b"]), Segment("b", 2, sees=["a", "c"]), Segment("c", 2)],
     "'a' must not see 'c', but the chain 'a' -> 'b' -> 'c'"),
])
def test_reasons_name_the_segments_that_break_block_causal(segments, reason: str) -> None:
    layout = Layout("t", segments)
    assert not layout.compiled.expressible
    assert reason in layout.compiled.reason
