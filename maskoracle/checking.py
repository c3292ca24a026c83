"""``check()``: run every check of a mask implementation and collect a ``CheckReport``.

Data flows one way (STYLE.md): strategies -> adapter -> the implementation -> decode -> compare with the
oracle and the invariants -> ``CheckReport``. This module says which checks run, in which order, on which
inputs; ``engine.py`` says how one runs; presentation lives in ``maskoracle.reports``.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import settings

from .adapters import UsageError, get_adapter
from .adapters.flex import validate_kind, wrap_kind
from .attention_checks import DESCRIPTIONS as ATTENTION_CHECK_DESCRIPTIONS
from .database import resolve_database
from .engine import (
    Aborted,
    Call,
    CheckState,
    Failure,
    MaskFn,
    Runner,
    RunSettings,
    mark,
    run_fixed,
    run_property,
    small_regime,
)
from .kinds import DEFAULT_KIND, KINDS, MASK_LIKE_KINDS, kind_check_descriptions, kind_plan
from .oracle import PAD_QUERY_POLICIES, SPEC_CASES, SPECS, Invariant, invariants_for
from .profiles import DEFAULT_SHRINK_BUDGET_S, Profile, resolve_profile
from .results import CheckReport, CheckResult, Counterexample
from .strategies import (
    ATT_DTYPES,
    LAYOUTS,
    PADDINGS,
    SMALL_MAX_LENGTH,
    MaskExample,
    boundary_examples,
    mask_examples,
    realistic_examples,
)

EXHAUSTIVE_MAX_LENGTH = 8
# The exhaustive check grows L while one call stays under this many seconds and all of them under the total.
# Generous on purpose: a fast implementation (~0.1 s at L = 8) then always reaches L = 8, even on a loaded
# machine, so that a seeded run repeats exactly; only slow (loop-based) implementations stop earlier.
EXHAUSTIVE_CALL_BUDGET_S = 1.0
EXHAUSTIVE_BUDGET_S = 3.0
MAX_TIMEOUT_S = 86_400.0  # a day: beyond it the timer cannot be armed on every platform

CHECK_DESCRIPTIONS = {
    "output_format": "the result is a bool or additive float mask of shape [B, L, L] or [B, 1, L, L]",
    "spec_examples": "every worked example of SPEC §2-§3, cell for cell",
    "exhaustive_small": "every (pad, att) pair of small lengths, cell for cell",
    "equivalence": "random batches (Hypothesis, shrunk on failure), cell for cell",
    "size_boundaries": "block counts 127-129, 255-258, 2047-2049 (where int8/bf16/fp16 block ids break) and "
                       "real models' sizes (an 816-token bidirectional prefix, a 1,100-token one)",
    "inputs_unchanged": "the implementation leaves its pad_masks and att_masks inputs as they were",
    "deterministic": "two calls on the same input give the same mask",
    "results_stay_valid": "a result does not change when the implementation is called again (no reused buffer)",
    "no_input_aliasing": "the result does not share memory with an input (a view of pad or att)",
    "result_device": "the result lives on the inputs' device",
    "att_dtypes": "att given as each of bool, int32, int64, float32, bfloat16, float16: a dtype the implementation "
                  "rejects is named (a note); a wrong mask for a dtype it accepts is a failure",
    **ATTENTION_CHECK_DESCRIPTIONS,  # block_mask_ragged, masked_values, attention_outputs (attention_checks.py)
}
MODEL_DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class CheckOptions:
    spec: str = "block_causal"
    framework: str = "torch"
    device: str = "cpu"
    layout: str = "any"
    padding: str = "any"
    pad_queries: str = "masked"
    att_dtype: str = "bool"
    max_examples: int | None = None
    timeout: float = 10.0
    seed: int | None = None
    kind: str = DEFAULT_KIND
    model_dtypes: tuple[str, ...] = ()
    nan_free: bool = False

    def validate(self) -> None:
        """Raise ``UsageError`` with a one-line message for any option value outside INTERFACE's table."""
        choices = {
            "spec": SPECS,
            "layout": LAYOUTS,
            "padding": PADDINGS,
            "pad_queries": PAD_QUERY_POLICIES,
            "att_dtype": ATT_DTYPES,
            "kind": KINDS,
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                option = "--" + name.replace("_", "-")
                raise UsageError(f"{option}: invalid value {value!r} (choose from {', '.join(allowed)})")
        if self.max_examples is not None and self.max_examples < 1:
            raise UsageError(f"--max-examples must be at least 1, got {self.max_examples}")
        if not (isinstance(self.timeout, int | float) and math.isfinite(self.timeout)
                and 0 < self.timeout <= MAX_TIMEOUT_S):
            raise UsageError(f"--timeout must be more than 0 and at most {MAX_TIMEOUT_S:g} seconds, got {self.timeout}")
        validate_kind(self.kind, self.framework)
        for dtype in self.model_dtypes:
            if dtype not in MODEL_DTYPES:
                raise UsageError(f"--model-dtypes: invalid dtype {dtype!r} (choose from {', '.join(MODEL_DTYPES)})")


def model_dtypes_tuple(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"float32,bfloat16"`` or ``["float32", "bfloat16"]`` -> ``("float32", "bfloat16")``."""
    if value is None:
        return ()
    parts = value.split(",") if isinstance(value, str) else list(value)
    return tuple(part.strip() for part in parts if part.strip())


def check(
    fn: MaskFn,
    *,
    spec: Any = "block_causal",
    framework: str = "torch",
    device: str = "cpu",
    layout: Any = "any",
    padding: str = "any",
    pad_queries: str = "masked",
    att_dtype: str = "bool",
    max_examples: int | None = None,
    timeout: float = 10.0,
    seed: int | None = None,
    kind: str = "mask",
    model_dtypes: str | Iterable[str] | None = None,
    nan_free: bool = False,
    profile: str | None = None,
    db: str | None = None,
    target: str | None = None,
    checks: Iterable[str] | None = None,
    progress: Callable[[str, CheckResult | None], None] | None = None,
    examples_progress: Callable[[str, int, int], None] | None = None,
) -> CheckReport:
    """Check ``fn(pad_masks, att_masks) -> mask`` against the oracle; return a ``CheckReport``.

    >>> from maskoracle.implementations.numpy import block_causal
    >>> check(block_causal, framework="numpy", max_examples=20).passed
    True

    Options are those of ``maskoracle check`` (INTERFACE.md). ``profile`` is ``dev``, ``ci`` or ``nightly``
    (``maskoracle.profiles``); ``db`` the example database (``maskoracle.database``: a directory, a Redis
    URL, several comma-separated, or ``"none"``). ``checks`` restricts the run to named checks
    (``check_names(spec)``); ``progress(name, result)`` is called before (result ``None``) and after each;
    ``examples_progress(name, passed, planned)`` after each passing example of a random search. ``spec`` or
    ``layout`` may be a grouped ``Layout`` (or the name of a built-in one, or ``path/file.py:NAME``): see
    ``maskoracle.layout_checking``. Raises ``UsageError`` for a bad option value; a misbehaving ``fn`` never
    raises, it fails checks (a ``KeyboardInterrupt`` it raises stops the run, as Ctrl-C would).

    ``kind`` is the calling convention of ``fn`` (``maskoracle.kinds``): ``mask`` (the default),
    ``kv_cache`` (``fn(prefix_pad, suffix_pad, suffix_att) -> [B, S, P+S]``) or ``incremental``
    (``fn(pad_masks, att_masks) -> [B, 1, T]``, the last token's row), each with its own checks (SPEC §5); or
    a FlexAttention ``mask_mod`` or ``block_mask`` factory (``adapters/flex.py``), materialised and checked
    like a mask. ``model_dtypes`` (``"float32,bfloat16"`` or a list) are the dtypes the model runs in: an
    additive masked value must survive each, and ``attention_outputs`` runs in each; ``nan_free`` fails NaN in
    padded query rows of attention outputs.
    """
    from .layout_checking import check_layout, resolve_layout_arguments

    grouped = resolve_layout_arguments(spec, layout)  # a grouped Layout (maskoracle.layouts) as spec or layout
    if grouped is not None:
        return check_layout(fn, grouped[0], grouped[1], framework=framework, device=device, padding=padding,
                            pad_queries=pad_queries, att_dtype=att_dtype, max_examples=max_examples,
                            timeout=timeout, seed=seed, profile=profile, db=db, target=target, checks=checks,
                            progress=progress, examples_progress=examples_progress)
    options = CheckOptions(spec, framework, device, layout, padding, pad_queries, att_dtype, max_examples,
                           timeout, seed, kind, model_dtypes_tuple(model_dtypes), nan_free)
    options.validate()
    if kind not in MASK_LIKE_KINDS and spec != "block_causal":
        raise UsageError(f"--kind {kind} is checked against SPEC §5, which builds on block_causal; drop --spec {spec}")
    chosen_profile = resolve_profile(profile)
    wanted = set(checks) if checks is not None else None
    names = check_names(spec, kind)
    unknown = (wanted or set()) - set(names)
    if unknown:
        raise UsageError(f"unknown check {sorted(unknown)[0]!r}; choose from {', '.join(names)}")
    adapter = get_adapter(framework, device)
    # An att dtype the framework cannot build is a usage error, found before any check runs.
    adapter.inputs(np.ones((1, 1), dtype=bool), np.ones((1, 1), dtype=bool), att_dtype)

    target = target or describe_target(fn)
    run = run_settings(
        profile=chosen_profile, seed=seed, max_examples=max_examples, db=db,
        key=f"maskoracle/{target}/{spec}/{framework}/{layout}/{padding}/{pad_queries}/{att_dtype}"
            + ("" if kind == DEFAULT_KIND else f"/{kind}"),
        on_example=examples_progress,
    )
    seed, max_examples = run.seed, run.max_examples
    runner = Runner(wrap_kind(fn, kind), adapter, spec, pad_queries, att_dtype, timeout)
    report = CheckReport(
        target=target,
        spec=spec,
        options={
            "framework": framework, "device": device, "layout": layout, "padding": padding,
            "pad_queries": pad_queries, "att_dtype": att_dtype, "max_examples": max_examples,
            "timeout": timeout, "seed": seed, "profile": chosen_profile.name if chosen_profile else None,
            "kind": kind, "model_dtypes": list(options.model_dtypes), "nan_free": nan_free,
        },
    )
    started = time.perf_counter()
    stopped: str | None = None
    plan = (_plan(runner, options, run, fn) if kind in MASK_LIKE_KINDS
            else kind_plan(kind, fn, adapter, options, run))
    descriptions = CHECK_DESCRIPTIONS if kind in MASK_LIKE_KINDS else kind_check_descriptions(kind)
    for name, run_check in plan:
        if wanted is not None and name not in wanted:
            continue
        if progress:
            progress(name, None)
        if stopped:
            result = CheckResult(name, "skipped", message=f"not run: {stopped}",
                                 description=descriptions.get(name, ""))
        else:
            result = run_check()
            if result.status == "failed" and result.message.startswith("timed out"):
                stopped = f"the implementation timed out in {name}"
            elif result.status == "failed" and result.message.startswith("raised SystemExit"):
                stopped = f"the implementation raised SystemExit in {name}"
            elif name == "output_format" and result.status == "failed":
                stopped = "output_format failed, so no other result can be read"
        report.checks.append(result)
        if progress:
            progress(name, result)
    report.elapsed_s = time.perf_counter() - started
    return report


def check_names(spec: str = "block_causal", kind: str = DEFAULT_KIND) -> list[str]:
    """The names of the checks ``check()`` runs for ``spec`` and ``kind``, in order."""
    if kind not in MASK_LIKE_KINDS:
        return list(kind_check_descriptions(kind))
    return [*CHECK_DESCRIPTIONS, *(invariant.name for invariant in invariants_for(spec))]


# --- which inputs fit the chosen layout and padding ------------------------------------------------------

GENERIC_LAYOUTS = frozenset({"any", "blocks", "causal", "bidirectional", "prefix_lm"})


def _fits_layout(att: tuple[bool, ...], layout: str) -> bool:
    if layout in ("any", "blocks"):
        return True
    if layout == "causal":
        return all(att)
    if layout == "bidirectional":
        return not any(att)
    if layout == "prefix_lm":
        return list(att) == sorted(att)
    return False  # model layouts come from the strategies only


def _fits_padding(pad: tuple[bool, ...], padding: str) -> bool:
    if padding == "any":
        return True
    if padding == "none":
        return all(pad)
    if padding == "right":
        return list(pad) == sorted(pad, reverse=True)
    return list(pad) == sorted(pad)  # left


def _bits(text: str) -> np.ndarray:
    return np.array([[character == "1" for character in text]], dtype=bool)


# --- the checks ------------------------------------------------------------------------------------------

def _plan(runner: Runner, options: CheckOptions, run: RunSettings,
          target_fn: MaskFn) -> list[tuple[str, Callable[[], CheckResult]]]:
    layout, padding = options.layout, options.padding
    few = max(10, run.max_examples // 4)  # examples for each check past equivalence

    def state(name: str) -> CheckState:
        return CheckState(name, CHECK_DESCRIPTIONS.get(name, ""))

    def compare(example: MaskExample) -> None:
        runner.compare(example.pad_masks, example.att_masks)

    def small_examples() -> Any:
        return mask_examples(layout=layout, padding=padding, sizes="small")

    def output_format() -> CheckResult:
        # One batch entry: a result that cannot be read here makes every other check meaningless. Batches of
        # several rows are the other checks' business, so that "raises for B > 1" is reported by name there.
        current = state("output_format")
        pad, att = _bits("110"), _bits("011")  # a padded query, two blocks: small enough to read at a glance
        try:
            runner.compute(pad, att)
        except (Failure, Aborted) as failure:
            message = failure.message
            if options.att_dtype != "bool" and message.startswith("raised ") and "timed out" not in message:
                message = f"rejects att {options.att_dtype} (--att-dtype {options.att_dtype}): {message}"
            return current.result("failed", message, runner.counterexample_for(pad, att, failure=failure))
        current.examples += 1
        return current.result("passed")

    def spec_examples() -> CheckResult:
        cases = [MaskExample(_bits(case.pad), _bits(case.att)) for case in SPEC_CASES
                 if _fits_padding(tuple(_bits(case.pad)[0]), padding)
                 and _fits_layout(tuple(_bits(case.att)[0]), layout)]
        return run_fixed(state("spec_examples"), compare, cases)

    def equivalence() -> CheckResult:
        result = run_property(state("equivalence"), mask_examples(layout=layout, padding=padding), compare, run)
        found = result.counterexample
        if result.status == "failed" and found is not None and found.shape[1] > SMALL_MAX_LENGTH:
            # Hypothesis cannot always shrink a long failure into the small regime; look there once more, and
            # keep the long counterexample only if the bug really needs length (size-dependent bugs do). Its own
            # database key: replayed through the other strategy, each search's saved failures mean other
            # inputs, pass, and are deleted (the long failure would never be replayed first).
            small = run_property(state("equivalence"), small_examples(), compare, small_regime(run))
            if small.status == "failed" and small.counterexample is not None:
                small.examples += result.examples
                small.seconds += result.seconds
                return small
        return result

    def size_boundaries() -> CheckResult:
        inputs = [*boundary_examples(layout, padding), *realistic_examples(layout, padding)]
        return run_fixed(state("size_boundaries"), compare, sorted(inputs, key=lambda e: e.shape[1]))

    def inputs_unchanged() -> CheckResult:
        def body(example: MaskExample) -> None:
            pad, att = example.pad_masks, example.att_masks
            call = _call_or_none(runner, pad, att)
            if call is None:
                return
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

        return run_property(state("inputs_unchanged"), small_examples(), body, run, few)

    def deterministic() -> CheckResult:
        def body(example: MaskExample) -> None:
            pad, att = example.pad_masks, example.att_masks
            try:
                first, second = runner.compute(pad, att), runner.compute(pad, att)
            except Failure:
                return  # raising or a bad result: the equivalence checks report that
            _fail_if_changed(runner, pad, att, first, second, "two calls on the same input disagree",
                             "expected = first call, actual = second call")

        return run_property(state("deterministic"), small_examples(), body, run, few)

    def results_stay_valid() -> CheckResult:
        def body(example: MaskExample) -> None:
            pad, att = example.pad_masks, example.att_masks
            try:
                first_call = runner.call(pad, att)
                first = runner.decode(first_call, pad, att).copy()  # decoding a bool tensor may give a view
                # A second input of the same shape whose mask differs from the first one's.
                runner.call(np.ones_like(pad), ~att)
                later = runner.decode(first_call, pad, att)
            except Failure:
                return  # raising or a bad result: the equivalence checks report that
            _fail_if_changed(runner, pad, att, first, later,
                             "the result of a call changed when the implementation was called again (a reused "
                             "output buffer or cache?)",
                             "expected = the result when returned, actual = after a second call")

        return run_property(state("results_stay_valid"), small_examples(), body, run, few)

    def no_input_aliasing() -> CheckResult:
        def body(example: MaskExample) -> None:
            pad, att = example.pad_masks, example.att_masks
            call = _call_or_none(runner, pad, att)
            if call is None:
                return
            for name, given in (("pad_masks", call.pad), ("att_masks", call.att)):
                if runner.adapter.shares_memory(call.result, given):
                    raise Failure(f"the result shares memory with the {name} input (a view of it): changing "
                                  f"{name} later would change the mask", Counterexample(pad.copy(), att.copy()))

        return run_property(state("no_input_aliasing"), small_examples(), body, run, few)

    def result_device() -> CheckResult:
        current = state("result_device")
        expected_device = runner.adapter.device_name()
        if expected_device is None:
            return current.result("skipped", f"{options.framework} arrays have no device")

        def body(example: MaskExample) -> None:
            pad, att = example.pad_masks, example.att_masks
            call = _call_or_none(runner, pad, att)
            device = runner.adapter.device_of(call.result) if call is not None else None
            if device is not None and device != expected_device:
                raise Failure(f"the result is on {device}, the inputs on {expected_device}",
                              Counterexample(pad.copy(), att.copy()))

        return run_fixed(current, body, [MaskExample(_bits("111110"), _bits("000111")),
                                         MaskExample(np.ones((2, 3), dtype=bool), np.ones((2, 3), dtype=bool))])

    plan: list[tuple[str, Callable[[], CheckResult]]] = [
        ("output_format", output_format),
        ("spec_examples", spec_examples),
        ("exhaustive_small", lambda: _exhaustive(runner, options)),
        ("equivalence", equivalence),
        ("size_boundaries", size_boundaries),
        ("inputs_unchanged", inputs_unchanged),
        ("deterministic", deterministic),
        ("results_stay_valid", results_stay_valid),
        ("no_input_aliasing", no_input_aliasing),
        ("result_device", result_device),
        ("att_dtypes", lambda: _att_dtype_matrix(runner, options)),
        *_attention_plan(runner, options, run, target_fn),
    ]
    for invariant in invariants_for(options.spec):
        plan.append((invariant.name, _invariant_check(runner, options, invariant, run, few)))
    return plan


# One row per layout, in the model's own att pattern (SPEC §8), for the att_dtypes check.
ATT_DTYPE_LAYOUT_ROWS = {"causal": "111111", "bidirectional": "000000", "prefix_lm": "000111", "blocks": "010110",
                         "pi0": "0000110", "pi05": "000100", "pi05_subtask": "00011100", "smolvla": "0001111",
                         "fast": "000111"}


def _att_dtype_matrix(runner: Runner, options: CheckOptions) -> CheckResult:
    """The implementation on the same small inputs with att in every dtype of ``ATT_DTYPES``.

    A dtype it raises on is *rejected*: named in the message, not a failure (an implementation may accept one
    att dtype only; the one asked for with ``--att-dtype`` is checked by every other check). A dtype it accepts
    but answers wrongly for (or with something that is not a mask) fails the check: that is a silent bug.
    Long, size-dependent dtype bugs (bfloat16 cumsums past 256 blocks) are the business of a run with that
    ``--att-dtype``; these inputs are small, so every dtype holds their block ids exactly.
    """
    current = CheckState("att_dtypes", CHECK_DESCRIPTIONS["att_dtypes"])
    inputs = [MaskExample(_bits("111110"), _bits("000111")),
              MaskExample(np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1], [1, 1, 1, 1, 1]], dtype=bool),
                          np.array([[0, 1, 0, 1, 1], [1, 0, 0, 1, 0], [0, 0, 1, 0, 0]], dtype=bool))]
    inputs = [example for example in inputs
              if all(_fits_layout(tuple(row), options.layout) for row in example.att_masks)
              and all(_fits_padding(tuple(row), options.padding) for row in example.pad_masks)]
    if not inputs:  # a model layout, or a generic one the two inputs above leave: one row in its own pattern
        row = ATT_DTYPE_LAYOUT_ROWS.get(options.layout, "000111")
        inputs = [MaskExample(np.ones((1, len(row)), dtype=bool), _bits(row))]
    accepted: list[str] = []
    notes: list[str] = []
    for dtype in ATT_DTYPES:
        other = Runner(runner.fn, runner.adapter, runner.spec, runner.pad_queries, dtype, runner.timeout)
        rejected = None
        for example in inputs:
            pad, att = example.pad_masks, example.att_masks
            try:
                call = other.call(pad, att)
            except UsageError as error:  # the framework cannot build this dtype here (JAX without x64, ...)
                notes.append(f"att {dtype} not tried: {error}")
                rejected = "not tried"
                break
            except Aborted as aborted:
                return current.result("failed", f"att {dtype}: {aborted.message}", aborted.counterexample)
            except Failure as failure:
                rejected = failure.message.removeprefix("raised ").split(" on input [B, L]")[0]
                notes.append(f"rejects att {dtype}: {rejected}")
                break
            try:
                actual = other.decode(call, pad, att)
                expected = other.expected(pad, att)
                differ = np.not_equal(expected, actual) & other.compared_rows(pad)[:, :, None]
                if differ.any():
                    b, query, key = (int(x) for x in np.argwhere(differ)[0])
                    raise Failure(f"cell (b={b}, query={query}, key={key}): expected {mark(expected[b, query, key])}"
                                  f", got {mark(actual[b, query, key])}",
                                  Counterexample(pad.copy(), att.copy(), expected, actual, other.compared_rows(pad)))
            except Failure as failure:
                example_found = failure.counterexample
                example_found.note = f"att given as {dtype}"
                return current.result("failed", f"accepts att {dtype} but gets it wrong: {failure.message}",
                                      example_found)
            current.examples += 1
        if rejected is None:
            accepted.append(dtype)
    message = f"accepts att {', '.join(accepted) or 'none'}"
    return current.result("passed", "; ".join([message, *notes]))
def _attention_plan(runner: Runner, options: CheckOptions, run: RunSettings,
                    target_fn: MaskFn) -> list[tuple[str, Callable[[], CheckResult]]]:
    """The checks of ``attention_checks.py``: FlexAttention block masks, masked values, attention outputs."""
    from . import attention_checks as attention

    def fits(pad: np.ndarray, att: np.ndarray) -> bool:
        return _fits_padding(tuple(pad), options.padding) and _fits_layout(tuple(att), options.layout)

    small = [MaskExample(_bits(pad), _bits(att)) for pad, att in ATTENTION_EXAMPLES
             if fits(_bits(pad)[0], _bits(att)[0])]
    examples = small + boundary_examples(options.layout, options.padding)[:1]

    def block_mask_ragged() -> CheckResult:
        if options.kind != "mask_mod":
            return CheckResult("block_mask_ragged", "skipped", message="applies to --kind mask_mod",
                               description=CHECK_DESCRIPTIONS["block_mask_ragged"])
        ragged = attention.ragged_examples(options.layout, options.padding, attention.ragged_fixed(fits))
        return attention.block_mask_ragged(runner, target_fn, ragged)

    def only_masks(name: str, run_check: Callable[[], CheckResult]) -> Callable[[], CheckResult]:
        if options.kind == "mask":
            return run_check
        return lambda: CheckResult(name, "skipped", message=f"--kind {options.kind} gives bool masks; this check "
                                   "applies to additive float results", description=CHECK_DESCRIPTIONS[name])

    return [
        ("block_mask_ragged", block_mask_ragged),
        ("masked_values", only_masks("masked_values",
                                     lambda: attention.masked_values(runner, options.model_dtypes, examples))),
        ("attention_outputs", only_masks("attention_outputs", lambda: attention.attention_outputs(
            runner, options.model_dtypes, options.nan_free, run.seed, examples))),
    ]


# Small inputs for the attention checks: padded query rows (right and left), and the user's example.
ATTENTION_EXAMPLES = (("11111100", "00011100"), ("00111111", "11111111"), ("111110", "000111"),
                      ("11111111", "11111111"))


def _call_or_none(runner: Runner, pad: np.ndarray, att: np.ndarray) -> Call | None:
    """The call, or ``None`` if it raised: the contract checks judge behaviour around a call that worked."""
    try:
        return runner.call(pad, att)
    except Failure:
        return None


def _plain(value: Any) -> str:
    """A cell value as a person reads it: 1/0 for bools, the number otherwise (no numpy repr)."""
    item = value.item() if hasattr(value, "item") else value
    return str(int(item)) if isinstance(item, bool) else str(item)


def _fail_if_changed(runner: Runner, pad: np.ndarray, att: np.ndarray, first: np.ndarray, second: np.ndarray,
                     what: str, note: str) -> None:
    """``Failure`` naming the first compared cell where two masks of the same input differ."""
    differ = np.not_equal(first, second) & runner.compared_rows(pad)[:, :, None]
    if differ.any():
        b, query, key = (int(x) for x in np.argwhere(differ)[0])
        raise Failure(f"{what}: cell (b={b}, query={query}, key={key}) was {mark(first[b, query, key])}, then "
                      f"{mark(second[b, query, key])}",
                      Counterexample(pad.copy(), att.copy(), first, second, runner.compared_rows(pad), note=note))


def _exhaustive(runner: Runner, options: CheckOptions) -> CheckResult:
    """Every (pad, att) pair of each length, one batched call per length, longer while time allows."""
    current = CheckState("exhaustive_small", CHECK_DESCRIPTIONS["exhaustive_small"])
    layout, padding = options.layout, options.padding
    if layout not in GENERIC_LAYOUTS:
        return current.result("skipped", f"model layout {layout!r}: its inputs come from the equivalence check")
    spent = 0.0
    lengths = 0
    for L in range(1, EXHAUSTIVE_MAX_LENGTH + 1):
        rows = [
            (pad, att)
            for pad in itertools.product((False, True), repeat=L)
            if _fits_padding(pad, padding)
            for att in itertools.product((False, True), repeat=L)
            if _fits_layout(att, layout)
        ]
        example = MaskExample(np.array([row[0] for row in rows], dtype=bool).reshape(len(rows), L),
                              np.array([row[1] for row in rows], dtype=bool).reshape(len(rows), L))
        if runner.adapter.compiles_per_shape:
            # JAX traces and compiles for every new input shape: a first, untimed call pays for that, so the
            # budget measures the implementation, not the compiler (a raising call is reported below).
            try:
                runner.call(example.pad_masks, example.att_masks)
            except (Failure, Aborted):
                pass
        started = time.perf_counter()
        result = run_fixed(CheckState("exhaustive_small"), lambda e: runner.compare(e.pad_masks, e.att_masks),
                           [example])
        if result.status == "failed":
            result.examples, result.description = current.examples, current.description
            result.seconds = time.perf_counter() - current.started
            return result
        current.examples += len(rows)
        lengths = L
        elapsed = time.perf_counter() - started
        spent += elapsed
        if elapsed > EXHAUSTIVE_CALL_BUDGET_S or spent > EXHAUSTIVE_BUDGET_S:
            break
    return current.result("passed", f"all {current.examples} inputs of lengths 1-{lengths}")


# Metamorphic invariants feed the implementation inputs derived from the drawn one; they apply only where those
# inputs stay inside the chosen --layout (a causal-only implementation is never given att all 0).
INVARIANT_LAYOUTS: dict[str, tuple[frozenset[str], str]] = {
    "all_zero_att_bidirectional": (frozenset({"any", "blocks", "bidirectional", "prefix_lm"}), "att all 0"),
    "all_one_att_causal": (frozenset({"any", "blocks", "causal", "prefix_lm"}), "att all 1"),
    "first_att_bit_irrelevant": (frozenset({"any", "blocks"}), "att with its first bit flipped"),
    "appending_preserves_prefix": (GENERIC_LAYOUTS, "truncated sequences"),
}


def _invariant_check(runner: Runner, options: CheckOptions, invariant: Invariant, run: RunSettings,
                     max_examples: int) -> Callable[[], CheckResult]:
    def body(example: MaskExample) -> None:
        pad, att = example.pad_masks, example.att_masks
        violation = invariant.violation(runner.compute, pad, att, options.pad_queries)
        if violation is not None:
            raise Failure(f"{invariant.summary}: {violation.message}",
                          runner.counterexample_for(pad, att, note=violation.message))

    def run_invariant() -> CheckResult:
        current = CheckState(invariant.name, invariant.summary)
        if invariant.needs_masked_pad_queries and options.pad_queries != "masked":
            return current.result("skipped", "not checked with --pad-queries free")
        layouts, derived = INVARIANT_LAYOUTS.get(invariant.name, (None, ""))
        if layouts is not None and options.layout not in layouts:
            return current.result("skipped", f"not checked with --layout {options.layout}: it feeds {derived}")
        strategy = mask_examples(layout=options.layout, padding=options.padding, sizes="small")
        return run_property(current, strategy, body, run, max_examples)

    return run_invariant


def run_settings(*, profile: Profile | None, seed: int | None, max_examples: int | None, db: str | None,
                 key: str, on_example: Callable[[str, int, int], None] | None = None) -> RunSettings:
    """How a run's properties search, from its options: the profile's (or Hypothesis's) example budget and
    shrinking budget, the seed (drawn, or the ci profile's 0), the example database (``maskoracle.database``:
    none for an explicit seed unless one is named) and its key."""
    database = resolve_database(db, seed is not None)
    if seed is None:
        seed = 0 if profile and profile.derandomize else random.SystemRandom().randrange(2**32)
    if max_examples is None:
        max_examples = profile.max_examples if profile else settings().max_examples
    return RunSettings(max_examples=max_examples, seed=seed,
                       shrink_budget_s=profile.shrink_budget_s if profile else DEFAULT_SHRINK_BUDGET_S,
                       database=database, key=key, on_example=on_example)


def describe_target(fn: Any) -> str:
    module = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{module}:{name}"
