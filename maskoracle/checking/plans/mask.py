"""The equivalence checks of a mask (SPEC §2-§4) and the named invariants, and the inputs they run on.

``output_format``, ``spec_examples``, ``equivalence`` and ``size_boundaries`` read their inputs from the plan's
``Inputs`` and are shared with the grouped-layout and KV-cache plans; ``exhaustive_small`` and the invariants
are the mask plan's own.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from ...adapters.conventions import INPUT_CONVENTIONS, Convention
from ...kinds import FLEX_KINDS
from ...oracle import SPEC_CASES, Invariant
from ...strategies import (
    MAX_BATCH,
    MEDIUM_MAX_LENGTH,
    SMALL_MAX_LENGTH,
    MaskExample,
    boundary_examples,
    mask_examples,
    realistic_examples,
)
from ...strategies.families import (
    GENERIC_LAYOUTS,
    bit_rows,
    every_input,
    fits,
    fitting_example,
)
from ...strategies.rows import RowSampler, long_batches
from ..engine import CheckState, replay_found, run_batched, run_fixed, run_property, small_regime
from ..results import Aborted, CheckResult, Failure
from ..runner import Runner
from ..shrink import shrink_failure
from ..units import Check, Context

EXHAUSTIVE_MAX_LENGTH = 8
# The exhaustive check grows L while one call stays under this many seconds and all of them under the total.
# Generous on purpose: a fast implementation (~0.1 s at L = 8) then always reaches L = 8, even on a loaded
# machine, so that a seeded run repeats exactly; only slow (loop-based) implementations stop earlier.
EXHAUSTIVE_CALL_BUDGET_S = 1.0
EXHAUSTIVE_BUDGET_S = 3.0


class _ExpressedRows:
    """A row sampler whose batches are moved into what the ``--inputs`` convention can express."""

    def __init__(self, sampler: RowSampler, express: Any) -> None:
        self.sampler, self.express = sampler, express

    def length(self, rng: Any, coarse: bool = False) -> int:
        return self.sampler.length(rng, coarse)

    def draw(self, rng: Any, rows: int, length: int) -> MaskExample:
        return self.express(self.sampler.draw(rng, rows, length))


class MaskInputs:
    """``(pad, att)`` batches of the att family and padding family the options name (``strategies``), each moved
    into what the ``--inputs`` convention can express."""

    note = ""

    def __init__(self, family: str, padding: str, convention: Convention = INPUT_CONVENTIONS["pad_att"]) -> None:
        self.family, self.padding, self.convention = family, padding, convention

    def express(self, example: MaskExample) -> MaskExample:
        """``example`` as the convention can express it (unchanged for ``pad_att``)."""
        if self.convention.is_default:
            return example
        return MaskExample(example.pad_masks, self.convention.express(example.att_masks))

    def _all(self, examples: list[MaskExample]) -> list[MaskExample]:
        return [self.express(example) for example in examples]

    def _strategy(self, strategy: Any) -> Any:
        return strategy if self.convention.is_default else strategy.map(self.express)

    def first(self) -> MaskExample:
        # One batch entry: a result that cannot be read here makes every other check meaningless. Batches of
        # several rows are the other checks' business, so that "raises for B > 1" is reported by name there.
        # A padded query, two blocks (read at a glance), moved into the --layout and --padding families.
        return self.express(fitting_example(bit_rows("110"), bit_rows("011"), self.family, self.padding))

    def fixed(self) -> list[MaskExample]:
        cases = [MaskExample(bit_rows(case.pad), bit_rows(case.att)) for case in SPEC_CASES]
        return self._all([case for case in cases if fits(case, self.family, self.padding)])

    def examples(self, medium_lengths: tuple[int, ...] | None = None) -> Any:
        return self._strategy(mask_examples(layout=self.family, padding=self.padding, medium_lengths=medium_lengths))

    def small(self) -> Any:
        return self._strategy(mask_examples(layout=self.family, padding=self.padding, sizes="small"))

    def rows(self) -> Any:
        return RowSampler(self.family, self.padding) if self.convention.is_default else \
            _ExpressedRows(RowSampler(self.family, self.padding), self.express)

    def long(self) -> list[MaskExample]:
        inputs = [*boundary_examples(self.family, self.padding), *realistic_examples(self.family, self.padding),
                  *long_batches(self.family, self.padding)]
        return self._all(sorted(inputs, key=lambda example: example.shape[1]))

    def device_examples(self) -> list[MaskExample]:
        return self._all([
            fitting_example(bit_rows("111110"), bit_rows("000111"), self.family, self.padding),
            fitting_example(np.ones((2, 3), dtype=bool), np.ones((2, 3), dtype=bool), self.family, self.padding)])

    def admits(self, example: MaskExample) -> bool:
        """In the --padding family, in the --layout family (a model layout's pattern is not tested: its failures
        shrink to any shorter input, as before), and as the --inputs convention expresses it."""
        if not fits(example, self.family if self.family in GENERIC_LAYOUTS else "any", self.padding):
            return False
        return self.convention.is_default or np.array_equal(self.express(example).att_masks, example.att_masks)


# --- checks shared by every plan -----------------------------------------------------------------------------

def _output_format(context: Context, state: CheckState) -> CheckResult:
    example = context.inputs.first()
    try:
        context.runner.compute_example(example)
    except (Failure, Aborted) as failure:
        message = failure.message
        att_dtype = context.options["att_dtype"]
        if isinstance(context.runner, Runner) and att_dtype != "bool" and context.spec.grouped is None \
                and message.startswith("raised ") \
                and "timed out" not in message:
            message = f"rejects att {att_dtype} (--att-dtype {att_dtype}): {message}"
        return state.result("failed", message, context.runner.failure_for(example, context.inputs.note, failure))
    state.examples += 1
    return state.result("passed")


def _compare(context: Context) -> Any:
    return context.runner.compare_example


def _spec_examples(context: Context, state: CheckState) -> CheckResult:
    """SPEC's worked examples; a failing one is shrunk (within the families) to a minimal counterexample, so that
    a run stopped there (--exitfirst) shows one as small as the later checks would."""
    shrink = context.run.shrink_budget_s if isinstance(context.inputs, MaskInputs) else 0.0
    return run_fixed(state, _compare(context), context.inputs.fixed(), shrink, context.inputs.admits)


# Frameworks that compile once per input shape (JAX) pay ~0.15 s for each new (B, L): their Hypothesis examples
# take the medium lengths of a menu drawn from the seed (every length is reachable across seeds; small and long
# lengths are drawn as always), and batches of up to MAX_BATCH rows are compared as MAX_BATCH rows.
MEDIUM_MENU_SIZE = 3


def medium_menu(seed: int) -> tuple[int, ...]:
    """The run's medium lengths for a framework that compiles per shape: ``MEDIUM_MENU_SIZE`` of 13-160."""
    rng = np.random.default_rng([seed, 1515])
    lengths = rng.choice(np.arange(SMALL_MAX_LENGTH + 1, MEDIUM_MAX_LENGTH + 1), MEDIUM_MENU_SIZE, replace=False)
    return tuple(sorted(int(length) for length in lengths))


def full_batch(example: MaskExample, rows: int = MAX_BATCH) -> MaskExample:
    """``example`` with its rows repeated in turn up to ``rows`` (a batch of B < ``rows`` rows of L <= 160): the
    same rows, side by side as before (row b beside row b + 1), in one shape per length.

    >>> full_batch(MaskExample(np.array([[1, 0], [1, 1]], bool), np.array([[1, 1], [0, 1]], bool))).shape
    (4, 2)
    """
    B, L = example.shape
    if B >= rows or L > MEDIUM_MAX_LENGTH:
        return example
    order = np.arange(rows) % B
    return MaskExample(example.pad_masks[order], example.att_masks[order])


def _bucketed(compare: Any) -> Any:
    def compare_full_batch(example: MaskExample) -> None:
        compare(full_batch(example))

    return compare_full_batch


def _hypothesis_search(context: Context) -> tuple[Any, Any]:
    """The strategy and the body of ``equivalence``'s Hypothesis search: bucketed where shapes compile."""
    inputs, compare = context.inputs, _compare(context)
    if context.runner.adapter.compiles_per_shape and isinstance(inputs, MaskInputs):
        return inputs.examples(medium_menu(context.run.seed)), _bucketed(compare)
    return inputs.examples(), compare


def _shorter(context: Context, result: CheckResult) -> CheckResult:
    """A Hypothesis failure longer than the small regime, which the small-regime search did not reproduce (a bug
    that needs length, or one found at a JAX menu length), shrunk by deleting tokens: Hypothesis shrinks within a
    regime's lengths (a long one sits on a block-count boundary), not to every shorter length."""
    found = result.counterexample
    if result.status != "failed" or found is None or found.shape[1] <= SMALL_MAX_LENGTH:
        return result
    started = time.perf_counter()
    try:
        _compare(context)(MaskExample(found.pad, found.att))
    except Failure as failure:
        smaller = shrink_failure(_compare(context), failure, context.run.shrink_budget_s, context.inputs.admits)
        note = f" (found at [B, L] = {list(found.shape)}, shrunk by deleting tokens)" \
            if smaller.counterexample.shape[1] < found.shape[1] else ""
        return replace(result, message=smaller.message + note, counterexample=smaller.counterexample,
                       seconds=result.seconds + time.perf_counter() - started)
    except Aborted:
        pass
    return result


def _equivalence(context: Context, state: CheckState) -> CheckResult:
    sampler = context.inputs.rows()
    replayed = replay_found(state, _compare(context), context.run) if sampler is not None else None
    if replayed is not None:  # a failure an earlier batched search found and saved, first, as Hypothesis's are
        return replayed
    strategy, body = _hypothesis_search(context)
    result = run_property(state, strategy, body, context.run)
    found_by_hypothesis = result.status == "failed"  # the batched search shrinks its own failures
    if result.status == "passed" and sampler is not None:
        # Hypothesis passed: thousands of rows per call from the same families (a fast implementation gets
        # hundreds of thousands), then the Hypothesis search's verdict stands or the batched one's failure.
        coarse = context.runner.adapter.compiles_per_shape or context.options["kind"] in FLEX_KINDS
        result = run_batched(state, sampler, _compare(context), context.run, coarse=coarse,
                             call_budget_s=max(0.05, context.options["timeout"] / 8), admits=context.inputs.admits)
    found = result.counterexample
    small = context.inputs.small()
    if small is not None and result.status == "failed" and found is not None and found.shape[1] > SMALL_MAX_LENGTH:
        # Hypothesis cannot always shrink a long failure into the small regime; look there once more, and
        # keep the long counterexample only if the bug really needs length (size-dependent bugs do).
        # Its own database key: replayed through the other strategy, each search's saved failures mean other
        # inputs, pass, and are deleted (the long failure would never be replayed first).
        again = run_property(CheckState(state.name, state.description), small, body, small_regime(context.run))
        if again.status == "failed" and again.counterexample is not None:
            again.examples += result.examples
            again.rows += result.rows
            again.longest = max(again.longest, result.longest)
            again.seconds += result.seconds
            return again
    return _shorter(context, result) if found_by_hypothesis and isinstance(context.inputs, MaskInputs) else result


def _size_boundaries(context: Context, state: CheckState) -> CheckResult:
    return run_fixed(state, _compare(context), context.inputs.long())


OUTPUT_FORMAT = Check("output_format", "the result is a bool or additive float mask of shape [B, L, L] or "
                      "[B, 1, L, L]", _output_format)
SPEC_EXAMPLES = Check("spec_examples", "every worked example of SPEC §2-§3, cell for cell", _spec_examples)
EQUIVALENCE = Check("equivalence", "random batches (Hypothesis, shrunk on failure), then thousands of rows per "
                    "call from the same families, cell for cell", _equivalence)
SIZE_BOUNDARIES = Check(
    "size_boundaries", "block counts 127-129, 255-258, 2047-2049 (where int8/bf16/fp16 block ids break), "
    "real models' sizes (an 816-token bidirectional prefix, a 1,100-token one) and realistic padded batches of "
    "up to 16 rows at L = 130-4,096", _size_boundaries)


# --- the mask plan's own checks ------------------------------------------------------------------------------

def _exhaustive(context: Context, state: CheckState) -> CheckResult:
    """Every (pad, att) pair of each length, one batched call per length, longer while time allows."""
    runner, family, padding = context.mask_runner, context.spec.family, context.options["padding"]
    spent = 0.0
    lengths = 0
    for L in range(1, EXHAUSTIVE_MAX_LENGTH + 1):
        example = every_input(L, family, padding)
        if isinstance(context.inputs, MaskInputs):
            example = context.inputs.express(example)
        if runner.adapter.compiles_per_shape:
            # JAX traces and compiles for every new input shape: a first, untimed call pays for that, so the
            # budget measures the implementation, not the compiler (a raising call is reported below).
            try:
                runner.call(example.pad_masks, example.att_masks)
            except (Failure, Aborted):
                pass
        started = time.perf_counter()
        result = run_fixed(CheckState(state.name), runner.compare_example, [example])
        if result.status == "failed":
            result.examples, result.description = state.examples, state.description
            result.seconds = time.perf_counter() - state.started
            return result
        state.examples += example.shape[0]
        lengths = L
        elapsed = time.perf_counter() - started
        spent += elapsed
        if elapsed > EXHAUSTIVE_CALL_BUDGET_S or spent > EXHAUSTIVE_BUDGET_S:
            break
    return state.result("passed", f"all {state.examples} inputs of lengths 1-{lengths}")


def _skip_model_layouts(context: Context) -> str | None:
    family = context.spec.family
    if family not in GENERIC_LAYOUTS:
        return f"model layout {family!r}: its inputs come from the equivalence check"
    return None


EXHAUSTIVE_SMALL = Check("exhaustive_small", "every (pad, att) pair of small lengths, cell for cell", _exhaustive,
                         _skip_model_layouts)


# Metamorphic invariants feed the implementation inputs derived from the drawn one; they apply only where those
# inputs stay inside the chosen --layout (a causal-only implementation is never given att all 0).
INVARIANT_LAYOUTS: dict[str, tuple[frozenset[str], str]] = {
    "all_zero_att_bidirectional": (frozenset({"any", "blocks", "bidirectional", "prefix_lm"}), "att all 0"),
    "all_one_att_causal": (frozenset({"any", "blocks", "causal", "prefix_lm"}), "att all 1"),
    "first_att_bit_irrelevant": (frozenset({"any", "blocks"}), "att with its first bit flipped"),
    "appending_preserves_prefix": (GENERIC_LAYOUTS, "truncated sequences"),
}


def invariant_check(invariant: Invariant) -> Check:
    """An invariant of SPEC §2 as a check: a property over the plan's small inputs."""

    def body_for(context: Context) -> Any:
        runner, pad_queries = context.mask_runner, context.options["pad_queries"]

        def body(example: MaskExample) -> None:
            pad, att = example.pad_masks, example.att_masks
            if invariant.metamorphic:
                violation = invariant.violation(runner.compute, pad, att, pad_queries)
            else:  # one mask; a group rule's att holds segment ids, which no single-mask invariant reads
                att_read = np.zeros_like(pad) if context.spec.group_rule else att
                violation = invariant.mask_violation(runner.compute(pad, att), pad, att_read, pad_queries)
            if violation is not None:
                raise Failure(f"{invariant.summary}: {violation.message}",
                              runner.counterexample_for(pad, att, note=violation.message))

        return body

    def run(context: Context, state: CheckState) -> CheckResult:
        return run_property(state, context.inputs.small(), body_for(context), context.run, context.few)

    def skip(context: Context) -> str | None:
        if invariant.needs_masked_pad_queries and context.options["pad_queries"] != "masked":
            return "not checked with --pad-queries free"
        convention = context.options.get("inputs", "pad_att")
        if invariant.name == "first_att_bit_irrelevant" and convention != "pad_att":
            return f"not checked with --inputs {convention}: it feeds att rows that token types cannot express"
        layouts, derived = INVARIANT_LAYOUTS.get(invariant.name, (None, ""))
        family = context.spec.family
        if context.spec.grouped is None and layouts is not None and family not in layouts:
            return f"not checked with --layout {family}: it feeds {derived}"
        return None

    return Check(invariant.name, invariant.summary, run, skip)
