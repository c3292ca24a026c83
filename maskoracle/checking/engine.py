"""How one check runs: a fixed list of inputs or a Hypothesis property.

The plans (``checking/plans/``) say *which* checks run; this module says *how* one runs: each failure carried
as a ``Failure`` with its counterexample, shrunk within a time budget and cut down to the fewest batch rows.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky

from ..database import resolve_database
from ..errors import short_error
from ..profiles import DEFAULT_SHRINK_BUDGET_S, Profile
from ..strategies import MaskExample
from ..strategies.rows import RowSampler
from .results import Aborted, CheckResult, Counterexample, Failure
from .shrink import shrink_failure


class _ShrinkBudgetSpent(BaseException):
    """Stops Hypothesis once shrinking has used its time budget."""


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


class CheckState:
    """Bookkeeping for one named check: examples counted, time, result."""

    def __init__(self, name: str, description: str = "") -> None:
        self.name = name
        self.description = description
        self.examples = 0
        self.rows = 0  # batch rows compared (an example of B rows counts B)
        self.longest = 0  # the largest L compared
        self.started = time.perf_counter()

    def count(self, example: Any) -> None:
        """One more input passed: its rows and length are counted."""
        B, L = np.shape(example[0])
        self.examples += 1
        self.rows += int(B)
        self.longest = max(self.longest, int(L))

    def result(self, status: str, message: str = "", counterexample: Counterexample | None = None) -> CheckResult:
        return CheckResult(self.name, status, self.examples, message, time.perf_counter() - self.started,
                           counterexample, self.description, self.rows, self.longest)


def run_fixed(state: CheckState, body: Callable[[MaskExample], None], inputs: Iterable[MaskExample],
              shrink_budget_s: float = 0.0, admits: Callable[[MaskExample], bool] | None = None) -> CheckResult:
    """A check over a fixed list of inputs: the first failure, cut to its fewest rows (and, with a
    ``shrink_budget_s``, shrunk to its fewest tokens among the inputs that ``admits``), is the counterexample."""
    for example in inputs:
        try:
            body(example)
        except Aborted as aborted:
            return state.result("failed", aborted.message, aborted.counterexample)
        except Failure as failure:
            smaller = fewer_batch_rows(body, failure)
            if shrink_budget_s > 0:
                smaller = shrink_failure(body, smaller, shrink_budget_s, admits)
            message = smaller.message
            if shrink_budget_s > 0 and smaller.counterexample.shape[1] < example.shape[1]:
                message += f" (shrunk from an input of [B, L] = {list(example.shape)})"
            return state.result("failed", message, smaller.counterexample)
        state.count(example)
    if state.examples == 0:
        return state.result("skipped", "no input of this check fits the chosen --layout/--padding")
    return state.result("passed")


def _size(counterexample: Counterexample) -> tuple[int, int, int]:
    B, L = counterexample.shape
    return (L, B, int(counterexample.pad.sum() + counterexample.att.sum()))


def small_regime(run: RunSettings) -> RunSettings:
    """The settings of a second search, of the small regime, after a long failure: the same budgets and seed
    under a database key of its own (saved inputs are choices of one strategy; replayed through another they
    mean other inputs, pass, and Hypothesis deletes them)."""
    return replace(run, key=f"{run.key}/small-regime")


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
            state.count(example)
            if run.on_example is not None:
                run.on_example(state.name, state.examples, budget)

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
    # Hypothesis keys saved examples by a digest of the test function's source (read from disk and tokenized on
    # every run, and changed by any edit of this file: an upgrade would lose a campaign's saved failures). The
    # key is the target, options and check instead (the attribute hypothesis.find sets).
    test._hypothesis_internal_database_key = f"{run.key}/{state.name}".encode()  # type: ignore[attr-defined]
    try:
        test()
    except Failure as failure:
        failure = fewer_batch_rows(body, failure)
        return state.result("failed", failure.message, failure.counterexample)
    except _ShrinkBudgetSpent:
        best = fewer_batch_rows(body, smallest[0])
        # Hypothesis saves no failure when it is stopped mid-shrink: keep the smallest one seen, replayed first.
        _save_found(run, state.name, best.counterexample)
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


# The batched search: cells (rows x L x L) compared per example of the run's budget (--max-examples), at most
# this many cells and rows per call (memory), and a time cap only slow implementations reach. A fast one always
# runs the whole plan of calls, so a seeded run repeats exactly.
SEARCH_CELLS_PER_EXAMPLE = 1 << 19
SEARCH_CELLS_PER_CALL = 1 << 23
SEARCH_MAX_ROWS = 16384
SEARCH_FIRST_ROWS = 16
SEARCH_SECONDS_PER_EXAMPLE = 0.03


def run_batched(state: CheckState, sampler: RowSampler, body: Callable[[MaskExample], None], run: RunSettings,
                *, call_budget_s: float, coarse: bool = False,
                admits: Callable[[MaskExample], bool] | None = None) -> CheckResult:
    """Thousands of rows per call from ``sampler``, compared by ``body``; a failing row cut out and shrunk.

    The plan of calls (lengths, rows by the memory budget) comes from the seed; each call's rows shrink only when
    a call takes longer than ``call_budget_s``, and the search stops when its time cap is spent (a slow
    implementation gets fewer rows). ``coarse``: few shapes, rows in powers of two (JAX compiles per shape).
    ``admits``: the inputs the shrinker may try (the run's families).
    """
    rng = np.random.default_rng(run.seed)
    cells_left = run.max_examples * SEARCH_CELLS_PER_EXAMPLE
    deadline = time.perf_counter() + run.max_examples * SEARCH_SECONDS_PER_EXAMPLE
    slow_factor = 1.0  # > 1 once a call ran past its budget: later calls get fewer rows
    calls = searched = 0
    while cells_left > 0 and time.perf_counter() < deadline:
        L = sampler.length(rng, coarse)
        # The first calls are small (a slow implementation shows itself before a big call), then 4x each.
        rows = min(SEARCH_MAX_ROWS, SEARCH_CELLS_PER_CALL // (L * L), SEARCH_FIRST_ROWS << 2 * min(calls, 8))
        rows = max(1, int(rows / slow_factor))
        calls += 1
        if coarse:
            rows = 1 << (rows.bit_length() - 1)
        example = sampler.draw(rng, rows, L)
        cells_left -= rows * L * L
        started = time.perf_counter()
        try:
            body(example)
        except Aborted as aborted:
            return state.result("failed", aborted.message, aborted.counterexample)
        except Failure as failure:
            cut = shrink_failure(body, fewer_batch_rows(body, failure), run.shrink_budget_s, admits)
            _save_found(run, state.name, cut.counterexample)
            B, L = cut.counterexample.shape
            return state.result("failed", f"{cut.message} (found by the batched search among {rows} rows of "
                                          f"L = {example.shape[1]}, shrunk to [B, L] = [{B}, {L}])",
                                cut.counterexample)
        elapsed = time.perf_counter() - started
        if elapsed > call_budget_s:
            slow_factor *= 2 * elapsed / call_budget_s
        state.rows += rows
        searched += rows
        state.longest = max(state.longest, example.shape[1])
    return state.result("passed", f"{state.rows:,} rows compared, L up to {state.longest:,} ({state.examples} "
                                  f"Hypothesis examples, then {searched:,} rows in {calls} batched calls)")


def _found_key(run: RunSettings, name: str) -> bytes:
    return f"{run.key}/{name}/batched".encode()


def _save_found(run: RunSettings, name: str, counterexample: Counterexample) -> None:
    """Keep a failure the batched search found in the example database, as Hypothesis keeps its own."""
    if run.database is not None:
        value = {"pad": counterexample.pad.astype(int).tolist(), "att": counterexample.att.astype(int).tolist()}
        run.database.save(_found_key(run, name), json.dumps(value).encode())


def replay_found(state: CheckState, body: Callable[[MaskExample], None], run: RunSettings) -> CheckResult | None:
    """The failed result of a failure the batched search saved earlier, if it still fails (else forgotten)."""
    if run.database is None:
        return None
    key = _found_key(run, state.name)
    for value in list(run.database.fetch(key)):
        saved = json.loads(value)
        example = MaskExample(np.array(saved["pad"], dtype=bool), np.array(saved["att"], dtype=bool))
        try:
            body(example)
        except Aborted as aborted:
            return state.result("failed", aborted.message, aborted.counterexample)
        except Failure as failure:
            return state.result("failed", f"{failure.message} (replayed from the example database)",
                                failure.counterexample)
        run.database.delete(key, value)
    return None


def run_settings(profile: Profile | None, options: Mapping[str, Any], key: str,
                 on_example: Callable[[str, int, int], None] | None = None) -> RunSettings:
    """How a run's properties search, from its checked options (``maskoracle.options``): the profile's (or
    Hypothesis's) example budget and shrinking budget, the seed (drawn, or the ci profile's 0), the example
    database (``maskoracle.database``: none for an explicit seed unless one is named) and its key."""
    seed, max_examples = options["seed"], options["max_examples"]
    database = resolve_database(options["db"], seed is not None)
    if seed is None:
        seed = 0 if profile and profile.derandomize else random.SystemRandom().randrange(2**32)
    if max_examples is None:
        max_examples = profile.max_examples if profile else settings().max_examples
    shrink_budget_s = options["max_shrink_seconds"] or (profile.shrink_budget_s if profile else
                                                        DEFAULT_SHRINK_BUDGET_S)
    return RunSettings(max_examples=max_examples, seed=seed, shrink_budget_s=shrink_budget_s,
                       database=database, key=key, on_example=on_example)
