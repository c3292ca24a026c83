"""The behaviour checks: what a mask function must do around a call that works (INTERFACE's contract).

Each judges behaviour, not cells: a call that raises or returns a non-mask is skipped here, since the
equivalence checks report it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...errors import UsageError
from ...strategies import ATT_DTYPES, MaskExample
from ...strategies.families import bit_rows, fits, fitting_example
from ..engine import CheckState, run_fixed, run_property
from ..results import Aborted, CheckResult, Counterexample, Failure
from ..runner import BAD_RESULT, Call, Runner, first_difference, mark
from ..units import Check, Context


def _plain(value: Any) -> str:
    """A cell value as a person reads it: 1/0 for bools, the number otherwise (no numpy repr)."""
    item = value.item() if hasattr(value, "item") else value
    return str(int(item)) if isinstance(item, bool) else str(item)


def _fail_if_changed(runner: Runner, pad: np.ndarray, att: np.ndarray, first: np.ndarray, second: np.ndarray,
                     what: str, note: str) -> None:
    """``Failure`` naming the first compared cell where two masks of the same input differ."""
    differ = np.not_equal(first, second) & runner.compared_rows(pad)[:, :, None]
    if differ.any():
        b, query, key = first_difference(differ)
        raise Failure(f"{what}: cell (b={b}, query={query}, key={key}) was {mark(first[b, query, key])}, then "
                      f"{mark(second[b, query, key])}",
                      Counterexample(pad.copy(), att.copy(), first, second, runner.compared_rows(pad), note=note))


# Long inputs the behaviour checks also run on (after the small ones): an implementation may take another code
# path past a few hundred tokens (a chunked or native one) that edits inputs or reuses buffers. Two rows of each
# (rows that differ; the code path depends on the length, and each row costs L x L cells per call).
BEHAVIOUR_LONG_LENGTHS = (257, 1030)
BEHAVIOUR_LONG_ROWS = 2


def long_behaviour_inputs(context: Context) -> list[Any]:
    """The plan's long inputs nearest to ``BEHAVIOUR_LONG_LENGTHS`` (one each, at most ``BEHAVIOUR_LONG_ROWS``
    rows)."""
    inputs = context.inputs.long()
    chosen: list[Any] = []
    for length in BEHAVIOUR_LONG_LENGTHS:
        nearest = min(inputs, key=lambda example: abs(example.shape[1] - length), default=None)
        if nearest is not None and all(nearest is not other for other in chosen):
            chosen.append(nearest)
    return [_first_rows(example, BEHAVIOUR_LONG_ROWS) for example in chosen]


def _first_rows(example: Any, rows: int) -> Any:
    if isinstance(example, MaskExample) and example.shape[0] > rows:
        return MaskExample(example.pad_masks[:rows], example.att_masks[:rows])
    return example


def _judged_on_some_call(runner: Any, run: Callable[[], CheckResult]) -> CheckResult:
    """``run()``, except that a pass judged on no call that returned is not a pass: a behaviour check whose every
    call raised (a MemoryError under a memory cap, say) has shown nothing and fails; one that found no input to
    call the implementation on under these options (``results_stay_valid`` needs a second input of the same
    shape with another mask) is skipped, saying so."""
    calls, returned = runner.calls, runner.returned
    result = run()
    if result.status != "passed":
        return result
    if runner.calls == calls:
        result.status = "skipped"
        result.message = "no input under these --layout/--padding options lets this check call the implementation"
    elif runner.returned == returned:
        result.status = "failed"
        result.message = (f"none of its {runner.calls - calls} calls returned a result (each raised), so the "
                          "behaviour it checks was never seen; the equivalence checks say what was raised")
    return result


def _property(body_for: Any, reads_context: bool = False) -> Any:
    """``run(context, state)`` of a property over the plan's small inputs, then a few long ones (shrunk on
    failure), with the body ``body_for(runner)`` (``body_for(context)`` where ``reads_context``)."""

    def run(context: Context, state: CheckState) -> CheckResult:
        body = body_for(context) if reads_context else body_for(context.mask_runner)

        def small_then_long() -> CheckResult:
            result = run_property(state, context.inputs.small(), body, context.run, context.few)
            if result.status != "passed":
                return result
            return run_fixed(state, body, long_behaviour_inputs(context), context.run.shrink_budget_s,
                             context.inputs.admits)

        return _judged_on_some_call(context.mask_runner, small_then_long)

    return run


def _after_a_call(judge: Callable[[Runner, np.ndarray, np.ndarray, Call], None]) -> Callable[[Runner], Any]:
    """A property body that calls once and hands a call that worked to ``judge`` (which raises ``Failure``)."""

    def body_for(runner: Runner) -> Any:
        def body(example: MaskExample) -> None:
            pad, att = example.pad_masks, example.att_masks
            call = runner.call_or_none(pad, att)
            if call is not None:
                judge(runner, pad, att, call)

        return body

    return body_for


def _inputs_unchanged(runner: Runner, pad: np.ndarray, att: np.ndarray, call: Call) -> None:
    for name, given, before in (("pad_masks", call.pad, pad), ("att_masks", call.att, att)):
        after = runner.adapter.to_numpy(given)
        if after.shape != before.shape:
            raise Failure(f"changed the shape of its {name} input in place, from {list(before.shape)} to "
                          f"{list(after.shape)}", Counterexample(pad.copy(), att.copy(),
                                                                 note=f"{name} reshaped in place"))
        changed = np.argwhere(after != before.astype(after.dtype))
        if changed.size:
            b, i = (int(x) for x in changed[0])
            raise Failure(f"modified its {name} input in place: {name}[{b}, {i}] was "
                          f"{_plain(before[b, i])}, is {_plain(after[b, i])} after the call "
                          f"({len(changed)} entr{'ies' if len(changed) > 1 else 'y'} changed)",
                          Counterexample(pad.copy(), att.copy(), note=f"{name} changed in place"))


def _deterministic(runner: Runner) -> Any:
    def body(example: MaskExample) -> None:
        pad, att = example.pad_masks, example.att_masks
        try:
            first, second = runner.compute(pad, att), runner.compute(pad, att)
        except Failure:
            return  # raising or a bad result: the equivalence checks report that
        _fail_if_changed(runner, pad, att, first, second, "two calls on the same input disagree",
                         "expected = first call, actual = second call")

    return body


def _another_input(runner: Runner, pad: np.ndarray, att: np.ndarray, layout: str, padding: str,
                   express: Callable[[MaskExample], MaskExample]) -> Any:
    """An input of the same shape, inside the ``--layout`` and ``--padding`` families, whose mask differs from
    the mask of ``(pad, att)``; ``None`` where the families hold no such input (causal and unpadded)."""
    first = runner.expected(pad, att)
    for other_pad, other_att in ((np.ones_like(pad), ~att), (~pad, att), (pad, ~att), (np.ones_like(pad), att)):
        other = express(fitting_example(other_pad, other_att, layout, padding))
        if not np.array_equal(runner.expected(other.pad_masks, other.att_masks), first):
            return other
    return None


def _results_stay_valid(context: Context) -> Any:
    runner, layout, padding = context.mask_runner, context.spec.family, context.options["padding"]
    express = getattr(context.inputs, "express", lambda example: example)

    def body(example: MaskExample) -> None:
        pad, att = example.pad_masks, example.att_masks
        other = _another_input(runner, pad, att, layout, padding, express)
        if other is None:
            return
        try:
            first_call = runner.call(pad, att)
            first = runner.decode(first_call, pad, att).copy()  # decoding a bool tensor may give a view
            runner.call(other.pad_masks, other.att_masks)  # a second input of the same shape, another mask
            later = runner.decode(first_call, pad, att)
        except Failure:
            return  # raising or a bad result: the equivalence checks report that
        _fail_if_changed(runner, pad, att, first, later,
                         "the result of a call changed when the implementation was called again (a reused "
                         "output buffer or cache?)",
                         "expected = the result when returned, actual = after a second call")

    return body


def _no_input_aliasing(runner: Runner, pad: np.ndarray, att: np.ndarray, call: Call) -> None:
    for index, (name, given) in enumerate((("pad_masks", call.pad), ("att_masks", call.att))):
        if call.aliases[index] if call.aliases else runner.adapter.shares_memory(call.result, given):
            raise Failure(f"the result shares memory with the {name} input (a view of it): changing "
                          f"{name} later would change the mask", Counterexample(pad.copy(), att.copy()))


def _result_device(context: Context, state: CheckState) -> CheckResult:
    runner = context.runner
    expected_device = runner.adapter.device_name()
    if expected_device is None:
        return state.result("skipped", f"{context.options['framework']} arrays have no device")

    def body(example: Any) -> None:
        try:
            result = runner.call_example(example)
        except Failure:
            return
        device = runner.adapter.device_of(result)
        if device is not None and device != expected_device:
            raise Failure(f"the result is on {device}, the inputs on {expected_device}", runner.failure_for(example))

    return _judged_on_some_call(runner, lambda: run_fixed(state, body, context.inputs.device_examples()))


INPUTS_UNCHANGED = Check("inputs_unchanged", "the implementation leaves its pad_masks and att_masks inputs as they "
                         "were", _property(_after_a_call(_inputs_unchanged)))
DETERMINISTIC = Check("deterministic", "two calls on the same input give the same mask", _property(_deterministic))
RESULTS_STAY_VALID = Check("results_stay_valid", "a result does not change when the implementation is called "
                           "again (no reused buffer)", _property(_results_stay_valid, reads_context=True))
NO_INPUT_ALIASING = Check("no_input_aliasing", "the result does not share memory with an input (a view of pad or "
                          "att)", _property(_after_a_call(_no_input_aliasing)))
RESULT_DEVICE = Check("result_device", "the result lives on the inputs' device", _result_device)


# --- input forms ---------------------------------------------------------------------------------------------

def _input_forms(context: Context, state: CheckState) -> CheckResult:
    """The same inputs handed over as views real code passes (``x[:, :L]`` of a wider buffer, ``x[:, ::2]``,
    column-major): a kernel that reads memory as if it were a fresh contiguous array reads the wrong values."""
    runner = context.mask_runner
    forms = runner.adapter.input_forms()
    if not forms:
        return state.result("skipped", f"{context.options['framework']} arrays have no memory layout to vary")
    express = getattr(context.inputs, "express", lambda example: example)  # what --inputs can express
    inputs = [*(express(example) for example in _att_dtype_inputs(context.spec.family, context.options["padding"])),
              *long_behaviour_inputs(context)[:1]]
    for form in forms:
        in_form = runner.in_form(form)

        def body(example: MaskExample, in_form: Runner = in_form, form: str = form) -> None:
            try:
                in_form.compare_example(example)
            except Failure as failure:
                failure.counterexample.note = f"inputs given as {form} views"
                raise Failure(f"inputs as {form} views: {failure.message}", failure.counterexample) from None

        result = run_fixed(state, body, inputs, context.run.shrink_budget_s, context.inputs.admits)
        if result.status == "failed":
            return result
    return state.result("passed", f"inputs as {', '.join(forms)} views")


INPUT_FORMS_CHECK = Check("input_forms", "the same inputs as views of wider buffers (x[:, :L], x[:, ::2]) and "
                          "column-major, as real models hand them over", _input_forms)


# --- att dtypes ----------------------------------------------------------------------------------------------

# One row per layout, in the model's own att pattern (SPEC §8), for the att_dtypes check.
ATT_DTYPE_LAYOUT_ROWS = {"causal": "111111", "bidirectional": "000000", "prefix_lm": "000111", "blocks": "010110",
                         "pi0": "0000110", "pi05": "000100", "pi05_subtask": "00011100", "smolvla": "0001111",
                         "fast": "000111"}


def _att_dtype_inputs(family: str, padding: str) -> list[MaskExample]:
    inputs = [MaskExample(bit_rows("111110"), bit_rows("000111")),
              MaskExample(bit_rows("11100,01111,11111"), bit_rows("01011,10010,00100"))]
    inputs = [example for example in inputs if fits(example, family, padding)]
    if not inputs:  # a model layout, or a generic one the two inputs above leave: one row in its own pattern
        row = ATT_DTYPE_LAYOUT_ROWS.get(family, "000111")
        inputs = [MaskExample(np.ones((1, len(row)), dtype=bool), bit_rows(row))]
    return inputs


def _one_dtype(runner: Runner, dtype: str, inputs: list[MaskExample], state: CheckState) -> str | None:
    """``None`` if ``dtype`` is accepted and right; the reason if it is rejected; ``Failure``/``Aborted`` if it
    is accepted but wrong (or the implementation stops)."""
    for example in inputs:
        pad, att = example.pad_masks, example.att_masks
        try:
            call = runner.call(pad, att)
        except Failure as failure:
            return failure.message.removeprefix("raised ").split(" on input [B, L]")[0]
        try:
            actual = runner.decode(call, pad, att)
            expected = runner.expected(pad, att)
            differ = np.not_equal(expected, actual) & runner.compared_rows(pad)[:, :, None]
            if differ.any():
                b, query, key = first_difference(differ)
                raise Failure(f"cell (b={b}, query={query}, key={key}): expected {mark(expected[b, query, key])}"
                              f", got {mark(actual[b, query, key])}",
                              Counterexample(pad.copy(), att.copy(), expected, actual, runner.compared_rows(pad)))
        except Failure as failure:
            failure.counterexample.note = f"att given as {dtype}"
            what = "returns something that is not a mask" if failure.message.startswith(BAD_RESULT) else \
                "gets it wrong"
            raise Failure(f"accepts att {dtype} but {what}: {failure.message}", failure.counterexample) from None
        state.examples += 1
    return None


def _att_dtypes(context: Context, state: CheckState) -> CheckResult:
    """The implementation on the same small inputs with att in every dtype of ``ATT_DTYPES``.

    A dtype it raises on is *rejected*: named in the message, not a failure (an implementation may accept one
    att dtype only; the one asked for with ``--att-dtype`` is checked by every other check). A dtype it accepts
    but answers wrongly for (or with something that is not a mask) fails the check: that is a silent bug.
    Long, size-dependent dtype bugs (bfloat16 cumsums past 256 blocks) are the business of a run with that
    ``--att-dtype``; these inputs are small, so every dtype holds their block ids exactly.
    """
    convention = context.options.get("inputs", "pad_att")
    if convention != "pad_att":
        return state.result("skipped", f"--inputs {convention} passes integer token types, not att in a dtype")
    inputs = _att_dtype_inputs(context.spec.family, context.options["padding"])
    accepted: list[str] = []
    notes: list[str] = []
    for dtype in ATT_DTYPES:
        try:
            rejected = _one_dtype(context.mask_runner.with_att_dtype(dtype), dtype, inputs, state)
        except UsageError as error:  # the framework cannot build this dtype here (JAX without x64, ...)
            notes.append(f"att {dtype} not tried: {error}")
            continue
        except Aborted as aborted:
            return state.result("failed", f"att {dtype}: {aborted.message}", aborted.counterexample)
        except Failure as failure:
            return state.result("failed", failure.message, failure.counterexample)
        if rejected is None:
            accepted.append(dtype)
        else:
            notes.append(f"rejects att {dtype}: {rejected}")
    message = f"accepts att {', '.join(accepted) or 'none'}"
    return state.result("passed", "; ".join([message, *notes]))


ATT_DTYPES_CHECK = Check("att_dtypes", "att given as each of bool, int32, int64, float32, bfloat16, float16: a "
                         "dtype the implementation rejects is named (a note); a wrong mask for a dtype it accepts "
                         "is a failure", _att_dtypes)
