"""The speed report: bench JSON (maskoracle's or pytest-benchmark's) -> Markdown + PNG plots + one HTML page.

    report = load_bench_files(["bench.json"])
    comparison = compare(report, load_bench_files(["old.json"]))
    files = write_report(report, "reports/", comparison=comparison)

The document is built once as a list of blocks (headings, paragraphs, tables, images) and rendered twice:
``README.md`` beside its PNGs, and ``report.html`` with the same plots embedded, so the page is one file.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..speed.bench import BenchReport, SizeTiming, TargetBench, format_bytes, format_seconds
from .markers import replace_between

# A change within max(NOISE_FACTOR x measured noise, MIN_CHANGE) of 1 is not flagged.
NOISE_FACTOR = 2.0
MIN_CHANGE = 0.10


# ----------------------------------------------------------------------------------------------- loading
def load_bench_files(paths: list[str]) -> BenchReport:
    """Read and merge bench JSON files; ``UsageError`` (one line) for a missing, unreadable or foreign file."""
    reports = [load_bench_file(path) for path in paths]
    merged = reports[0]
    for other in reports[1:]:
        merged.targets.extend(other.targets)
        merged.elapsed_s += other.elapsed_s
    merged.source = ", ".join(paths)
    return merged


def load_bench_file(path: str) -> BenchReport:
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text file") from None
    except RecursionError:  # nested deeper than any bench file
        raise UsageError(f"{path}: not a bench JSON file (nested too deeply)") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    except OSError as error:
        raise UsageError(f"{path}: cannot read: {error.strerror or error}") from None
    try:
        if isinstance(data, dict) and data.get("kind") == "maskoracle-bench":
            return BenchReport.from_json(data, path)
        if isinstance(data, dict) and isinstance(data.get("benchmarks"), list):
            return from_pytest_benchmark(data, path)
    except (KeyError, TypeError, ValueError) as error:
        raise UsageError(f"{path}: malformed bench JSON ({type(error).__name__}: {error})") from None
    raise UsageError(f"{path}: neither maskoracle bench JSON nor pytest-benchmark JSON")


def from_pytest_benchmark(data: dict[str, Any], source: str = "") -> BenchReport:
    """pytest-benchmark's ``--benchmark-json``: maskoracle speed tests keep their context in ``extra_info``;
    other benchmarks become one row each, with their times only."""
    machine = dict(data.get("machine_info") or {})
    targets: dict[tuple[str, str], TargetBench] = {}
    workload = "?"
    for benchmark in data["benchmarks"]:
        stats = benchmark["stats"]
        extra = (benchmark.get("extra_info") or {}).get("maskoracle")
        if extra:
            workload = extra.get("workload", workload)
            key = (extra["target"], extra.get("framework", "?"))
            timing = SizeTiming.from_json(extra["size"])
        else:
            key = (benchmark.get("fullname") or benchmark["name"], "pytest-benchmark")
            timing = SizeTiming(0, 0, "timed")
        timing.status = "timed"
        timing.best_s, timing.median_s = float(stats["min"]), float(stats["median"])
        timing.q1_s, timing.q3_s, timing.rounds = stats.get("q1"), stats.get("q3"), int(stats.get("rounds", 0))
        if key not in targets:
            gate = "equivalence passed in the same run" if extra else "no gate: not a maskoracle speed test"
            targets[key] = TargetBench(key[0], key[1], True, gate)
        targets[key].sizes.append(timing)
    for target in targets.values():
        target.sizes.sort(key=lambda size: (size.B, size.L))
    return BenchReport(machine, workload, machine.get("maskoracle_device", "?"), list(targets.values()), 0.0,
                       data.get("datetime", ""), source)


# -------------------------------------------------------------------------------------------- comparing
@dataclass
class Change:
    """One (target, B, L) timed in both runs. ``ratio`` > 1: slower now (times normalised by each run's bound)."""

    target: str
    B: int
    L: int
    old_s: float
    new_s: float
    ratio: float
    noise: float
    verdict: str  # "regression", "improvement", "same"

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def compare(new: BenchReport, old: BenchReport) -> list[Change]:
    """Changes against a saved run. Each time is divided by the write bound measured in its own run (so a
    slower or busier machine does not read as a regression); a change is flagged only beyond
    ``max(NOISE_FACTOR x noise, MIN_CHANGE)``, noise being the quadrature sum of both runs' relative
    interquartile ranges (of the target's rounds and of the bound's)."""
    before = {(target.target, size.B, size.L): size for target in old.targets for size in target.timed}
    changes = []
    for target in new.targets:
        for size in target.timed:
            previous = before.get((target.target, size.B, size.L))
            if previous is None or not previous.best_s or not size.best_s:
                continue
            new_value = size.ratio_to_bound or size.best_s
            old_value = previous.ratio_to_bound or previous.best_s
            if (size.ratio_to_bound is None) != (previous.ratio_to_bound is None):
                new_value, old_value = size.best_s, previous.best_s
            ratio = new_value / old_value
            noise = math.sqrt(size.noise ** 2 + previous.noise ** 2)
            threshold = max(NOISE_FACTOR * noise, MIN_CHANGE)
            verdict = "regression" if ratio > 1 + threshold else "improvement" if ratio < 1 / (1 + threshold) \
                else "same"
            changes.append(Change(target.target, size.B, size.L, previous.best_s, size.best_s, ratio, noise, verdict))
    return changes


# ------------------------------------------------------------------------------------------ the document
Block = tuple[Any, ...]


def _short(target: str) -> str:
    """``maskoracle.implementations.torch:block_causal`` -> ``torch:block_causal`` for legends and tables."""
    module, _, function = target.rpartition(":")
    if not module or "::" in target:  # a pytest node id is kept whole
        return target
    return f"{module.rsplit('.', 1)[-1]}:{function}"


def _reference(target: TargetBench, report: BenchReport) -> TargetBench | None:
    """The baseline a target is compared with: ``NAME_baseline``, else (for ``PREFIX_VARIANT``, such as
    ``block_causal_additive_unfused``) ``PREFIX_baseline``; in the same framework."""
    name = target.target.split("@")[0]
    for wanted in (name + "_baseline", name.rsplit("_", 1)[0] + "_baseline"):
        for other in report.targets:
            if other is not target and other.target.split("@")[0] == wanted and other.framework == target.framework:
                return other
    return None


def _size_label(size: SizeTiming) -> str:
    return f"{size.B}x{size.L}" if size.L else "-"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def document(report: BenchReport, comparison: list[Change] | None, title: str,
             images: dict[str, str]) -> list[Block]:
    blocks: list[Block] = [("h1", title)]
    machine = report.machine
    described = ", ".join(f"{key} {machine[key]}" for key in ("processor", "cpu_count", "torch_threads", "python",
                                                             "numpy", "torch", "cuda_device", "cpu_writer",
                                                             "load_average")
                          if key in machine)
    blocks.append(("p", f"Run {report.created or '?'} on {report.device}: {described or 'machine not recorded'}. "
                        f"Workload `{report.workload}`. Every time is the best of its rounds; **bound** is a fresh "
                        f"allocation of the same output written once, timed in the same rounds on the same "
                        f"machine, so `x bound` is how far a mask is from what writing its output costs here."))
    gated_out = [target for target in report.targets if not target.gate_passed]
    if gated_out:
        blocks.append(("h2", "Not timed: failed the correctness gate"))
        blocks.append(("table", ["target", "why"], [[f"`{t.target}`", t.gate_message] for t in gated_out]))
    if "time_vs_length" in images:
        blocks.append(("img", "time_vs_length", "time against L per implementation"))
    blocks += _summary_blocks(report)
    slopes = []
    for target in report.targets:
        bound_slopes, steep = target.slopes(bound=True), target.steep_slopes()
        for B, slope in target.slopes().items():
            bound_slope = bound_slopes.get(B)
            slopes.append([f"`{_short(target.target)}`", f"B={B}", f"{slope:.2f}",
                           "-" if bound_slope is None else f"{bound_slope:.2f}",
                           "**steeper than 2 and than the bound: a finding**" if B in steep else ""])
    if slopes:
        blocks.append(("h2", "Growth with L"))
        blocks.append(("p", "Log-log slope of time against L at fixed B. A materialised `[B, L, L]` mask costs "
                            "about 2; below 2 where fixed per-call costs still weigh at small sizes. The bound's "
                            "own slope shows what the memory system adds (outputs leaving the caches, fresh "
                            "allocations starting to cost page faults): only a slope steeper than both is a "
                            "finding about the implementation."))
        blocks.append(("table", ["implementation", "at", "slope", "the bound's slope", "finding"], slopes))
    for name, caption in (("ratio_to_bound", "time over the write bound (1 = as fast as writing the output)"),
                          ("memory", "peak memory of one call")):
        if name in images:
            blocks.append(("img", name, caption))
    if comparison is not None:
        blocks.append(("h2", "Against the saved baseline"))
        flagged = [change for change in comparison if change.verdict != "same"]
        blocks.append(("p", f"{len(comparison)} timings compared, {sum(c.verdict == 'regression' for c in comparison)} "
                            f"regressions, {sum(c.verdict == 'improvement' for c in comparison)} improvements beyond "
                            f"max({NOISE_FACTOR:g} x measured noise, {MIN_CHANGE:.0%}); times normalised by "
                            f"each run's bound."))
        blocks.append(("table", ["implementation", "B x L", "before", "now", "change (bound-normalised)", "noise",
                                 "verdict"],
                       [[f"`{_short(c.target)}`", f"{c.B}x{c.L}", format_seconds(c.old_s), format_seconds(c.new_s),
                         f"{(c.ratio - 1) * 100:+.0f} %", f"{c.noise * 100:.0f} %",
                         c.verdict.upper() if c.verdict == "regression" else c.verdict]
                        for c in (flagged or comparison)]))
    blocks += _detail_blocks(report)
    gates = [[f"`{t.target}`", t.framework, "passed" if t.gate_passed else "FAILED", t.gate_message]
             for t in report.targets]
    blocks.append(("h2", "Correctness gate"))
    blocks.append(("table", ["target", "framework", "gate", "detail"], gates))
    if report.source:
        blocks.append(("p", f"Source: `{report.source}`."))
    return blocks


def _summary_blocks(report: BenchReport) -> list[Block]:
    """The summary table: each size's time, bound, ratio and speed-up over its baseline."""
    blocks: list[Block] = []
    blocks.append(("h2", "Summary"))
    rows = []
    for target in report.targets:
        reference = _reference(target, report)
        for size in target.sizes:
            if size.status != "timed":
                rows.append([f"`{_short(target.target)}`", _size_label(size), size.status, "-", "-", "-", "-",
                             size.message])
                continue
            speedup = "-"
            if reference is not None:
                match = next((s for s in reference.timed if (s.B, s.L) == (size.B, size.L)), None)
                if match is not None and match.best_s and size.best_s:
                    speedup = f"{match.best_s / size.best_s:.1f}x"
            rows.append([f"`{_short(target.target)}`", _size_label(size), format_seconds(size.best_s),
                         format_seconds(size.bound_best_s), _ratio(size.ratio_to_bound), speedup,
                         format_bytes(size.peak_memory_bytes), size.output])
    blocks.append(("table", ["implementation", "B x L", "time", "bound", "x bound", "faster than its baseline",
                             "peak memory", "output"], rows))
    return blocks


def _detail_blocks(report: BenchReport) -> list[Block]:
    """The details table: bytes written, write rate, median, noise and methods."""
    blocks: list[Block] = []
    blocks.append(("h2", "Details"))
    detail_rows = []
    for target in report.targets:
        for size in target.timed:
            rate = size.bytes_written / size.best_s / 1e9 if size.best_s and size.bytes_written else None
            detail_rows.append([f"`{_short(target.target)}`", _size_label(size), format_bytes(size.bytes_written),
                                "-" if rate is None else f"{rate:.1f} GB/s", format_seconds(size.median_s),
                                f"{size.noise * 100:.0f} %", str(size.rounds), size.bound_method or "-",
                                size.memory_method or "-"])
    blocks.append(("table", ["implementation", "B x L", "bytes written", "write rate", "median", "noise (IQR)",
                             "rounds", "bound by", "memory by"], detail_rows))
    return blocks


HEADLINE_SIZES = ((8, 1024), (2, 4096))
README_START, README_END = "<!-- speed:start -->", "<!-- speed:end -->"


def headline(report: BenchReport, image: str) -> str:
    """The README's excerpt: the time-against-L plot and the summary rows at the issue's sizes."""
    blocks = document(report, None, "", {"time_vs_length": image})
    summary = next(block for block in blocks if block[0] == "table" and block[1][0] == "implementation")
    wanted = {f"{B}x{L}" for B, L in HEADLINE_SIZES}
    rows = [row for row in summary[2] if row[1] in wanted] or summary[2]
    machine = report.machine
    text = (f"From `{report.source or 'bench'}` ({report.created}, {machine.get('processor', '?')}, "
            f"{machine.get('cpu_count', '?')} cores, torch threads {machine.get('torch_threads', '-')}, CPU rows "
            f"written by {machine.get('cpu_writer', '?')}, load {machine.get('load_average', '?')}; workload "
            f"`{report.workload}`):")
    return "\n".join([text, "", f"![time against L per implementation]({image})", "",
                       to_markdown([("table", summary[1][:6], [row[:6] for row in rows])], {})]).rstrip() + "\n"


def replace_readme_section(text: str, section: str) -> str:
    """``text`` with what lies between the speed markers replaced by ``section``."""
    return replace_between(text, README_START, README_END, section)


def to_markdown(blocks: list[Block], images: dict[str, str]) -> str:
    lines: list[str] = []
    for block in blocks:
        kind = block[0]
        if kind == "h1":
            lines += [f"# {block[1]}", ""]
        elif kind == "h2":
            lines += [f"## {block[1]}", ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "img":
            lines += [f"![{block[2]}]({images[block[1]]})", ""]
        elif kind == "table":
            header, rows = block[1], block[2]
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "|".join("---" for _ in header) + "|")
            lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
            lines.append("")
    return "\n".join(lines)


def _inline(text: str) -> str:
    """Markdown's `code` and **bold** as HTML, the rest escaped."""
    parts = html.escape(text).split("`")
    out = "".join(f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts))
    pieces = out.split("**")
    return "".join(f"<strong>{piece}</strong>" if index % 2 else piece for index, piece in enumerate(pieces))


def to_html(blocks: list[Block], pngs: dict[str, bytes], title: str) -> str:
    body: list[str] = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{_inline(block[1])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{_inline(block[1])}</p>")
        elif kind == "img":
            data = base64.b64encode(pngs[block[1]]).decode("ascii")
            body.append(f'<figure><img alt="{html.escape(block[2])}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{html.escape(block[2])}</figcaption></figure>")
        elif kind == "table":
            header = "".join(f"<th>{_inline(cell)}</th>" for cell in block[1])
            rows = "".join("<tr>" + "".join(f"<td>{_inline(str(cell))}</td>" for cell in row) + "</tr>"
                           for row in block[2])
            body.append(f"<table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px;"
             "text-align:left}th{background:#f3f3f3}tr:nth-child(even){background:#fafafa}code{background:#f3f3f3;"
             "padding:1px 3px}img{max-width:100%}figcaption{color:#666;font-size:13px}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


# --------------------------------------------------------------------------------------------- plotting
def plot_pngs(report: BenchReport) -> dict[str, bytes]:
    """The report's figures as PNG bytes: ``time_vs_length``, ``ratio_to_bound``, ``memory``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("maskoracle report needs matplotlib: pip install 'maskoracle[report]'") from None
    import io

    targets = [target for target in report.targets if any(size.L for size in target.timed)]
    if not targets:
        return {}
    colors = {target.target: f"C{index % 10}" for index, target in enumerate(targets)}
    figures: dict[str, Any] = {}

    batch_sizes = sorted({size.B for target in targets for size in target.timed if size.L})
    plotted = [B for B in batch_sizes if len({s.L for t in targets for s in t.timed if s.B == B}) >= 2] or batch_sizes
    figure, axes = plt.subplots(1, len(plotted), figsize=(5.5 * len(plotted), 4.2), squeeze=False)
    for axis, B in zip(axes[0], plotted, strict=True):
        for target in targets:
            points = sorted((s.L, s.best_s, s.bound_best_s) for s in target.timed if s.B == B and s.best_s)
            if not points:
                continue
            lengths = [p[0] for p in points]
            axis.plot(lengths, [p[1] * 1e3 for p in points], "o-", color=colors[target.target],
                      label=_short(target.target))
            bounds = [(p[0], p[2] * 1e3) for p in points if p[2]]
            if bounds:
                axis.plot([b[0] for b in bounds], [b[1] for b in bounds], "--", color=colors[target.target],
                          alpha=0.45, linewidth=1)
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_xlabel("L (tokens)")
        axis.set_ylabel("time per call (ms, best of rounds)")
        axis.set_title(f"B = {B}   (dashed: the write bound of each output)")
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    figures["time_vs_length"] = figure

    labels = sorted({(s.B, s.L) for t in targets for s in t.timed if s.L}, key=lambda size: (size[0] * size[1] ** 2, size))
    width = 0.8 / len(targets)
    for name, value, ylabel in (
        ("ratio_to_bound", lambda s: s.ratio_to_bound, "time / write bound (log)"),
        ("memory", lambda s: (s.peak_memory_bytes / 2**20) if s.peak_memory_bytes else None, "peak memory (MiB)"),
    ):
        figure, axis = plt.subplots(figsize=(max(7.0, 1.1 * len(labels) * max(1, len(targets)) / 2.5), 4.2))
        for index, target in enumerate(targets):
            by_size = {(s.B, s.L): value(s) for s in target.timed}
            xs = [i + (index - (len(targets) - 1) / 2) * width for i in range(len(labels))]
            heights = [by_size.get(label) or 0 for label in labels]
            axis.bar(xs, heights, width, color=colors[target.target], label=_short(target.target))
        if name == "ratio_to_bound":
            axis.axhline(1.0, color="black", linewidth=1)
            axis.axhline(1.5, color="black", linewidth=1, linestyle=":", label="1.5 x bound")
        else:
            output_mib: dict[tuple[int, int], float] = {}
            for target in targets:
                for s in target.timed:
                    output_mib[(s.B, s.L)] = max(output_mib.get((s.B, s.L), 0), s.bytes_written / 2**20)
            axis.plot(range(len(labels)), [output_mib.get(label, 0) for label in labels], "k_", markersize=30,
                      label="largest output's size")
        axis.set_yscale("log")
        axis.set_xticks(range(len(labels)), [f"{B}x{L}" for B, L in labels])
        axis.set_xlabel("B x L")
        axis.set_ylabel(ylabel)
        axis.grid(True, axis="y", which="both", alpha=0.3)
        axis.legend(fontsize=8)
        figures[name] = figure

    pngs = {}
    for name, figure in figures.items():
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110)
        plt.close(figure)
        pngs[name] = buffer.getvalue()
    return pngs


def write_report(report: BenchReport, directory: str, *, comparison: list[Change] | None = None,
                 title: str = "maskoracle speed report") -> list[str]:
    """Write ``README.md``, its PNGs and ``report.html`` into ``directory``; the paths written."""
    out = Path(directory)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"-o {directory}: cannot create: {error.strerror or error}") from None
    pngs = plot_pngs(report)
    images = {name: f"{name}.png" for name in pngs}
    blocks = document(report, comparison, title, images)
    written = []
    try:
        for name, data in pngs.items():
            (out / images[name]).write_bytes(data)
            written.append(str(out / images[name]))
        (out / "README.md").write_text(to_markdown(blocks, images), encoding="utf-8")
        (out / "report.html").write_text(to_html(blocks, pngs, title), encoding="utf-8")
    except OSError as error:
        raise UsageError(f"-o {directory}: cannot write: {error.strerror or error}") from None
    written += [str(out / "README.md"), str(out / "report.html")]
    return written
