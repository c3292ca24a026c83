"""What each CLI command does, on top of the Python API (``check``, ``reference_mask``) and the renderers."""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from ..checking import CheckReport, CheckResult, check, check_names
from ..errors import UsageError
from ..options import add_check_options, integer, namespace_getter, options_from, positive_int
from ..oracle import INVARIANTS, USER_EXAMPLE, USER_EXAMPLE_LABELS, reference_mask
from ..reports.tables import differences_to_json
from ..reports.terminal import Output, block_line, render_failure, render_mask, render_report, render_summary
from ..targets import load_target
from ..zoo import selftest as zoo_selftest
from ..zoo import zoo_entries
from .io import EXIT_FAILED, EXIT_PASSED, json_path, write_json

PLAIN_PROGRESS_EVERY_S = 30.0  # piped output (CI logs): a line per long-running check at most this often


def _progress(out: Output, total: int) -> tuple[Any, Any, Any]:
    """Progress over the checks and, within a random search, over its examples.

    On a terminal a rich progress bar; piped, a plain line every 30 s while a long search runs (a nightly
    campaign's log shows it is alive and how far it got), and nothing for short runs.
    """
    if not out.rich:
        last = [time.monotonic()]

        def plain_examples(name: str, passed: int, planned: int) -> None:
            now = time.monotonic()
            if now - last[0] >= PLAIN_PROGRESS_EVERY_S:
                last[0] = now
                out.line(f"  {name}: {passed}/{planned} examples passed so far")

        def plain_checks(name: str, result: CheckResult | None) -> None:
            last[0] = time.monotonic()

        return nullcontext(), plain_checks, plain_examples
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description:<32}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TextColumn("{task.fields[examples]}"), TimeElapsedColumn(), console=out.console,
                        transient=True)
    task = progress.add_task("checking", total=total, examples="")

    def update(name: str, result: CheckResult | None) -> None:
        if result is None:
            progress.update(task, description=name, examples="")
        else:
            progress.advance(task)

    def examples(name: str, passed: int, planned: int) -> None:
        progress.update(task, examples=f"{passed}/{planned} examples")

    return progress, update, examples


def _check_with_progress(fn: Any, out: Output, **options: Any) -> CheckReport:
    names = check_names(options.get("spec", "block_causal"), options.get("kind", "mask"), options.get("layout", "any"))
    bar, update, examples = _progress(out, len(names))
    with bar:
        return check(fn, progress=update, examples_progress=examples, **options)


def run_check(args: argparse.Namespace) -> int:
    report_path = json_path(args.json)
    out = Output(plain=True if args.plain else None)
    options = options_from(namespace_getter(args))
    # A TARGET string: with isolation auto/process the implementation is imported in the worker process only.
    report = _check_with_progress(args.target, out, target=args.target, **options)
    render_report(report, out)
    if report_path is not None:
        write_json(report_path, report.to_json())
    return EXIT_PASSED if report.passed else EXIT_FAILED


BUILTINS = (
    ("maskoracle.implementations.numpy:block_causal", "numpy"),
    ("maskoracle.implementations.torch:block_causal", "torch"),
    ("maskoracle.implementations.torch:block_causal_baseline", "torch"),
    ("maskoracle.implementations.torch:block_causal_additive", "torch"),
)
EXPLANATION = "maskoracle.implementations.explanation:explanation_rule"


def run_demo(args: argparse.Namespace) -> int:
    """The user's example both ways, the leak it opens, the built-ins checked, the explanation caught."""
    out = Output(plain=True if args.plain else None)
    pad = np.array([[c == "1" for c in USER_EXAMPLE.pad]])
    att = np.array([[c == "1" for c in USER_EXAMPLE.att]])
    labels = list(USER_EXAMPLE_LABELS)
    real = reference_mask(pad, att, "block_causal")
    table = reference_mask(pad, att, "rowwise")
    pseudo = reference_mask(pad, att, "rowwise", pad_queries="free")

    out.line("1. The user's example (SPEC §3): pad 111110, att 000111", style="bold")
    out.line("   tokens IMG IMG LANG SUB0 SUB1 PAD; blocks " + block_line(att[0]))
    out.line()
    render_mask(table[0], pad[0], att[0], out, labels=labels,
                title="as the explanation's table says (spec rowwise); cells the real function disagrees with marked",
                other=real[0])
    out.line()
    render_mask(pseudo[0], pad[0], att[0], out, labels=labels, other=table[0],
                title="as the explanation's pseudo-code computes it: its padded row 5 is full, unlike its own table")
    out.line()
    render_mask(real[0], pad[0], att[0], out, labels=labels,
                title="as make_att_2d_masks really computes it (spec block_causal)")
    out.line()
    leak = INVARIANTS["no_multilayer_leak"].mask_violation(table, pad, att)
    if leak is not None and leak.path is not None:
        reader, via, source = leak.path
        out.line(f"Why it matters: under the explanation, {labels[reader]} (token {reader}) may not read "
                 f"{labels[source]} (token {source}), yet {labels[via]} (token {via}) reads it in layer 1 and "
                 f"{labels[reader]} reads {labels[via]} in layer 2: the leak {labels[source]} -> {labels[via]} -> "
                 f"{labels[reader]} teaches the model the token it must predict. The real function blocks the "
                 f"bidirectional prefix from later blocks, so no such path exists.")
    out.line()

    out.line("2. The built-in implementations, checked against the oracle", style="bold")
    reports: list[CheckReport] = []
    builtins_pass = True
    for target, framework in BUILTINS:
        try:
            fn = load_target(target)
        except Exception as error:  # torch not installed: say so and go on with the rest
            out.line(f"  - {target}: skipped ({error})")
            continue
        report = _check_with_progress(fn, out, framework=framework, max_examples=args.max_examples, target=target)
        reports.append(report)
        builtins_pass &= report.passed
        render_summary(report, out)
        for failed in report.failed:
            render_failure(report, failed, out)
    out.line()

    out.line("3. The explanation's rule as an implementation, checked against the real function", style="bold")
    wrong = _check_with_progress(load_target(EXPLANATION), out, framework="numpy", max_examples=args.max_examples,
                                 target=EXPLANATION)
    render_summary(wrong, out)
    first = wrong.failed[:1]
    for failed in first:
        render_failure(wrong, failed, out)
    caught = not wrong.passed
    out.line()
    verdict = "built-ins pass and the explanation is caught" if builtins_pass and caught else "UNEXPECTED RESULT"
    out.line(f"demo: {verdict}", style="bold green" if builtins_pass and caught else "bold red")
    if args.json:
        write_json(args.json, {
            "user_example": {"pad": pad.astype(int).tolist(), "att": att.astype(int).tolist(),
                             "block_causal": real.astype(int).tolist(), "explanation_table": table.astype(int).tolist(),
                             "explanation_pseudo_code": pseudo.astype(int).tolist(),
                             "differing_cells": differences_to_json(real[0], table[0]),
                             "leak_path": list(leak.path) if leak and leak.path else None},
            "builtins": [report.to_json() for report in reports],
            "explanation": wrong.to_json(),
            "passed": builtins_pass and caught,
        })
    return EXIT_PASSED if builtins_pass and caught else EXIT_FAILED


def run_zoo_selftest(args: argparse.Namespace) -> int:
    """Every zoo entry checked; a table of verdicts; the kill rate and the false alarms."""
    out = Output(plain=True if args.plain else None)
    entries = zoo_entries()
    if args.only:
        known = {entry.name for entry in entries}
        unknown = [name for name in args.only if name not in known]
        if unknown:
            raise UsageError(f"--only: no zoo entry named {unknown[0]!r}")
        entries = [entry for entry in entries if entry.name in args.only]
    if args.readme and not Path(args.readme).is_file():
        raise UsageError(f"--readme {args.readme}: no such file")

    def progress(entry: Any, result: Any) -> None:
        if result is not None:
            verdict = ("FALSE ALARM" if result.killed else "ok") if result.equivalent else \
                ("killed" if result.killed else "SURVIVED")
            if result.skipped:
                verdict = "not run"
            size = result.counterexample_size
            out.line(f"  {verdict:<11} {result.name:<34} {result.check or '-':<28} {result.examples:>6} ex "
                     f"{result.seconds:6.2f} s  {'' if size is None else size}")

    out.line(f"maskoracle selftest: {len(entries)} zoo entries, seed {args.seed}")
    report = zoo_selftest.run_selftest(entries, max_examples=args.max_examples, seed=args.seed, progress=progress,
                                       isolation=args.isolation, jobs=args.jobs)
    median = report.median_seconds_to_kill()
    out.line(f"kill rate {report.kill_rate:.0%} ({sum(m.killed for m in report.bugs)}/{len(report.bugs)} bugs), "
             f"false alarms {report.false_alarms}, median time to kill "
             f"{'-' if median is None else f'{median:.2f} s'}, {report.elapsed_s:.1f} s in all",
             style="bold green" if report.passed else "bold red")
    if args.json:
        write_json(args.json, report.to_json())
    if args.readme:
        path = Path(args.readme)
        try:
            updated = zoo_selftest.replace_readme_table(path.read_text(encoding="utf-8"), zoo_selftest.markdown_table(report))
        except ValueError as error:
            raise UsageError(f"--readme {args.readme}: {error}") from None
        path.write_text(updated, encoding="utf-8")
    return EXIT_PASSED if report.passed else EXIT_FAILED


def add_commands(commands: Any) -> None:
    """``check``, ``selftest`` and ``demo``."""
    check = commands.add_parser("check", help="check an implementation: exact equivalence and invariants",
                                description="Check TARGET (package.module:function or path/file.py:function).")
    check.add_argument("target", metavar="TARGET")
    add_check_options(check.add_argument)
    check.add_argument("--json", metavar="PATH", help="write the machine-readable report there")
    check.add_argument("--plain", action="store_true", help="plain text even on a terminal")
    check.set_defaults(handler=run_check)

    selftest = commands.add_parser("selftest", help="run the check on the bundled mutant zoo: kill rate, false alarms",
                                   description="Check every zoo entry (seeded); exit 1 unless 100 % killed and "
                                               "no false alarm.")
    selftest.add_argument("--json", metavar="PATH")
    selftest.add_argument("--plain", action="store_true")
    selftest.add_argument("--max-examples", type=positive_int, default=None)
    selftest.add_argument("--seed", type=integer, default=0)
    selftest.add_argument("--only", metavar="NAME", action="append", default=None,
                          help="run only these zoo entries (repeatable)")
    selftest.add_argument("--isolation", choices=("process", "in-process"), default="process",
                          help="process (default): each entry's calls run in a worker process, as check runs a "
                               "TARGET; in-process: here (for debugging)")
    selftest.add_argument("--jobs", type=positive_int, default=zoo_selftest.default_jobs(), metavar="N",
                          help="entries checked at once, each job a process with its own worker (default: the "
                               "CPU count, at most 4: %(default)s here)")
    selftest.add_argument("--readme", metavar="PATH",
                          help="rewrite the kill-rate table between the selftest markers of this README")
    selftest.set_defaults(handler=run_zoo_selftest)

    demo = commands.add_parser("demo", help="check the built-in implementations and show the user's example",
                               description="The main job on embedded defaults.")
    demo.add_argument("--json", metavar="PATH")
    demo.add_argument("--plain", action="store_true")
    demo.add_argument("--max-examples", type=positive_int, default=50)
    demo.set_defaults(handler=run_demo)
