"""``maskoracle selftest``: run the default check on every zoo entry and measure the suite's power.

Per entry: whether it was killed (a bug) or raised a false alarm (a right-by-another-route implementation),
by which check first, after how many examples and seconds, and the size of its counterexample (the first failed
check's, shrunk: with ``--exitfirst`` no later check runs).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import pickle
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from ..checking import CheckReport, check
from ..checking.isolation import Worker, check_isolated
from ..errors import UsageError, short_error
from ..options import default_memory_limit
from ..reports.markers import replace_between
from . import zoo_entries
from .entry import ZooEntry


@dataclass
class MutantResult:
    """One zoo entry's verdict (INTERFACE's selftest JSON, plus what helps a reader)."""

    name: str
    equivalent: bool
    killed: bool  # for an equivalent entry: a false alarm
    check: str | None
    examples: int
    seconds: float
    counterexample_size: list[int] | None
    size_dependent: bool
    doc: str
    target: str
    message: str = ""
    skipped: bool = False  # needs what this machine lacks (a CUDA device, ml_dtypes): not counted

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "equivalent": self.equivalent, "killed": self.killed, "check": self.check,
            "examples": self.examples, "seconds": round(self.seconds, 4),
            "counterexample_size": self.counterexample_size, "size_dependent": self.size_dependent,
            "doc": self.doc, "target": self.target, "message": self.message, "skipped": self.skipped,
        }


@dataclass
class SelftestReport:
    mutants: list[MutantResult] = field(default_factory=list)
    elapsed_s: float = 0.0
    jobs: int = 1  # entries checked at once

    @property
    def bugs(self) -> list[MutantResult]:
        return [m for m in self.mutants if not m.equivalent and not m.skipped]

    @property
    def kill_rate(self) -> float:
        return sum(m.killed for m in self.bugs) / len(self.bugs) if self.bugs else 1.0

    @property
    def false_alarms(self) -> int:
        return sum(m.killed for m in self.mutants if m.equivalent and not m.skipped)

    @property
    def passed(self) -> bool:
        return self.kill_rate == 1.0 and self.false_alarms == 0

    def median_seconds_to_kill(self) -> float | None:
        times = [m.seconds for m in self.bugs if m.killed]
        return statistics.median(times) if times else None

    def to_json(self) -> dict[str, Any]:
        median = self.median_seconds_to_kill()
        return {
            "mutants": [m.to_json() for m in self.mutants],
            "kill_rate": self.kill_rate,
            "false_alarms": self.false_alarms,
            "median_seconds_to_kill": None if median is None else round(median, 4),
            "elapsed_s": round(self.elapsed_s, 3),
            "jobs": self.jobs,
        }


def verdict_of(entry: ZooEntry, report: CheckReport) -> MutantResult:
    """Read a zoo entry's check report: the first failed check, time and examples to it, smallest counterexample."""
    seconds = 0.0
    first = None
    for result in report.checks:
        seconds += result.seconds
        if not result.passed:
            first = result
            break
    sizes = [list(r.counterexample.shape) for r in report.failed if r.counterexample is not None]
    smallest = min(sizes, key=lambda size: (size[1], size[0])) if sizes else None
    return MutantResult(
        name=entry.name,
        equivalent=entry.equivalent,
        killed=first is not None,
        check=first.name if first else None,
        examples=first.examples if first else sum(r.examples for r in report.checks),
        seconds=seconds if first else report.elapsed_s,
        counterexample_size=smallest,
        size_dependent=entry.size_dependent,
        doc=entry.doc,
        target=entry.target,
        message=first.message if first else "",
    )


def run_selftest(
    entries: list[ZooEntry] | None = None,
    *,
    max_examples: int | None = None,
    seed: int = 0,
    progress: Callable[[ZooEntry, MutantResult | None], None] | None = None,
    isolation: str = "process",
    jobs: int = 1,
) -> SelftestReport:
    """Run the default check (seeded, so a run can be repeated; ``--exitfirst``) on each entry; see
    ``SelftestReport``.

    With ``isolation="process"`` each entry's calls run in a worker process, as ``maskoracle check`` runs a
    TARGET (one worker, kept warm from entry to entry); ``"in-process"`` calls them here. ``jobs`` > 1 checks
    that many entries at once, each job a process of its own (spawned, with its own warm worker); the report
    keeps the zoo's order, ``progress`` is called as entries finish."""
    started = time.perf_counter()
    entries = list(entries if entries is not None else zoo_entries())
    jobs = min(jobs, len(entries)) if jobs > 1 and len(entries) > 1 and _travel(entries) else 1
    if jobs > 1:
        results = _run_in_jobs(entries, max_examples, seed, progress, isolation, jobs)
    else:
        results = []
        worker = Worker(default_memory_limit()) if isolation == "process" else None
        try:
            for entry in entries:
                if progress:
                    progress(entry, None)
                results.append(_run_entry(entry, max_examples, seed, worker))
                if progress:
                    progress(entry, results[-1])
        finally:
            if worker is not None:
                worker.close()
    report = SelftestReport(results, jobs=jobs)
    report.elapsed_s = time.perf_counter() - started
    return report


def default_jobs() -> int:
    """The command's default ``--jobs``: one per CPU this process may use, at most 4 (each job holds a framework
    twice in memory: its own process and its worker)."""
    return max(1, min(4, _usable_cpus()))


def _usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _travel(entries: list[ZooEntry]) -> bool:
    """Whether the entries can be sent to job processes as they are (their functions pickle by name)."""
    try:
        pickle.dumps(entries)
    except Exception:  # a lambda or a local function: checked here, one entry after another
        return False
    return True


def _run_in_jobs(entries: list[ZooEntry], max_examples: int | None, seed: int,
                 progress: Callable[[ZooEntry, MutantResult | None], None] | None, isolation: str,
                 jobs: int) -> list[MutantResult]:
    """The entries checked ``jobs`` at a time in spawned processes (never forked: torch and JAX state is not
    copied); results in the entries' order. The right-by-another-route entries go first: they run every check
    (a bug stops at its first failed one), so they are the long ones, and the jobs end closer together."""
    context = multiprocessing.get_context("spawn")
    results: dict[str, MutantResult] = {}
    # The jobs share the CPUs: each job's frameworks get its share of threads (idle OpenMP threads spin, and
    # two jobs of two threads each on two cores took as long as one job), unless the user chose a number.
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, _usable_cpus() // jobs))
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_job,
                             initargs=(isolation, threads)) as pool:
        first = sorted(entries, key=lambda entry: not entry.equivalent)
        pending = {pool.submit(_job_entry, entry, max_examples, seed): entry for entry in first}
        if progress:
            for entry in entries:
                progress(entry, None)
        for done in as_completed(pending):
            entry = pending[done]
            try:
                results[entry.name] = done.result()
            except Exception as error:  # the job process itself ended (killed for memory, say): not a verdict
                results[entry.name] = _job_lost(entry, error)
            if progress:
                progress(entry, results[entry.name])
    return [results[entry.name] for entry in entries]


def _job_lost(entry: ZooEntry, error: BaseException) -> MutantResult:
    """An entry whose job ended before it gave a verdict: counted against the gate (a bug survives, a right entry
    is a false alarm), so that the selftest never passes on entries it did not check."""
    message = f"not checked: the job process checking it ended ({short_error(error)})"
    return MutantResult(entry.name, entry.equivalent, entry.equivalent, None, 0, 0.0, None, entry.size_dependent,
                        entry.doc, entry.target, message)


_JOB_WORKER: list[Worker | None] = []  # the worker of this job process (spawned by _run_in_jobs)


def _start_job(isolation: str, threads: str) -> None:
    # Read by the frameworks as they start: the worker's (where the implementation computes) starts after this.
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = threads
    worker = Worker(default_memory_limit()) if isolation == "process" else None
    _JOB_WORKER.append(worker)
    if worker is not None:
        # Closed when the pool ends this process (multiprocessing runs its finalizers before exiting).
        multiprocessing.util.Finalize(worker, worker.close, exitpriority=10)


def _job_entry(entry: ZooEntry, max_examples: int | None, seed: int) -> MutantResult:
    return _run_entry(entry, max_examples, seed, _JOB_WORKER[0])


def _run_entry(entry: ZooEntry, max_examples: int | None, seed: int, worker: Worker | None) -> MutantResult:
    # The verdict is the first failed check, so the checks after it are not run (--exitfirst).
    options = {"framework": entry.framework, "max_examples": max_examples, "seed": seed, "exitfirst": True,
               **entry.options}
    try:
        if worker is not None:
            checked = check_isolated(entry.target, worker=worker, **options)
        else:
            checked = check(entry.fn, target=entry.target, isolation="in-process", **options)
    except UsageError as error:  # e.g. --device cuda on a machine without one
        return MutantResult(entry.name, entry.equivalent, False, None, 0, 0.0, None, entry.size_dependent,
                            entry.doc, entry.target, f"not run: {error}", skipped=True)
    return verdict_of(entry, checked)


README_START = "<!-- selftest:start -->"
README_END = "<!-- selftest:end -->"


def markdown_table(report: SelftestReport) -> str:
    """The kill-rate table for the README: one row per entry, then the totals."""
    median = report.median_seconds_to_kill()
    lines = [
        f"Kill rate **{report.kill_rate:.0%}** of {len(report.bugs)} bugs, **{report.false_alarms}** false alarms "
        f"on {len(report.mutants) - len(report.bugs)} right-by-another-route implementations; median time to "
        f"kill {median:.2f} s; whole run {report.elapsed_s:.0f} s (`maskoracle selftest --readme README.md`, "
        f"seed 0, {report.jobs} job{'s' if report.jobs > 1 else ''} on a 2-core machine; each entry's check stops "
        "at its first failed check, `--exitfirst`).",
        "",
        "| entry | kind | verdict | first failed check | examples | seconds | its counterexample [B, L] |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in report.mutants:
        kind = "right" if m.equivalent else ("bug, size-dependent" if m.size_dependent else "bug")
        if m.skipped:
            verdict = "not run here"
        elif m.equivalent:
            verdict = "false alarm ✗" if m.killed else "passed ✓"
        else:
            verdict = "killed ✓" if m.killed else "survived ✗"
        size = "" if m.counterexample_size is None else f"[{m.counterexample_size[0]}, {m.counterexample_size[1]}]"
        lines.append(f"| `{m.name}` | {kind} | {verdict} | {m.check or ''} | {m.examples} | {m.seconds:.2f} | "
                     f"{size} |")
    return "\n".join(lines)


def replace_readme_table(readme: str, table: str) -> str:
    """``readme`` with the text between the selftest markers replaced by ``table``."""
    try:
        return replace_between(readme, README_START, README_END, table + "\n")
    except ValueError:
        raise ValueError(f"the README has no {README_START} ... {README_END} markers") from None
