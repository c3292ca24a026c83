"""Tests for ``maskoracle.strategies``: what ``mask_examples`` and ``boundary_examples`` generate.

- arguments are validated up front, with messages that name the argument and what to pass instead;
- every example is a pair of numpy bool ``[B, L]`` arrays; each padding family and each att layout obeys its
  rule (the model layouts are those of SPEC §8, with the segment sizes ``_internal.py`` draws);
- the size regimes reach the block counts where real implementations break (SPEC §7), while most examples stay
  small, and shrinking ends at the smallest failing input.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from maskoracle.strategies import (
    BLOCK_COUNT_BOUNDARIES,
    LAYOUTS,
    PADDINGS,
    MaskExample,
    att_dtypes,
    boundary_examples,
    mask_examples,
)
from maskoracle.strategies._internal import ATT_DTYPES, MIN_LENGTH, SMALL_MAX_LENGTH

MODEL_LAYOUTS = ("pi0", "pi05", "pi05_subtask", "smolvla", "fast")
# Layouts whose att has many 1s, so that a long row carries many blocks (SPEC §7 boundaries).
MANY_BLOCK_LAYOUTS = ("any", "causal", "blocks", "prefix_lm", "fast", "smolvla", "pi05_subtask")

# Deterministic runs (a strict xfail must fail every time) with generous health checks: long examples are slow.
DETERMINISTIC = settings(
    max_examples=100,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _bits(row: np.ndarray) -> str:
    return "".join("1" if bit else "0" for bit in row)


def _rows(example: MaskExample):
    """(pad row, att row) pairs as ``0``/``1`` strings, the way SPEC writes them."""
    return [(_bits(pad), _bits(att)) for pad, att in zip(example.pad_masks, example.att_masks, strict=True)]


# --- argument validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "named", "allowed"),
    [
        ({"layout": "nope"}, "layout='nope'", [repr(layout) for layout in LAYOUTS]),
        ({"padding": "x"}, "padding='x'", [repr(padding) for padding in PADDINGS]),
        ({"sizes": "huge"}, "sizes='huge'", ["'default'", "'small'", "'long'"]),
        ({"batch_size": 0}, "batch_size=0", ["from 1 to"]),
        ({"batch_size": 1.5}, "batch_size", ["int", "strategy of ints", "1.5"]),
        ({"batch_size": "2"}, "batch_size", ["int", "strategy of ints"]),
        ({"length": -1}, "length=-1", ["from 1 to"]),
        ({"length": 0}, "length=0", ["from 1 to"]),
        ({"length": True}, "length", ["int", "strategy of ints", "True"]),
    ],
)
def test_mask_examples_invalid_arguments(kwargs, named, allowed):
    with pytest.raises(InvalidArgument) as info:
        mask_examples(**kwargs).validate()
    message = str(info.value)
    assert named in message
    for text in allowed:
        assert text in message, f"{text!r} missing from {message!r}"


def test_mask_examples_validates_at_call_time():
    """Hypothesis habit (STYLE): a bad argument fails where it is written, not at the first draw."""
    with pytest.raises(InvalidArgument):
        mask_examples(layout="pi1")


@pytest.mark.parametrize(("kwargs", "named"), [({"layout": "nope"}, "layout"), ({"padding": "x"}, "padding")])
def test_boundary_examples_invalid_arguments(kwargs, named):
    with pytest.raises(InvalidArgument, match=named):
        boundary_examples(**kwargs)


def test_att_dtypes_strategy():
    assert att_dtypes().validate() is None
    assert find(att_dtypes(), lambda name: True) == "bool"  # what shrinking prefers
    assert set(ATT_DTYPES) == {"bool", "int32", "int64", "float32", "bfloat16", "float16"}


# --- every example --------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
@DETERMINISTIC
@given(data=st.data())
def test_examples_are_bool_arrays_of_one_shape(layout, data):
    example = data.draw(mask_examples(layout=layout))
    assert isinstance(example, MaskExample)
    pad, att = example
    assert isinstance(pad, np.ndarray) and isinstance(att, np.ndarray)
    assert pad.dtype == bool and att.dtype == bool
    assert pad.ndim == 2 and pad.shape == att.shape
    B, L = pad.shape
    assert 1 <= B <= 4 and L >= max(1, MIN_LENGTH.get(layout, 1))
    assert example.shape == (B, L)


@DETERMINISTIC
@given(st.data())
def test_batch_size_and_length_arguments(data):
    batch_size = data.draw(st.integers(1, 6))
    length = data.draw(st.integers(1, 20))
    example = data.draw(mask_examples(batch_size=batch_size, length=length))
    assert example.shape == (batch_size, length)
    example = data.draw(mask_examples(batch_size=st.just(batch_size), length=st.integers(2, 4)))
    assert example.shape[0] == batch_size and 2 <= example.shape[1] <= 4


@settings(DETERMINISTIC, max_examples=60)
@given(mask_examples(sizes="small"))
def test_small_sizes_stay_small(example):
    assert example.shape[1] <= SMALL_MAX_LENGTH


# --- padding families -------------------------------------------------------------------------------------

PADDING_RULES = {"right": r"1*0*", "left": r"0*1*", "none": r"1*"}


@pytest.mark.parametrize("padding", ["right", "left", "none"])
@pytest.mark.parametrize("layout", ["any", "causal", "pi0", "smolvla"])
@settings(DETERMINISTIC, max_examples=60)
@given(data=st.data())
def test_padding_family_rule(padding, layout, data):
    """For model layouts a padding other than ``any`` replaces the model's own padding."""
    example = data.draw(mask_examples(layout=layout, padding=padding))
    for pad, _ in _rows(example):
        assert re.fullmatch(PADDING_RULES[padding], pad), f"padding={padding!r} gave pad row {pad}"


def _padding_kind(pad: str) -> str:
    if "1" not in pad:
        return "all padding"
    if pad.count("1") == 1 and len(pad) > 1:
        return "lone real token"
    if "0" not in pad:
        return "no padding"
    if re.fullmatch(r"1+0+", pad):
        return "right"
    if re.fullmatch(r"0+1+", pad):
        return "left"
    return "scattered"


def test_padding_any_covers_every_family():
    seen: dict[str, int] = {}

    @seed(0)
    @settings(DETERMINISTIC, derandomize=False, max_examples=300)
    @given(mask_examples(layout="any", padding="any", sizes="small"))
    def collect(example):
        for pad, _ in _rows(example):
            kind = _padding_kind(pad)
            seen[kind] = seen.get(kind, 0) + 1

    collect()
    missing = {"all padding", "lone real token", "right", "left", "no padding", "scattered"} - set(seen)
    assert not missing, f"padding='any' never produced {sorted(missing)} in 300 examples: {seen}"


# --- att layouts (SPEC §8, as _internal.py draws them) ------------------------------------------------------
# Segments: images >= 1 and language >= 1 tokens (att 0), so the 0-prefix has at least two tokens.

LAYOUT_ATT = {
    "causal": r"1+",
    "bidirectional": r"0+",
    "prefix_lm": r"0*1*",
    "any": r"[01]+",
    "blocks": r"[01]+",
    # [images, language: 0][state: 1][actions: 1 0 0 ...]
    "pi0": r"00+110*",
    # [images, language: 0][actions: 1 0 0 ...], no state token
    "pi05": r"00+10*",
    # [images, language: 0][subtask tokens: 1 1 ...][actions: 1 0 0 ...]
    "pi05_subtask": r"00+111*0*",
    # [images, language: 0][state: 1][prefix padding: 0 ...][actions: 1 1 1 ..., at least 2]
    "smolvla": r"00+10*111*",
    # [images, language: 0][FAST action tokens: 1 1 1 ...]
    "fast": r"00+1+",
}


@pytest.mark.parametrize("layout", LAYOUTS)
@DETERMINISTIC
@given(data=st.data())
def test_layout_att_pattern(layout, data):
    example = data.draw(mask_examples(layout=layout))
    for _, att in _rows(example):
        assert re.fullmatch(LAYOUT_ATT[layout], att), f"layout={layout!r} gave att row {att}"


def _own_padding_problem(layout: str, pad: str, att: str) -> str | None:
    """Where the model's own padding (SPEC §8) is out of place in one row, or ``None`` if it is right.

    The first image token is always real; language padding is a right-padded run that ends where the 0-prefix
    ends. pi0/pi0.5: the suffix is all real. pi0.5 subtask: subtask tokens right-padded, actions real.
    SmolVLA: the state is real, every 0 after it is prefix padding, the action tokens are real. FAST: action
    tokens right-padded.
    """
    prefix = att.index("1")
    if pad[0] != "1":
        return "the first image token is padded"
    if not re.fullmatch(r"1+0*", pad[:prefix]):
        return f"the images+language prefix {pad[:prefix]} is not right-padded"
    suffix_pad, suffix_att = pad[prefix:], att[prefix:]
    if layout in ("pi0", "pi05"):
        ok = "0" not in suffix_pad
    elif layout == "pi05_subtask":
        actions = att.rindex("1")
        ok = bool(re.fullmatch(r"1*0*", pad[prefix:actions])) and "0" not in pad[actions:]
    elif layout == "smolvla":
        ok = suffix_pad[0] == "1" and suffix_pad[1:] == suffix_att[1:]
    else:  # fast
        ok = bool(re.fullmatch(r"1*0*", suffix_pad))
    return None if ok else f"suffix pad {suffix_pad} does not fit suffix att {suffix_att}"


@pytest.mark.parametrize("layout", MODEL_LAYOUTS)
@DETERMINISTIC
@given(data=st.data())
def test_model_layout_own_padding_single_row(layout, data):
    example = data.draw(mask_examples(layout=layout, padding="any", batch_size=1))
    [(pad, att)] = _rows(example)
    problem = _own_padding_problem(layout, pad, att)
    assert problem is None, f"layout={layout!r}: pad {pad} att {att}: {problem}"


@pytest.mark.parametrize("layout", MODEL_LAYOUTS)
@DETERMINISTIC
@given(data=st.data())
def test_model_layout_own_padding_every_row(layout, data):
    example = data.draw(mask_examples(layout=layout, padding="any"))
    for pad, att in _rows(example):
        problem = _own_padding_problem(layout, pad, att)
        assert problem is None, f"layout={layout!r}: pad {pad} att {att}: {problem}"


@pytest.mark.parametrize("layout", MODEL_LAYOUTS)
def test_model_layout_minimal_example(layout):
    """The smallest row of each model layout, written out (SPEC §8); shorter lengths are raised to it."""
    example = find(mask_examples(layout=layout, padding="none", length=1), lambda example: True,
                   settings=settings(database=None))
    assert example.shape[1] == MIN_LENGTH[layout]
    expected_att = {
        "pi0": "0011",  # image, language, state, one action
        "pi05": "001",  # image, language, one action
        "pi05_subtask": "0011",  # image, language, one subtask token, one action
        "smolvla": "00111",  # image, language, state, two actions
        "fast": "001",  # image, language, one FAST token
    }[layout]
    assert _rows(example) == [("1" * len(expected_att), expected_att)]


def test_rows_of_a_batch_share_or_vary_the_structure():
    """Real batches share segment sizes; drawing rows separately also happens (it finds row mix-ups)."""
    same = find(mask_examples(layout="pi0", batch_size=2, length=8),
                lambda e: len({_bits(row) for row in e.att_masks}) == 1)
    varied = find(mask_examples(layout="pi0", batch_size=2, length=8),
                  lambda e: len({_bits(row) for row in e.att_masks}) == 2)
    assert same.shape == varied.shape == (2, 8)


# --- size regimes (SPEC §7) ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["causal", "any"])
def test_long_sizes_reach_every_block_count_boundary(layout):
    block_counts: set[int] = set()

    @seed(0)
    @settings(DETERMINISTIC, derandomize=False, max_examples=300)
    @given(mask_examples(layout=layout, sizes="long"))
    def collect(example):
        B, L = example.shape
        assert B <= 2 and L >= min(BLOCK_COUNT_BOUNDARIES)
        last_block = np.cumsum(example.att_masks, axis=1, dtype=np.int64)[:, -1]
        if layout == "causal":
            assert L in BLOCK_COUNT_BOUNDARIES and (last_block == L).all()
        else:  # mostly 1s, at most three 0s
            assert (last_block >= L - 3).all()
        block_counts.update(int(count) for count in last_block)

    collect()
    missing = set(BLOCK_COUNT_BOUNDARIES) - block_counts
    assert not missing, f"sizes='long' never reached block counts {sorted(missing)}"


def test_default_sizes_mostly_small_some_long():
    """300 examples with a fixed seed; also measures generation speed (printed, not asserted)."""
    lengths: list[int] = []

    @seed(0)
    @settings(DETERMINISTIC, derandomize=False, max_examples=300)
    @given(mask_examples())
    def collect(example):
        lengths.append(example.shape[1])

    started = time.perf_counter()
    collect()
    elapsed = time.perf_counter() - started
    array = np.array(lengths)
    small = float((array <= SMALL_MAX_LENGTH).mean())
    long = float((array > 160).mean())
    print(f"\nmask_examples() default regime: {len(array)} examples in {elapsed:.2f} s "
          f"({len(array) / elapsed:.0f} examples/s under @given); L <= {SMALL_MAX_LENGTH}: {small:.0%}, "
          f"L > 160: {long:.1%}, max L {array.max()}")
    assert len(array) == 300
    assert (array > 160).any(), "no long example in 300"
    assert small > 0.5, f"only {small:.0%} of examples are small"


# --- boundary_examples (SPEC §7) ----------------------------------------------------------------------------


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_boundary_examples(layout, padding):
    examples = boundary_examples(layout, padding)
    assert len(examples) == len(BLOCK_COUNT_BOUNDARIES)
    lengths = [example.shape[1] for example in examples]
    assert lengths == sorted(lengths)
    for boundary, example in zip(BLOCK_COUNT_BOUNDARIES, examples, strict=True):
        pad, att = example
        assert pad.dtype == bool and att.dtype == bool and pad.shape == att.shape
        B, L = example.shape
        assert B == (2 if padding == "any" else 1)
        last_block = int(np.cumsum(att[0], dtype=np.int64)[-1])
        if layout in MANY_BLOCK_LAYOUTS:
            assert last_block == boundary + 1, f"{layout}: last block id {last_block} for boundary {boundary}"
        else:
            assert L == boundary + 1
        expected_pad = {"right": ["1" * (L - 1) + "0"], "left": ["0" + "1" * (L - 1)], "none": ["1" * L],
                        "any": ["1" * L, "1" * (L - 1) + "0"]}[padding]
        assert [_bits(row) for row in pad] == expected_pad
        assert (att == att[0]).all()  # every row has the same att


@pytest.mark.parametrize(
    ("layout", "suffix"),
    [("bidirectional", ""), ("pi0", "11" + "0" * 7), ("pi05", "1" + "0" * 7)]
)
def test_boundary_examples_of_few_block_layouts(layout, suffix):
    """Long rows of the model's own shape: a bidirectional prefix, then the suffix of SPEC §8."""
    for example in boundary_examples(layout):
        att = _bits(example.att_masks[0])
        assert att == "0" * (len(att) - len(suffix)) + suffix


def test_boundary_examples_are_fresh_arrays():
    first = boundary_examples("causal")
    first[0].att_masks[...] = False
    assert boundary_examples("causal")[0].att_masks.all()


# --- shrinking ----------------------------------------------------------------------------------------------


def _needs_three_tokens_and_padding(example: MaskExample) -> bool:
    return example.shape[1] >= 3 and bool((~example.pad_masks).any())


def test_shrinking_ends_small():
    example = find(mask_examples(), _needs_three_tokens_and_padding,
                   settings=settings(database=None, derandomize=True))
    assert example.shape == (1, 3)


def test_check_reports_small_counterexamples_for_every_seed():
    """Hypothesis alone sometimes cannot shrink a long failure into the small regime (it would have to lower the
    regime roll and grow the small length at once); ``check()`` then searches the small regime again, so the
    counterexample a user sees is small whatever the seed."""
    from maskoracle import check
    from maskoracle.implementations.numpy import block_causal

    def wrong_with_padding_from_three_tokens(pad, att):
        mask = block_causal(pad, att)
        if pad.shape[1] >= 3 and not pad.all():
            mask = mask | ~pad[:, None, :]  # attends padded keys
        return mask

    shapes = {}
    for seed_value in range(6):
        report = check(wrong_with_padding_from_three_tokens, framework="numpy", checks=["equivalence"],
                       seed=seed_value)
        shapes[seed_value] = report.checks[0].counterexample.shape
    assert all(shape == (1, 3) for shape in shapes.values()), shapes
