"""The machinery under ``check()``: calling the implementation, comparing with the oracle, running properties.

``checking.py`` says *which* checks run; this module says *how* one runs: a fixed list of inputs or a
Hypothesis property, each failure carried as a ``Failure`` with its counterexample, shrunk within a time
budget and cut down to the fewest batch rows.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky

from .adapters import Adapter, BadResult, CallTimeout, call_with_timeout, decode_mask
from .oracle import fast_reference_mask, reference_mask
from .results import CheckResult, Counterexample
from .strategies import MaskExample

MaskFn = Callable[[Any, Any], Any]

# The loop oracle is used up to this many cells per call; beyond it the vectorised formulation, which the
# project's tests prove equal to it (exhaustively up to L = 6, randomly beyond).
LOOP_ORACLE_MAX_CELLS = 2_000


class Failure(Exception):
    """Raised inside a check when the implementation is wrong; carries the counterexample."""

    def __init__(self, message: str, counterexample: Counterexample) -> None:
        super().__init__(message)
        self.message = message
        self.counterexample = counterexample


class Aborted(BaseException):
    """Stops a check at once (a timeout, an implementation that raised SystemExit): no shrinking through it."""

    def __init__(self, message: str, counterexample: Counterexample) -> None:
        super().__init__(message)
        self.message = message
        self.counterexample = counterexample


class _ShrinkBudgetSpent(BaseException):
    """Stops Hypothesis once shrinking has used its time budget."""


def short_error(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


@dataclass(frozen=True)
class RunSettings:
    """How properties run: examples, seed, shrinking budget, example database and its key."""

    max_examples: int
    seed: int
    shrink_budget_s: float
    database: Any  # a Hypothesis ExampleDatabase, or None
    key: str  # tells this target's and options' saved examples from every other's
    # on_example(check name, examples passed so far, examples planned) during properties: long campaigns' progress.
    on_example: Callable[[str, int, int], None] | None = None


def small_regime(run: RunSettings) -> RunSettings:
    """The settings of a second search, of the small regime, after a long failure: the same budgets and seed
    under a database key of its own (saved inputs are choices of one strategy; replayed through another they
    mean other inputs, pass, and Hypothesis deletes them)."""
    return replace(run, key=f"{run.key}/small-regime")


@dataclass
class Call:
    """One call of the implementation: the inputs as built in its framework, and what it returned."""

    pad: Any
    att: Any
    result: Any


class Runner:
    """Calls the implementation through the adapter and compares with the oracle."""

    def __init__(self, fn: MaskFn, adapter: Adapter, spec: str, pad_queries: str, att_dtype: str,
                 timeout: float) -> None:
        self.fn = fn
        self.adapter = adapter
        self.spec = spec
        self.pad_queries = pad_queries
        self.att_dtype = att_dtype
        self.timeout = timeout
        self.calls = 0

    def call(self, pad: np.ndarray, att: np.ndarray) -> Call:
        """Build the inputs, call the implementation under the time limit; ``Failure`` if it raised."""
        B, L = pad.shape
        example = Counterexample(pad.copy(), att.copy())
        pad_in, att_in = self.adapter.inputs(pad, att, self.att_dtype)
        self.calls += 1
        try:
            result = call_with_timeout(self.fn, (pad_in, att_in), self.timeout)
        except CallTimeout as timeout:
            raise Aborted(f"timed out: {timeout} on an input of shape [B, L] = [{B}, {L}]", example) from None
        except KeyboardInterrupt:
            raise  # the person at the terminal, most likely: stop the run
        except Exception as error:
            raise Failure(f"raised {short_error(error)} on input [B, L] = [{B}, {L}]", example) from None
        except BaseException as error:  # SystemExit, GeneratorExit, ...: a failure, and nothing to shrink
            raise Aborted(f"raised {short_error(error)} on input [B, L] = [{B}, {L}]", example) from None
        return Call(pad_in, att_in, result)

    def decode(self, call: Call, pad: np.ndarray, att: np.ndarray) -> np.ndarray:
        """The call's result as bool ``[B, L, L]``; ``Failure`` saying what it is if it is not a mask."""
        B, L = pad.shape
        try:
            return decode_mask(call.result, self.adapter, B, L)
        except BadResult as bad:
            raise Failure(f"bad result on input [B, L] = [{B}, {L}]: {bad}",
                          Counterexample(pad.copy(), att.copy())) from None

    def compute(self, pad: np.ndarray, att: np.ndarray) -> np.ndarray:
        """The implementation's mask for ``(pad, att)`` as bool ``[B, L, L]``; raises ``Failure`` if unusable.

        A ``UsageError`` from building the inputs (an att dtype the framework lacks) is the suite's setup,
        not the implementation's fault, and goes through untouched.
        """
        return self.decode(self.call(pad, att), pad, att)

    def expected(self, pad: np.ndarray, att: np.ndarray) -> np.ndarray:
        if pad.size * pad.shape[-1] <= LOOP_ORACLE_MAX_CELLS:
            return reference_mask(pad, att, spec=self.spec, pad_queries=self.pad_queries)
        return fast_reference_mask(pad, att, spec=self.spec, pad_queries=self.pad_queries)

    def compared_rows(self, pad: np.ndarray) -> np.ndarray:
        if self.pad_queries == "free":
            return pad.copy()
        return np.ones_like(pad, dtype=bool)

    def compare(self, pad: np.ndarray, att: np.ndarray) -> None:
        """Raise ``Failure`` unless the implementation equals the oracle on every compared cell."""
        actual = self.compute(pad, att)
        expected = self.expected(pad, att)
        differ = np.not_equal(expected, actual)
        if self.pad_queries == "free":
            differ &= pad[:, :, None]
        if not differ.any():
            return
        count = int(np.count_nonzero(differ))
        b, query, key = (int(x) for x in np.unravel_index(int(np.argmax(differ)), differ.shape))
        raise Failure(
            f"cell (b={b}, query={query}, key={key}): expected {mark(expected[b, query, key])}, "
            f"got {mark(actual[b, query, key])}; {count} cell{'s differ' if count > 1 else ' differs'} "
            f"on input [B, L] = {list(pad.shape)}",
            Counterexample(pad.copy(), att.copy(), expected, actual, self.compared_rows(pad)),
        )

    def counterexample_for(self, pad: np.ndarray, att: np.ndarray, note: str = "",
                           failure: BaseException | None = None) -> Counterexample:
        """The implementation's and the oracle's masks for an input, for showing a failure (never raises).

        After an ``Aborted`` call (a timeout, SystemExit) the implementation is not called again: that would
        cost another time limit, and a timeout must stop the check at once.
        """
        actual: np.ndarray | None = None
        if not isinstance(failure, Aborted):
            try:
                actual = self.compute(pad, att)
            except (Failure, Aborted):
                actual = None
        return Counterexample(pad.copy(), att.copy(), self.expected(pad, att), actual, self.compared_rows(pad), note)


def mark(value: Any) -> str:
    return "✓" if bool(value) else "✗"


class CheckState:
    """Bookkeeping for one named check: examples counted, time, result."""

    def __init__(self, name: str, description: str = "") -> None:
        self.name = name
        self.description = description
        self.examples = 0
        self.started = time.perf_counter()

    def result(self, status: str, message: str = "", counterexample: Counterexample | None = None) -> CheckResult:
        return CheckResult(self.name, status, self.examples, message, time.perf_counter() - self.started,
                           counterexample, self.description)


def run_fixed(state: CheckState, body: Callable[[MaskExample], None], inputs: Iterable[MaskExample]) -> CheckResult:
    """A check over a fixed list of inputs: the first failure, cut to its fewest rows, is the counterexample."""
    for example in inputs:
        try:
            body(example)
        except Aborted as aborted:
            return state.result("failed", aborted.message, aborted.counterexample)
        except Failure as failure:
            smaller = fewer_batch_rows(body, failure)
            return state.result("failed", smaller.message, smaller.counterexample)
        state.examples += 1
    if state.examples == 0:
        return state.result("skipped", "no input of this check fits the chosen --layout/--padding")
    return state.result("passed")


def _size(counterexample: Counterexample) -> tuple[int, int, int]:
    B, L = counterexample.shape
    return (L, B, int(counterexample.pad.sum() + counterexample.att.sum()))


def run_property(state: CheckState, strategy: Any, body: Callable[[MaskExample], None], run: RunSettings,
                 max_examples: int | None = None) -> CheckResult:
    """A Hypothesis property over ``strategy``; on failure, the shrunk counterexample.

    Shrinking stops ``run.shrink_budget_s`` seconds after the first failure, keeping the smallest failure
    seen. Failures are saved in ``run.database`` under a key of the target, the check and the options, and
    replayed first by the next run with the same key.
    """
    budget = max_examples or run.max_examples
    smallest: list[Failure] = []  # the smallest failure seen so far, in case shrinking runs out of time
    first_failure_at: list[float] = []

    def prop(example: MaskExample) -> None:
        if first_failure_at and time.perf_counter() - first_failure_at[0] > run.shrink_budget_s:
            raise _ShrinkBudgetSpent
        try:
            body(example)
        except Failure as failure:
            if not first_failure_at:
                first_failure_at.append(time.perf_counter())
            if not smallest or _size(failure.counterexample) < _size(smallest[0].counterexample):
                smallest[:] = [failure]
            raise
        if not first_failure_at:
            state.examples += 1
            if run.on_example is not None:
                run.on_example(state.name, state.examples, budget)

    # Hypothesis keys saved examples by the test function; ours is the same function for every target and
    # check, so the key gets what tells them apart (the hook Hypothesis's own stateful testing uses).
    prop._hypothesis_internal_add_digest = f"{run.key}/{state.name}".encode()  # type: ignore[attr-defined]
    if run.database is None:
        prop = hypothesis_seed(run.seed)(prop)
    else:
        # @seed would also switch the database off; this is the attribute it sets, without that.
        prop._hypothesis_internal_use_seed = run.seed  # type: ignore[attr-defined]
    test = given(strategy)(settings(
        max_examples=budget,
        deadline=None,
        database=run.database,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        print_blob=False,
    )(prop))
    try:
        test()
    except Failure as failure:
        failure = fewer_batch_rows(body, failure)
        return state.result("failed", failure.message, failure.counterexample)
    except _ShrinkBudgetSpent:
        best = fewer_batch_rows(body, smallest[0])
        return state.result("failed", best.message + f" (shrinking stopped after {run.shrink_budget_s:g} s)",
                            best.counterexample)
    except Aborted as aborted:
        return state.result("failed", aborted.message, aborted.counterexample)
    except Flaky:
        found = smallest[0] if smallest else None
        return state.result(
            "failed",
            "results are not reproducible: an input that failed once passed when repeated (nondeterministic "
            "implementation?)" + (f"; first failure: {found.message}" if found else ""),
            found.counterexample if found else None,
        )
    except Exception as error:  # Hypothesis itself gave up: unsatisfiable strategies, ...
        return state.result("failed", f"the property could not be run: {short_error(error)}")
    return state.result("passed")


def fewer_batch_rows(body: Callable[[MaskExample], None], failure: Failure, limit: int = 64) -> Failure:
    """Cut a failing batch down to one row, or two when the bug needs another row beside it.

    Hypothesis shrinks B only by dropping trailing rows, and exhaustive batches hold thousands of rows. Rows
    that differ from the oracle are tried first, alone and then beside row 0 or their predecessor.
    """
    pad, att = failure.counterexample.pad, failure.counterexample.att
    B = pad.shape[0]
    if B == 1:
        return failure
    differ = failure.counterexample.differing_mask()
    failing = [int(b) for b in np.flatnonzero(differ.any(axis=(1, 2)))] if differ is not None else list(range(B))
    candidates = [[row] for row in failing]
    candidates += [[first, row] for row in failing for first in (0, row - 1) if first < row]
    candidates += [list(pair) for pair in itertools.combinations(range(min(B, 4)), 2)]
    # Counterexamples of other kinds (a KV-cache split, say) know how to cut themselves to some rows.
    cut = getattr(failure.counterexample, "example_for_rows", None)
    for rows in candidates[:limit]:
        try:
            body(cut(rows) if cut is not None else MaskExample(pad[rows], att[rows]))
        except Failure as smaller:
            return smaller
        except (Aborted, _ShrinkBudgetSpent):
            break
    return failure
