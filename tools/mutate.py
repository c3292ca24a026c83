"""Targeted mutations of maskoracle's machinery: would the project's tests notice each of these bugs?

    .venv/bin/python tools/mutate.py                      # every mutation; a killed / survived table
    .venv/bin/python tools/mutate.py --list               # the mutations and where their snippets are
    .venv/bin/python tools/mutate.py --only timeout_5x --only json_no_differing_cells
    .venv/bin/python tools/mutate.py --jobs 2 --write docs/mutation.md   # the results table into the doc

Each mutation swaps one short snippet of code for a wrong one (a field dropped from the JSON report, a time limit
five times too long, ...) and names the test files that should catch it. The repository is copied once per job
to a temporary folder (without .venv and .git); each mutation is applied to the copy alone, the named tests run
there (the copy first on PYTHONPATH, so they import the mutated package), and the file is restored. A mutation
is *killed* when the tests fail (or error, or hang past ``--timeout``), *survived* when they pass. First the
named tests run once unmutated: they must pass, or no verdict means anything.

Snippets are matched as text, exactly once. The file named is tried first; if the snippet is not there (files
move), every ``maskoracle/**/*.py`` is searched and a unique match is used (and reported). A snippet found
nowhere, or more than once, is reported as "not applied" (and the exit status is 2): update it here.

Exit status: 0 every mutation applied and killed; 1 one survived; 2 one could not be applied, or the baseline
failed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "maskoracle"
START, END = "<!-- mutation:start -->", "<!-- mutation:end -->"
IGNORED = (".venv", ".git", "__pycache__", ".hypothesis", ".pytest_cache", ".mypy_cache", ".ruff_cache",
           "*.egg-info", "build", "dist", ".benchmarks")


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str  # where the snippet lives today (searched for elsewhere in the package if it moved)
    original: str
    mutated: str
    tests: tuple[str, ...]
    breaks: str  # the guarantee it breaks, for the report


M = Mutation
MUTATIONS: tuple[Mutation, ...] = (
    # --- the six of issue 17 ------------------------------------------------------------------------------
    M("json_no_differing_cells", "maskoracle/checking/results.py",
      '"differing_cells": [list(cell) for cell in self.differing_cells(limit=DIFFERING_CELLS_LIMIT)],', "",
      ("tests/checking/test_contract_json.py",), "the JSON report loses an INTERFACE field"),
    M("selftest_false_alarm_passes", "maskoracle/zoo/selftest.py",
      "return self.kill_rate == 1.0 and self.false_alarms == 0", "return self.kill_rate == 1.0",
      ("tests/zoo/test_gate.py",), "maskoracle selftest exits 0 with a false alarm"),
    M("database_one_key", "maskoracle/checking/engine.py",
      'test._hypothesis_internal_database_key = f"{run.key}/{state.name}".encode()',
      'test._hypothesis_internal_database_key = b"maskoracle"',
      ("tests/checking/test_database_keys.py", "tests/checking/test_behaviour.py"),
      "every target, check and option shares one example-database key"),
    M("shrink_budget_keeps_first_failure", "maskoracle/checking/engine.py",
      "if not smallest or _size(failure.counterexample) < _size(smallest[0].counterexample):",
      "if not smallest:",
      ("tests/checking/test_shrink_budget.py",), "shrinking out of time reports the first (largest) failure"),
    M("timeout_5x", "maskoracle/checking/calling.py",
      "signal.setitimer(signal.ITIMER_REAL, timeout)", "signal.setitimer(signal.ITIMER_REAL, timeout * 5)",
      ("tests/checking/test_timeouts.py", "tests/adapters/test_adapters.py"), "the time limit is five times too long"),
    M("any_padding_loses_corner_families", "maskoracle/strategies/_internal.py",
      "family = draw(_integers(0, len(ANY_PADDING_FAMILIES) - 1))",
      "family = draw(_integers(0, len(ANY_PADDING_FAMILIES) - 3))",
      ("tests/strategies/test_padding_families.py", "tests/strategies/test_strategies.py"),
      "padding='any' no longer draws all-padding and lone-real rows on purpose"),
    # --- exit codes -----------------------------------------------------------------------------------------
    M("check_exit_always_0", "maskoracle/cli/check.py",
      "        write_json(report_path, report.to_json())\n    return EXIT_PASSED if report.passed else EXIT_FAILED",
      "        write_json(report_path, report.to_json())\n    return EXIT_PASSED",
      ("tests/cli/test_cli.py", "tests/checking/test_contract_json.py"), "maskoracle check exits 0 on a failure"),
    M("usage_error_exit_1", "maskoracle/cli/main.py",
      "        return EXIT_USAGE\n", "        return EXIT_FAILED\n",
      ("tests/cli/test_cli.py",), "a usage error exits 1 instead of 2"),
    M("selftest_survivor_passes", "maskoracle/zoo/selftest.py",
      "return sum(m.killed for m in self.bugs) / len(self.bugs) if self.bugs else 1.0", "return 1.0",
      ("tests/zoo/test_gate.py",), "maskoracle selftest exits 0 with a surviving bug"),
    # --- the JSON report --------------------------------------------------------------------------------------
    M("json_expected_is_actual", "maskoracle/checking/results.py",
      '"expected": bits(self.expected),', '"expected": bits(self.actual),',
      ("tests/checking/test_contract_json.py",), "the report's expected mask is the implementation's"),
    M("json_report_always_passed", "maskoracle/checking/results.py",
      'for name in ("target", "spec", "options", "passed")}',
      'for name in ("target", "spec", "options")}\n        payload["passed"] = True',
      ("tests/checking/test_contract_json.py",), "the JSON report says passed on a failure"),
    M("json_no_compared_rows", "maskoracle/checking/results.py",
      '"compared_rows": bits(self.compared_rows),', "",
      ("tests/checking/test_contract_json.py",), "the JSON report cannot say which rows were compared"),
    M("skipped_counts_as_failed", "maskoracle/checking/results.py",
      'return self.status != "failed"', 'return self.status == "passed"',
      ("tests/checking/test_contract_json.py", "tests/checking/test_checking.py"), "a skipped check fails the run"),
    # --- database keys and seeds ----------------------------------------------------------------------------
    M("database_key_without_pad_queries", "maskoracle/checking/run.py",
      'f"{values[\'pad_queries\']}/{values[\'att_dtype\']}"', 'f"{values[\'att_dtype\']}"',
      ("tests/checking/test_database_keys.py",), "--pad-queries free and masked share saved failures"),
    M("small_regime_shares_the_key", "maskoracle/checking/engine.py",
      'return replace(run, key=f"{run.key}/small-regime")', "return run",
      ("tests/checking/test_database_keys.py",), "the small-regime search deletes a saved long failure"),
    M("explicit_seed_uses_the_default_database", "maskoracle/database.py",
      "return None if seed_given else settings().database", "return settings().database",
      ("tests/checking/test_behaviour.py", "tests/suites/test_campaigns.py"), "a seeded run replays whatever was saved"),
    M("ci_profile_not_derandomised", "maskoracle/checking/engine.py",
      "seed = 0 if profile and profile.derandomize else random.SystemRandom().randrange(2**32)",
      "seed = random.SystemRandom().randrange(2**32)",
      ("tests/checking/test_behaviour.py",), "the ci profile draws a random seed"),
    # --- shrinking ------------------------------------------------------------------------------------------
    M("not_reproducible_path_lost", "maskoracle/checking/engine.py",
      "    except Flaky:\n", "    except ZeroDivisionError:\n",
      ("tests/checking/test_shrink_budget.py",), "a nondeterministic implementation is not reported as such"),
    M("batch_never_cut_to_fewer_rows", "maskoracle/checking/engine.py",
      "    if B == 1:\n        return failure", "    if B >= 1:\n        return failure",
      ("tests/checking/test_checking.py",), "counterexamples keep every batch row"),
    # --- timeouts -------------------------------------------------------------------------------------------
    M("thread_timeout_5x", "maskoracle/checking/calling.py",
      "    worker.join(timeout)\n", "    worker.join(timeout * 5)\n",
      ("tests/checking/test_timeouts.py", "tests/adapters/test_adapters.py"), "the thread fallback waits five times too long"),
    M("main_thread_uses_a_thread", "maskoracle/checking/calling.py",
      "return _call_with_alarm(fn, args, timeout)", "return _call_in_thread(fn, args, timeout)",
      ("tests/checking/test_timeouts.py", "tests/adapters/test_adapters.py"), "a main-thread call starts a thread"),
    M("abandoned_worker_not_stopped", "maskoracle/checking/calling.py",
      "                _raise_in_thread(worker, _AbandonedCall)", "                pass",
      ("tests/checking/test_timeouts.py",), "a timed-out worker thread spins on"),
    M("hung_implementation_called_again", "maskoracle/checking/plans/mask.py",
      "context.runner.failure_for(example, context.inputs.note, failure)",
      "context.runner.failure_for(example, context.inputs.note)",
      ("tests/checking/test_timeouts.py", "tests/checking/test_behaviour.py"), "a hang costs two time limits in output_format"),
    M("timeout_does_not_stop_the_run", "maskoracle/checking/run.py",
      'return f"the implementation timed out in {name}"', "return None",
      ("tests/adapters/test_adapters.py", "tests/checking/test_behaviour.py"), "after a timeout every other check runs on"),
    # --- comparing and decoding -----------------------------------------------------------------------------
    M("free_policy_compares_padded_rows", "maskoracle/checking/runner.py",
      "                differ &= compared[:, :, None]\n", "                pass\n",
      ("tests/checking/test_checking.py",), "--pad-queries free still compares padded query rows"),
    M("masked_threshold_1e3", "maskoracle/checking/decode.py",
      "MASKED_THRESHOLD = -1e4", "MASKED_THRESHOLD = -1e3",
      ("tests/adapters/test_adapters.py",), "additive values above -1e4 read as masked (SPEC §6)"),
    M("nan_reads_as_masked", "maskoracle/checking/decode.py",
      "bad = ~(allowed | masked)", "bad = ~(allowed | masked | np.isnan(values))",
      ("tests/adapters/test_adapters.py",), "NaN in an additive mask is not reported"),
    M("positive_reads_as_allowed", "maskoracle/checking/decode.py",
      "allowed = values == 0", "allowed = values >= 0",
      ("tests/adapters/test_adapters.py",), "positive additive values read as allowed"),
    M("head_axis_refused", "maskoracle/checking/decode.py",
      "target = [B, array.shape[1] if array.ndim == 4 else 1, L, K]",
      "target = [B, 1, L, K]\n    if array.ndim == 4 and array.shape[1] == 1:\n        raise BadResult('refused')",
      ("tests/adapters/test_adapters.py",), "[B, 1, L, L] masks are refused"),
    M("kv_cache_head_axis_refused", "maskoracle/checking/decode.py",
      "    if shape == [B, L, K]:  # without a head axis",
      "    if shape == [B, L, K] and L == K:  # without a head axis",
      ("tests/checking/test_kinds.py", "tests/checking/test_kind_results.py"), "[B, 1, S, P+S] KV-cache masks are refused"),
    # --- strategies -------------------------------------------------------------------------------------------
    M("pi0_state_token_lost", "maskoracle/strategies/_internal.py",
      "att = [False] * (images + language) + [True] + [True] + [False] * (actions - 1)",
      "att = [False] * (images + language) + [True] + [False] + [False] * (actions - 1)",
      ("tests/strategies/test_strategies.py",), "the pi0 layout loses its state token (SPEC §8)"),
    M("prefix_lm_reversed", "maskoracle/strategies/_internal.py",
      "return [False] * prefix + [True] * (length - prefix), None, None",
      "return [True] * prefix + [False] * (length - prefix), None, None",
      ("tests/strategies/test_strategies.py",), "prefix_lm rows come out as suffix-LM rows"),
    # --- issue 15: what the default check's time was paid with ---------------------------------------------------
    M("every_input_bits_reversed", "maskoracle/strategies/families.py",
      "rows = (np.arange(1 << length)[:, None] >> np.arange(length - 1, -1, -1)) & 1 == 1",
      "rows = (np.arange(1 << length)[:, None] >> np.arange(length)) & 1 == 1",
      ("tests/strategies/test_families.py",), "the exhaustive enumeration leaves itertools.product's order"),
    M("oracle_padded_keys_reachable", "maskoracle/oracle/vectorized.py",
      "key = np.where(pad, block, np.iinfo(ids).max)", "key = np.where(pad, block, block)",
      ("tests/oracle/test_oracle.py",), "the vectorised oracle lets queries attend padded keys"),
    M("equal_masks_always_equal", "maskoracle/checking/runner.py",
      "return bool(np.array_equal(expected.reshape(-1).view(np.uint64), actual.reshape(-1).view(np.uint64)))",
      "return True",
      ("tests/checking/test_search.py",), "the eight-cells-at-a-time comparison passes a wrong mask"),
    M("shrinker_leaves_the_families", "maskoracle/checking/shrink.py",
      "if self.admits is not None and not self.admits(example):", "if False:",
      ("tests/checking/test_search.py",), "a shrunk counterexample leaves --layout/--padding"),
    M("exitfirst_ignored", "maskoracle/checking/run.py",
      "    if exitfirst:\n", "    if exitfirst and False:\n",
      ("tests/checking/test_checking.py", "tests/cli/test_cli.py"), "--exitfirst runs every later check"),
    M("spec_examples_unshrunk", "maskoracle/checking/plans/mask.py",
      "shrink = context.run.shrink_budget_s if isinstance(context.inputs, MaskInputs) else 0.0",
      "shrink = 0.0",
      ("tests/checking/test_checking.py",), "a failing SPEC worked example is shown unshrunk ([1, 6])"),
    M("long_hypothesis_failure_unshrunk", "maskoracle/checking/plans/mask.py",
      "    return _shorter(context, result) if found_by_hypothesis and isinstance(context.inputs, MaskInputs) else result",
      "    return result",
      ("tests/checking/test_search.py",), "a long failure stays at Hypothesis's boundary length"),
)


# --- applying one mutation ---------------------------------------------------------------------------------

@dataclass
class Outcome:
    mutation: Mutation
    verdict: str  # killed, survived, not applied, no tests
    detail: str
    seconds: float = 0.0
    located: str = ""


def locate(root: Path, mutation: Mutation) -> tuple[Path | None, str]:
    """The file holding the snippet exactly once: the one named, else a unique match in the package."""
    named = root / mutation.file
    if named.is_file() and named.read_text(encoding="utf-8").count(mutation.original) == 1:
        return named, mutation.file
    if named.is_file() and named.read_text(encoding="utf-8").count(mutation.original) > 1:
        return None, f"snippet found {named.read_text(encoding='utf-8').count(mutation.original)} times in " \
                     f"{mutation.file}; make it unique"
    matches = [(path, path.read_text(encoding="utf-8").count(mutation.original))
               for path in sorted((root / PACKAGE).rglob("*.py"))]
    matches = [(path, count) for path, count in matches if count]
    if len(matches) == 1 and matches[0][1] == 1:
        relative = matches[0][0].relative_to(root).as_posix()
        return matches[0][0], f"{relative} (moved from {mutation.file})"
    if not matches:
        return None, f"snippet not found in {mutation.file} or anywhere under {PACKAGE}/"
    return None, "snippet found in several places: " + ", ".join(
        f"{path.relative_to(root).as_posix()} ({count}x)" for path, count in matches)


def run_tests(root: Path, tests: tuple[str, ...], timeout: float) -> tuple[int | None, str]:
    """pytest on ``tests`` in ``root``, importing ``root``'s package: (exit status or None on timeout, output)."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_ADDOPTS"):
        environment.pop(name, None)
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-rfE", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(command, cwd=root, env=environment, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, ""
    return done.returncode, done.stdout + done.stderr


def first_failure(output: str) -> str:
    found = re.search(r"^(?:FAILED|ERROR) (.+?)(?: - |$)", output, re.MULTILINE)
    return found.group(1) if found else (output.strip().splitlines() or [""])[-1]


def apply_and_run(root: Path, mutation: Mutation, timeout: float) -> Outcome:
    path, located = locate(root, mutation)
    if path is None:
        return Outcome(mutation, "not applied", located)
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace(mutation.original, mutation.mutated, 1), encoding="utf-8")
    started = time.perf_counter()
    try:
        status, output = run_tests(root, mutation.tests, timeout)
    finally:
        path.write_text(original, encoding="utf-8")
    seconds = time.perf_counter() - started
    if status is None:
        return Outcome(mutation, "killed", f"the tests ran past {timeout:g} s (a hang)", seconds, located)
    if status == 0:
        return Outcome(mutation, "survived", "every named test passed", seconds, located)
    if status == 5:
        return Outcome(mutation, "no tests", "pytest collected no tests: fix the test paths", seconds, located)
    kind = "a failure" if status == 1 else f"pytest exit {status}"
    return Outcome(mutation, "killed", f"{kind}: {first_failure(output)}", seconds, located)


def copy_repository(into: Path) -> Path:
    root = into / "repo"
    shutil.copytree(REPO, root, ignore=shutil.ignore_patterns(*IGNORED))
    return root


# --- the run -------------------------------------------------------------------------------------------------

def run(mutations: list[Mutation], jobs: int, timeout: float, baseline: bool) -> tuple[list[Outcome], bool]:
    with tempfile.TemporaryDirectory(prefix="maskoracle-mutate-") as scratch:
        roots = [copy_repository(Path(scratch) / f"job{k}") for k in range(max(1, jobs))]
        if baseline:
            tests = tuple(sorted({test for mutation in mutations for test in mutation.tests}))
            print(f"baseline: {len(tests)} test files, unmutated ...", flush=True)
            status, output = run_tests(roots[0], tests, timeout * 3)
            if status != 0:
                print("\n".join((output or "").splitlines()[-40:]))
                print(f"baseline FAILED ({'timeout' if status is None else f'exit {status}'}): "
                      f"{first_failure(output or '')}\nno verdict means anything until the tests pass unmutated.")
                return [], False
        done: list[Outcome] = []

        def one(index: int, mutation: Mutation, root: Path) -> Outcome:
            outcome = apply_and_run(root, mutation, timeout)
            done.append(outcome)
            where = f" [{outcome.located}]" if "moved" in outcome.located else ""
            print(f"[{len(done)}/{len(mutations)}] {outcome.verdict:<11} {mutation.name:<38} {outcome.seconds:6.1f} s  "
                  f"{outcome.detail}{where}", flush=True)
            return outcome

        # Each job owns one copy: mutation k runs in copy k % jobs, one at a time per copy.
        lanes = [[(k, mutation) for k, mutation in enumerate(mutations) if k % len(roots) == lane]
                 for lane in range(len(roots))]
        def lane_of(lane: list[tuple[int, Mutation]], root: Path) -> list[Outcome]:
            return [one(k, mutation, root) for k, mutation in lane]

        with ThreadPoolExecutor(max_workers=len(roots)) as pool:
            futures = [pool.submit(lane_of, lane, root) for lane, root in zip(lanes, roots, strict=True)]
            results = {outcome.mutation.name: outcome for future in futures for outcome in future.result()}
        return [results[mutation.name] for mutation in mutations], True


def markdown(outcomes: list[Outcome]) -> str:
    applied = [o for o in outcomes if o.verdict in ("killed", "survived")]
    killed = sum(o.verdict == "killed" for o in applied)
    lines = [f"Score: **{killed}/{len(applied)} killed** "
             f"({killed / len(applied):.0%})" + (f"; {len(outcomes) - len(applied)} not applied" if
                                                  len(applied) < len(outcomes) else "") +
             " (`.venv/bin/python tools/mutate.py --jobs 2 --write docs/mutation.md`).",
             "", "| mutation | breaks | tests run | verdict | first failing test |", "|---|---|---|---|---|"]
    for o in outcomes:
        tests = ", ".join(f"`{Path(test).name}`" for test in o.mutation.tests)
        detail = o.detail.replace("|", "\\|")
        lines.append(f"| `{o.mutation.name}` | {o.mutation.breaks} | {tests} | {o.verdict} | {detail} |")
    return "\n".join(lines)


def write_table(path: Path, table: str) -> None:
    text = path.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{path}: no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{table}\n{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--list", action="store_true", help="list the mutations and where their snippets are")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run only these (repeatable)")
    parser.add_argument("--jobs", type=int, default=1, help="mutations run at once, each in its own copy")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for one mutation's tests")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of the tests")
    parser.add_argument("--write", metavar="FILE", help="put the results table between the markers of FILE")
    args = parser.parse_args(argv)

    names = {mutation.name for mutation in MUTATIONS}
    unknown = [name for name in args.only if name not in names]
    if unknown:
        parser.error(f"--only: no mutation named {unknown[0]!r} (see --list)")
    chosen = [mutation for mutation in MUTATIONS if not args.only or mutation.name in args.only]
    if args.list:
        for mutation in chosen:
            _, located = locate(REPO, mutation)
            print(f"{mutation.name:<38} {located:<45} {mutation.breaks}")
        return 0
    outcomes, ok = run(chosen, args.jobs, args.timeout, baseline=not args.no_baseline)
    if not ok:
        return 2
    table = markdown(outcomes)
    print()
    print(table)
    if args.write:
        write_table(Path(args.write), table)
    if any(o.verdict in ("not applied", "no tests") for o in outcomes):
        return 2
    return 1 if any(o.verdict == "survived" for o in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
