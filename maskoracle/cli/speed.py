"""``maskoracle bench`` and ``maskoracle report``: parse, call ``maskoracle.bench`` / ``reports.speed``, render."""

from __future__ import annotations

import argparse
import os
from contextlib import nullcontext
from typing import Any

from ..checking.calling import WorkerEnded
from ..checking.isolation import RemoteFunction, Worker
from ..errors import UsageError
from ..options import default_memory_limit, positive_int, seconds
from ..reports.speed import compare, headline, load_bench_files, replace_readme_section, write_report
from ..reports.terminal import Output
from ..speed.bench import (
    DEFAULT_SIZES,
    FULL_SIZES,
    BenchTarget,
    SizeTiming,
    TargetBench,
    bench,
    format_seconds,
    parse_sizes,
)
from ..targets import load_target
from .io import EXIT_FAILED, EXIT_PASSED, write_json

# The built-ins and their baselines, as ``maskoracle bench --builtins`` times them (and reports/ shows).
BUILTIN_TARGETS = (
    "maskoracle.implementations.torch:block_causal",
    "maskoracle.implementations.torch:block_causal_baseline",
    "maskoracle.implementations.numpy:block_causal@numpy",
    "maskoracle.implementations.numpy:block_causal_baseline@numpy",
    "maskoracle.implementations.torch:block_causal_additive",
    "maskoracle.implementations.torch:block_causal_additive_unfused",
    "maskoracle.implementations.torch:block_causal_additive_baseline",
)


BENCH_IMPORT_TIMEOUT = 60.0  # seconds to import a TARGET in the worker (the calls get their own limits)


def resolve_targets(names: list[str], default_framework: str, worker: Worker | None = None,
                    device: str = "cpu") -> list[BenchTarget]:
    """``TARGET[@framework]`` strings -> ``BenchTarget``s (``UsageError`` for a bad one). With a ``worker``, each
    target is imported and called there (``RemoteFunction``), and never in this process."""
    targets = []
    for name in names:
        target, at, framework = name.rpartition("@")
        if not at:
            target, framework = name, default_framework
        if framework not in ("torch", "numpy"):
            raise UsageError(f"TARGET {name!r}: unknown framework {framework!r} after @; use @torch or @numpy")
        if worker is None:
            targets.append(BenchTarget(target, load_target(target), framework))
            continue
        remote = RemoteFunction(worker, target, {"kind": "mask", "framework": framework, "device": device,
                                                 "timeout": BENCH_IMPORT_TIMEOUT})
        try:
            remote.load()
        except WorkerEnded:
            pass  # its import ended or hung the worker: the gate fails it, naming how, and it is not timed
        targets.append(BenchTarget(target, remote, framework))
    return targets


def _sizes(text: str | None) -> list[tuple[int, int]]:
    if text is None:
        return list(DEFAULT_SIZES)
    if text == "full":
        return list(FULL_SIZES)
    return parse_sizes(text)


def _progress_bar(out: Output, total: int) -> tuple[Any, Any]:
    if not out.rich:
        return nullcontext(), None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description:<48}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TimeElapsedColumn(), console=out.console, transient=True)
    return progress, progress.add_task("gating", total=total)


def run_bench(args: argparse.Namespace) -> int:
    names = list(args.targets) + (list(BUILTIN_TARGETS) if args.builtins else [])
    if not names:
        raise UsageError("name at least one TARGET (package.module:function[@framework]) or pass --builtins")
    sizes = _sizes(args.sizes)
    if args.threads is not None:
        try:
            import torch
        except ImportError:
            raise UsageError("--threads sets PyTorch's threads, and PyTorch is not installed") from None
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # and the worker's, which reads it as torch starts
    worker = Worker(default_memory_limit()) if args.isolation == "process" else None
    try:
        targets = resolve_targets(names, args.framework, worker, args.device)
        return _bench_and_report(args, targets, sizes)
    finally:
        if worker is not None:
            worker.close()


def _bench_and_report(args: argparse.Namespace, targets: list[BenchTarget], sizes: list[tuple[int, int]]) -> int:
    out = Output(plain=True if args.plain else None)
    out.line(f"maskoracle bench: {len(targets)} target(s), sizes {', '.join(f'{B}x{L}' for B, L in sizes)}, "
             f"workload {args.workload}, device {args.device}")
    bar, task = _progress_bar(out, len(targets) * (1 + len(sizes)))
    width = max(len(target.name) for target in targets)

    def progress(event: str, target: TargetBench, size: SizeTiming | None) -> None:
        if bar is not None and task is not None:
            bar.advance(task, 1 if size is not None or target.gate_passed else 1 + len(sizes))
            bar.update(task, description=f"timing {target.target.rsplit(':', 1)[-1]}")
        if size is None:
            verdict = "gate passed" if target.gate_passed else "NOT TIMED: " + target.gate_message
            out.line(f"  {target.target:<{width}}  {verdict}", style=None if target.gate_passed else "bold red")
            return
        if size.status != "timed":
            out.line(f"  {target.target:<{width}}  {size.B:>3}x{size.L:<5} {size.message}", style="bold red")
            return
        out.line(f"  {target.target:<{width}}  {size.B:>3}x{size.L:<5} {format_seconds(size.best_s):>10}  "
                 f"{size.ratio_to_bound or 0:6.2f}x bound ({format_seconds(size.bound_best_s)})  "
                 f"{size.rounds:>3} rounds")

    with bar:
        report = bench(targets, sizes, workload=args.workload, device=args.device, min_time=args.min_time,
                       gate_examples=args.gate_examples, progress=progress)
    for target in report.targets:
        bound_slopes, steep = target.slopes(bound=True), target.steep_slopes()
        for B, slope in target.slopes().items():
            out.line(f"  {target.target:<{width}}  log-log slope of time against L at B={B}: {slope:.2f} "
                     f"(bound's {bound_slopes.get(B, float('nan')):.2f})"
                     + ("  steeper than 2 and than the bound: a finding" if B in steep else ""))
    out.line(f"{'all targets timed' if report.passed else 'some targets NOT timed'} in {report.elapsed_s:.1f} s",
             style="bold green" if report.passed else "bold red")
    if args.json:
        write_json(args.json, report.to_json())
    if args.readme and not args.report:
        raise UsageError("--readme needs --report DIR (the README links to the report's plot)")
    if args.report:
        if args.json:
            report.source = args.json
        for path in write_report(report, args.report):
            out.line(f"  wrote {path}")
        if args.readme:
            update_readme(args.readme, report, args.report)
            out.line(f"  updated {args.readme}")
    return EXIT_PASSED if report.passed else EXIT_FAILED


def update_readme(readme: str, report: Any, directory: str) -> None:
    """Rewrite the speed section of ``readme`` with the headline of ``report`` (its plot in ``directory``)."""
    import os
    from pathlib import Path

    path = Path(readme)
    if not path.is_file():
        raise UsageError(f"--readme {readme}: no such file")
    image = os.path.relpath(Path(directory) / "time_vs_length.png", path.parent)
    try:
        path.write_text(replace_readme_section(path.read_text(encoding="utf-8"), headline(report, image)),
                        encoding="utf-8")
    except ValueError as error:
        raise UsageError(f"--readme {readme}: {error}") from None


def run_report(args: argparse.Namespace) -> int:
    report = load_bench_files(args.inputs)
    comparison = compare(report, load_bench_files([args.baseline])) if args.baseline else None
    if comparison is not None and not comparison:
        raise UsageError(f"--baseline {args.baseline}: no timing in it matches one of this run (same target and "
                         "B x L); nothing was compared")
    written = write_report(report, args.output, comparison=comparison, title=args.title)
    out = Output(plain=True if args.plain else None)
    for path in written:
        out.line(f"wrote {path}")
    if args.readme:
        update_readme(args.readme, report, args.output)
        out.line(f"updated {args.readme}")
    regressions = [change for change in comparison or [] if change.verdict == "regression"]
    for change in regressions:
        out.line(f"REGRESSION {change.target} {change.B}x{change.L}: {format_seconds(change.old_s)} -> "
                 f"{format_seconds(change.new_s)} ({(change.ratio - 1) * 100:+.0f} % bound-normalised, noise "
                 f"{change.noise * 100:.0f} %)", style="bold red")
    if args.json:
        write_json(args.json, {"files": written, "regressions": len(regressions),
                               "comparison": None if comparison is None else [c.to_json() for c in comparison]})
    return EXIT_FAILED if regressions else EXIT_PASSED


def add_commands(commands: Any) -> None:
    """``bench`` and ``report``: correctness-gated timings and their report."""
    bench = commands.add_parser(
        "bench", help="correctness-gated timings over a size grid, against the write bound measured alongside",
        description="Check each TARGET (seeded equivalence), then time it over a size grid against a fresh "
                    "allocation of its output written once (the bound). A TARGET that fails the check is not "
                    "timed and the exit status is 1. TARGET may end in @numpy or @torch to name its framework.")
    bench.add_argument("targets", metavar="TARGET", nargs="*", help="package.module:function[@framework]")
    bench.add_argument("--builtins", action="store_true",
                       help="time the built-in implementations and their baselines (what reports/ shows)")
    bench.add_argument("--framework", choices=("torch", "numpy"), default="torch",
                       help="framework of TARGETs without an @framework suffix (default torch)")
    bench.add_argument("--device", default="cpu", help="device for the inputs (cpu, cuda, ...)")
    bench.add_argument("--sizes", default=None, metavar="BxL,...",
                       help="size grid, e.g. 8x1024,2x4096; 'full' for the published grid "
                            "(default 8x256,8x512,8x1024,2x2048,2x4096)")
    bench.add_argument("--workload", default="pi05_subtask",
                       choices=("pi05_subtask", "causal", "bidirectional", "random"),
                       help="the (pad, att) layout timed (default pi05_subtask)")
    bench.add_argument("--min-time", type=seconds, default=0.2,
                       help="seconds of timed rounds per target and size, at least 5 rounds (default 0.2)")
    bench.add_argument("--threads", type=positive_int, default=None,
                       help="torch.set_num_threads for the run (default: torch's own choice)")
    bench.add_argument("--gate-examples", type=positive_int, default=30,
                       help="Hypothesis examples of the gate's equivalence check (default 30)")
    bench.add_argument("--isolation", choices=("process", "in-process"), default="process",
                       help="process (default): each TARGET is imported, called and timed in a worker process, "
                            "and checked in this one; in-process: all here (for debugging)")
    bench.add_argument("--json", metavar="PATH", help="write the results there (input of maskoracle report)")
    bench.add_argument("--report", metavar="DIR", help="also write the Markdown/HTML report into DIR")
    bench.add_argument("--readme", metavar="PATH",
                       help="with --report: put the headline plot and table between the speed markers of PATH")
    bench.add_argument("--plain", action="store_true")
    bench.set_defaults(handler=run_bench)

    report = commands.add_parser(
        "report", help="Markdown + self-contained HTML report with plots from bench JSON files",
        description="Render BENCH.json files (from maskoracle bench --json, or pytest-benchmark's "
                    "--benchmark-json) as DIR/README.md with PNG plots and DIR/report.html. With --baseline, "
                    "flag regressions beyond the run-to-run noise measured in both runs (exit 1 if any).")
    report.add_argument("inputs", metavar="BENCH.json", nargs="+")
    report.add_argument("-o", "--output", metavar="DIR", required=True, help="directory for the report")
    report.add_argument("--baseline", metavar="BENCH.json", help="an earlier run to compare with")
    report.add_argument("--title", default="maskoracle speed report")
    report.add_argument("--readme", metavar="PATH",
                        help="put the headline plot and table between the speed markers of this README")
    report.add_argument("--json", metavar="PATH", help="write the comparison and the files written there")
    report.add_argument("--plain", action="store_true")
    report.set_defaults(handler=run_report)
