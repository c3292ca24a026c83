"""The plan of a grouped layout (``maskoracle.layouts``): fuzzing a new layout is defining it and checking.

Two modes, chosen when the spec is resolved (``checking/resolve.py``):

- **compiled** (``check(fn, layout=L)`` where ``L`` compiles to ``(pad, att)``): ``fn(pad_masks, att_masks)``
  as for any mask function, fed random instances of ``L`` and compared with ``spec`` (``block_causal``).
- **group rule** (``check(fn, spec=L)``, or ``layout=L`` where ``L`` does not compile): ``fn(pad_masks,
  segment_ids)``, ``segment_ids[b, i]`` the index of token ``i``'s segment in ``L.segments`` (int64 unless
  ``att_dtype="int32"``), compared with the group rule's loop oracle (``oracle.groups.group_rule_mask``).

The checks: ``output_format``, ``layout_examples`` (every instance with segments of at most two tokens),
``equivalence`` (Hypothesis over the layout's instances), ``realistic_size`` (the layout's own segment sizes),
``deterministic``, ``batch_rows_independent``, three single-mask invariants of SPEC §2, and ``layout_no_leak``
(the layout's own rule lets no token read, through layers, what one layer forbids it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...oracle import INVARIANTS, find_leaks
from ...oracle.groups import Layout
from ...strategies import LayoutExample, MaskExample, layout_examples, small_layout_instances, stack_instances
from ..engine import CheckState, run_fixed, run_property
from ..results import CheckResult, Counterexample, Failure
from ..units import Check, Context
from .contract import DETERMINISTIC
from .mask import EQUIVALENCE, OUTPUT_FORMAT, SIZE_BOUNDARIES, invariant_check

SINGLE_MASK_INVARIANTS = ("padded_keys_never_attended", "padded_queries_empty", "real_query_sees_itself")


def as_mask_example(example: LayoutExample, group_rule: bool) -> MaskExample:
    """What the implementation is given: ``(pad, segment_ids)`` for a group rule, else ``(pad, att)``."""
    second = example.segment_ids if group_rule or example.att_masks is None else example.att_masks
    return MaskExample(example.pad_masks, second)


class LayoutInputs:
    """Instances of a grouped layout, as ``(pad, att)`` or, for a group rule, ``(pad, segment_ids)``."""

    def __init__(self, layout: Layout, padding: str, group_rule: bool) -> None:
        self.layout, self.padding, self.group_rule = layout, padding, group_rule
        self.note = "att rows hold segment ids: " + ", ".join(
            f"{k} {segment.name}" for k, segment in enumerate(layout.segments)) if group_rule else ""

    def _as_mask(self, example: LayoutExample) -> MaskExample:
        return as_mask_example(example, self.group_rule)

    def first(self) -> MaskExample:
        example = self._as_mask(next(iter(small_layout_instances(self.layout, self.padding))))
        return MaskExample(example.pad_masks[:1], example.att_masks[:1])

    def fixed(self) -> list[MaskExample]:
        return [self._as_mask(example) for example in small_layout_instances(self.layout, self.padding)]

    def examples(self) -> Any:
        return layout_examples(self.layout, padding=self.padding).map(self._as_mask)

    def rows(self) -> None:
        return None  # no batched search: the Hypothesis search draws this plan's inputs

    def small(self) -> Any:
        return layout_examples(self.layout, padding=self.padding, sizes="small").map(self._as_mask)

    def long(self) -> list[MaskExample]:
        full = self.layout.instance()
        rows = [full]
        if self.padding != "none":
            # Half of each padded segment real, as a right-padded prompt of a real batch.
            half = [0 if segment.padding == "all" else size if segment.padding == "none" else (size + 1) // 2
                    for segment, size in zip(self.layout.segments, full.lengths, strict=True)]
            padded = self.layout.instance(full.lengths, half)
            if padded.pad != full.pad:
                rows.append(padded)
        return [self._as_mask(stack_instances([row])) for row in rows]

    def device_examples(self) -> list[MaskExample]:
        return [self.first()]

    def admits(self, example: MaskExample) -> bool:
        return True  # segment patterns are not tested here: the shrinker keeps deleting tokens freely


def _layout_examples(context: Context, state: CheckState) -> CheckResult:
    inputs = context.inputs.fixed()
    result = run_fixed(state, context.runner.compare_example, inputs)
    if result.status == "passed":
        result.examples = sum(example.pad_masks.shape[0] for example in inputs)
        result.message = f"all {result.examples} instances with segments of at most two tokens"
    return result


def _batch_rows_independent(context: Context, state: CheckState) -> CheckResult:
    runner = context.mask_runner

    def body(example: MaskExample) -> None:
        pad, att = example.pad_masks, example.att_masks
        try:
            together = runner.compute(pad, att)
            alone = [runner.compute(pad[b:b + 1], att[b:b + 1])[0] for b in range(pad.shape[0])]
        except Failure:
            return
        for b, row in enumerate(alone):
            differ = (row != together[b]) & runner.compared_rows(pad)[b][:, None]
            if differ.any():
                query, key = (int(x) for x in np.argwhere(differ)[0])
                raise Failure(f"batch row {b} computed alone and inside the batch differ at cell (query={query},"
                              f" key={key})", Counterexample(pad[b:b + 1].copy(), att[b:b + 1].copy(),
                                                                  row[None], together[b:b + 1],
                                                                  runner.compared_rows(pad)[b:b + 1]))

    return run_property(state, context.inputs.small(), body, context.run, context.few)


def _layout_no_leak(context: Context, state: CheckState) -> CheckResult:
    layout = context.spec.grouped
    assert layout is not None
    instance = layout.instance([max(segment.min_length, min(segment.longest, 2)) for segment in layout.segments],
                               None)
    example = as_mask_example(stack_instances([instance]), context.spec.group_rule)
    pad = example.pad_masks
    mask = context.mask_runner.expected(pad, example.att_masks)  # the rule checked against: group rule or spec
    leaks = find_leaks(mask, pad, layers=max(1, instance.length))
    state.examples += 1
    if not leaks:
        return state.result("passed", "no token reads, through any number of layers, what one layer forbids")
    leak = leaks[0]
    names = " -> ".join(instance.labels[token] for token in reversed(leak.path))
    return state.result(
        "failed", f"the layout itself leaks: {instance.labels[leak.reader]} may not read "
                  f"{instance.labels[leak.source]}, but reads it after {leak.layers} layers ({names}); "
                  f"{len(leaks)} leaking pair{'s' if len(leaks) > 1 else ''} (maskoracle leaks --layout ...)",
        Counterexample(pad, example.att_masks, mask, None))


LAYOUT_PLAN: tuple[Check, ...] = (
    OUTPUT_FORMAT,
    Check("layout_examples", "every instance of the layout with segments of at most two tokens, cell for cell",
          _layout_examples),
    EQUIVALENCE.renamed("equivalence", "random instances of the layout (Hypothesis, shrunk on failure), cell for "
                        "cell"),
    SIZE_BOUNDARIES.renamed("realistic_size", "the layout at its own (realistic) segment sizes, all real and with "
                            "padding"),
    DETERMINISTIC,
    Check("batch_rows_independent", "each batch row's mask depends on that row alone", _batch_rows_independent),
    *(invariant_check(INVARIANTS[name]) for name in SINGLE_MASK_INVARIANTS),
    Check("layout_no_leak", "the layout's own rule lets no token read, through stacked layers, what one layer "
          "forbids", _layout_no_leak),
)
