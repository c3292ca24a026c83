"""Rendering check reports and masks for people: plain text when piped, rich (colour, boxes) on a terminal."""

from __future__ import annotations

import shlex
import sys
from typing import Any, TextIO

import numpy as np

from ..checking.results import CheckReport, CheckResult, Counterexample, SplitCounterexample
from ..options import reproduce_arguments
from ..oracle import block_ids
from .kv_cache import split_comparison_lines, split_input_lines
from .tables import (
    format_bits,
    mask_table,
    render_comparison_rich,
    render_comparison_text,
    render_rich,
    render_text,
    row_expression,
)


class Output:
    """Where text goes: a rich console on a terminal (if rich is installed), plain lines otherwise."""

    def __init__(self, stream: TextIO | None = None, *, plain: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        use_rich = not plain if plain is not None else self.stream.isatty()
        self.console: Any = None
        if use_rich:
            try:
                from rich.console import Console
            except ImportError:
                pass
            else:
                self.console = Console(file=self.stream, highlight=False)

    @property
    def rich(self) -> bool:
        return self.console is not None

    def line(self, text: str = "", style: str | None = None) -> None:
        if self.console is not None:
            self.console.print(text, style=style, markup=False)
        else:
            print(text, file=self.stream)

    def renderable(self, renderable: Any, plain: str) -> None:
        if self.console is not None:
            self.console.print(renderable)
        else:
            print(plain, file=self.stream)


def _status_mark(result: CheckResult) -> str:
    return {"passed": "✓", "failed": "✗", "skipped": "-"}[result.status]


def render_summary(report: CheckReport, out: Output) -> None:
    """One line per check: mark, name, examples, seconds, message."""
    verdict = "PASSED" if report.passed else "FAILED"
    seed = report.options.get("seed")
    header = f"maskoracle check {report.target}  spec={report.spec}  {verdict} in {report.elapsed_s:.2f} s" + \
        ("" if seed is None else f"  seed={seed}")
    if out.rich:
        from rich.table import Table

        table = Table(title=header, title_justify="left", show_lines=False)
        for column in ("", "check", "examples", "seconds", "message"):
            table.add_column(column, justify="right" if column in ("examples", "seconds") else "left")
        for result in report.checks:
            style = {"passed": "green", "failed": "bold red", "skipped": "dim"}[result.status]
            table.add_row(_status_mark(result), result.name, str(result.examples), f"{result.seconds:.2f}",
                          result.message.splitlines()[0][:100] if result.message else "", style=style)
        out.console.print(table)
        return
    out.line(header)
    width = max(len(result.name) for result in report.checks) if report.checks else 10
    for result in report.checks:
        message = result.message.splitlines()[0] if result.message else ""
        out.line(f"  {_status_mark(result)} {result.name:<{width}}  {result.examples:>6} ex  "
                 f"{result.seconds:6.2f} s  {message}")


def render_failure(report: CheckReport, result: CheckResult, out: Output) -> None:
    """A failed check: its name and message, the shrunk input, expected vs actual tables, how to reproduce."""
    out.line()
    out.line(f"✗ {result.name}: {result.message}", style="bold red")
    if result.description:
        out.line(f"  ({result.description})")
    example = result.counterexample
    if example is None:
        return
    if isinstance(example, SplitCounterexample):
        _render_split_failure(report, example, out)
        return
    B, L = example.shape
    out.line(f"  counterexample [B, L] = [{B}, {L}]" + (f"; {example.note}" if example.note else ""))
    # A group-rule layout check (maskoracle.layout_checking) feeds segment ids where att would be.
    segment_names = report.options.get("segments") if report.options.get("group_rule") else None
    for b in range(B):
        out.line(f"    pad[{b}] = {_bits_for_display(example.pad[b])}")
        if segment_names:
            out.line(f"    segment_ids[{b}] = {' '.join(str(int(k)) for k in example.att[b])}")
        else:
            out.line(f"    att[{b}] = {_bits_for_display(example.att[b])}")
    if example.expected is not None and example.actual is not None:
        cells = example.differing_cells()
        batch = cells[0][0] if cells else 0
        compared = example.compared_rows[batch] if example.compared_rows is not None else None
        if B > 1:
            out.line(f"  batch entry {batch}, expected (the oracle, spec {report.spec}) vs actual:")
        else:
            out.line(f"  expected (the oracle, spec {report.spec}) vs actual:")
        args = (example.expected[batch], example.actual[batch], example.pad[batch], example.att[batch])
        labels = None
        if segment_names:
            labels = [segment_names[int(k)] for k in example.att[batch]]
            args = (*args[:3], np.zeros(L, dtype=bool))
        out.renderable(render_comparison_rich(*args, compared_rows=compared, labels=labels) if out.rich else None,
                       render_comparison_text(*args, compared_rows=compared, labels=labels))
    elif example.expected is not None:
        out.line("  (no mask came back to compare)")
    if segment_names:
        out.line(f"  reproduce: the same check with --seed {report.options.get('seed')}")
        return
    out.line("  reproduce:")
    out.line("    " + reproduce_command(report))
    out.line("  or in Python:")
    for line in reproduce_snippet(report, example).splitlines():
        out.line("    " + line)


def _render_split_failure(report: CheckReport, example: SplitCounterexample, out: Output) -> None:
    """A KV-cache or incremental counterexample: the split inputs and S x (P+S) tables (reports/split.py)."""

    for line in split_input_lines(example.pad, example.att, example.split, example.kind):
        out.line("  " + line)
    if example.note:
        out.line(f"  ({example.note})")
    if example.expected is not None and example.actual is not None:
        cells = example.differing_cells()
        batch = cells[0][0] if cells else 0
        if example.shape[0] > 1:
            out.line(f"  batch entry {batch}:")
        compared = example.compared_rows[batch] if example.compared_rows is not None else None
        for line in split_comparison_lines(example.expected[batch], example.actual[batch], example.pad[batch],
                                           example.att[batch], example.split, example.query_offset,
                                           kind=example.kind, compared_rows=compared):
            out.line("  " + line)
    elif example.expected is not None:
        out.line("  (no mask came back to compare)")
    out.line("  reproduce:")
    out.line("    " + reproduce_command(report))
    out.line("  or in Python:")
    for line in reproduce_snippet(report, example).splitlines():
        out.line("    " + line)


def _bits_for_display(row: np.ndarray) -> str:
    text = format_bits(row)
    return text if len(text) <= 64 else f"{row_expression(row)}  (L = {len(text)})"


def render_report(report: CheckReport, out: Output) -> None:
    """The summary, then every failed check, smallest counterexample first (the easiest one to read)."""
    render_summary(report, out)
    order = {result.name: position for position, result in enumerate(report.checks)}

    def size(result: CheckResult) -> tuple[int, int, int]:
        example = result.counterexample
        B, L = example.shape if example is not None else (0, 0)
        return (L, B, order[result.name])

    for result in sorted(report.failed, key=size):
        render_failure(report, result, out)


def reproduce_command(report: CheckReport) -> str:
    """A ``maskoracle check`` command line that repeats this run (same seed, same non-default options)."""
    parts = ["maskoracle", "check", report.target]
    if report.spec != "block_causal":
        parts += ["--spec", report.spec]
    parts += reproduce_arguments(report.options)
    return shlex.join(parts)


def reproduce_snippet(report: CheckReport, example: Counterexample) -> str:
    """Copy-paste Python that rebuilds the counterexample and compares the target with the oracle."""
    framework = report.options.get("framework", "torch")
    att_dtype = report.options.get("att_dtype", "bool")
    device = report.options.get("device", "cpu")
    kind = report.options.get("kind", "mask")
    pad_queries = report.options.get("pad_queries", "masked")
    pad_rows = ", ".join(row_expression(row) for row in example.pad)
    att_rows = ", ".join(row_expression(row) for row in example.att)
    lines = [
        "import numpy as np",
        "from maskoracle.targets import load_target",
        f"fn = load_target({report.target!r})",
        f"pad = np.array([[c == '1' for c in row] for row in [{pad_rows}]])",
        f"att = np.array([[c == '1' for c in row] for row in [{att_rows}]])",
    ]
    if report.options.get("kind", "mask") in ("mask_mod", "block_mask"):  # materialised as the check does
        lines.insert(3, "from maskoracle.adapters.flex import wrap_kind")
        lines.insert(5, f"fn = wrap_kind(fn, {report.options['kind']!r})")
    if framework == "torch":
        lines.insert(0, "import torch")

        def build(name: str, dtype: str) -> str:
            return f"torch.from_numpy({name}).to({device!r}, torch.{dtype})"
    elif framework == "jax":
        lines[:0] = ["import jax", "import jax.numpy as jnp"]

        def build(name: str, dtype: str) -> str:
            return f"jax.device_put(jnp.asarray({name}, jnp.{dtype}), jax.devices({device.split(':')[0]!r})[0])"
    else:
        def build(name: str, dtype: str) -> str:
            return name if dtype == "bool" else f"{name}.astype({dtype!r})"
    if isinstance(example, SplitCounterexample) and kind == "kv_cache":
        split = example.split
        lines += [
            "from maskoracle.oracle.kv_cache import kv_cache_mask",
            f"prefix_pad, suffix_pad, suffix_att = pad[:, :{split}], pad[:, {split}:], att[:, {split}:]",
            f"expected = kv_cache_mask(prefix_pad, suffix_pad, suffix_att, pad_queries={pad_queries!r})",
            f"actual = fn({build('prefix_pad', 'bool')}, {build('suffix_pad', 'bool')}, "
            f"{build('suffix_att', att_dtype)})",
        ]
    elif isinstance(example, SplitCounterexample):
        lines += [
            "from maskoracle.oracle.kv_cache import incremental_row",
            "expected = incremental_row(pad, att)[:, None, :]  # the last row of the full mask",
            f"actual = fn({build('pad', 'bool')}, {build('att', att_dtype)})",
        ]
    else:
        lines += [
            "from maskoracle import reference_mask",
            f"expected = reference_mask(pad, att, spec={report.spec!r}, pad_queries={pad_queries!r})",
            f"actual = fn({build('pad', 'bool')}, {build('att', att_dtype)})",
        ]
    lines.append("print(expected.astype(int)); print(actual)")
    return "\n".join(lines)


def render_mask(mask: np.ndarray, pad: np.ndarray, att: np.ndarray, out: Output, *, title: str,
                labels: list[str] | None = None, other: np.ndarray | None = None,
                compared_rows: np.ndarray | None = None) -> None:
    """One batch entry's mask as a ✓/✗ table (cells that differ from ``other`` marked)."""
    table = mask_table(mask, pad, att, title=title, labels=labels, other=other, compared_rows=compared_rows)
    out.renderable(render_rich(table) if out.rich else None, render_text(table))


def block_line(att: np.ndarray) -> str:
    return " ".join(str(block) for block in block_ids([list(map(bool, att))])[0])
