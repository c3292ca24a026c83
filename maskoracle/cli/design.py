"""The layout-design commands: ``leaks``, ``diff`` and the ``--png`` pictures (``explain`` included)."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..adapters import FRAMEWORKS
from ..design.diff import diff
from ..errors import UsageError
from ..layouts import load_layout
from ..options import integer, positive_int, seconds
from ..oracle import PAD_QUERY_POLICIES, SPECS, Leak, find_leaks, reachability, reference_mask
from ..reports.pictures import Panel, save_mask_png
from ..reports.tables import format_bits, render_comparison_rich, render_comparison_text, row_expression
from ..reports.terminal import Output, block_line, render_mask
from ..strategies import ATT_DTYPES, LAYOUTS, PADDINGS
from .io import EXIT_FAILED, EXIT_PASSED, pad_att_from_args, write_json


def token_names(labels: list[str] | None, L: int) -> list[str]:
    """How leaks name tokens: the label, with the index appended where a label is not unique (``IMG0``)."""
    if labels is None:
        return [str(k) for k in range(L)]
    return [label if labels.count(label) == 1 else f"{label}{k}" for k, label in enumerate(labels)]


def _labels(text: str | None, L: int) -> list[str] | None:
    if not text:
        return None
    labels = [label.strip() for label in text.split(",")]
    if len(labels) != L:
        raise UsageError(f"--labels has {len(labels)} names for {L} tokens")
    return labels


def _int_list(text: str, option: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"{option}: expected comma-separated integers, got {text!r}") from None


def layout_instance(args: argparse.Namespace) -> tuple[Any, Any]:
    """``--layout`` with ``--lengths``/``--real`` -> ``(layout, one instance of it)``, for ``leaks`` and
    ``explain``; ``UsageError`` for a bad value or for ``--pad``/``--att`` given too."""
    if args.pad is not None or args.att is not None:
        raise UsageError("give either --layout or --pad/--att, not both")
    layout = load_layout(args.layout)
    lengths = _int_list(args.lengths, "--lengths") if args.lengths else \
        [max(segment.min_length, min(segment.longest, 2)) for segment in layout.segments]
    real = _int_list(args.real, "--real") if args.real else None
    try:
        return layout, layout.instance(lengths, real)
    except ValueError as error:
        raise UsageError(f"--layout {args.layout}: {error}") from None


# --- leaks -------------------------------------------------------------------------------------------------

# The loop oracle and the path search are written to be read, not to be fast: beyond these lengths a command
# would run for minutes, so it says so at once (the checks of long inputs are `maskoracle check`'s business).
EXPLAIN_MAX_TOKENS = 512
LEAKS_MAX_TOKENS = 400


def within_limit(tokens: int, limit: int, command: str) -> None:
    """``UsageError`` for an input longer than ``command`` answers in seconds."""
    if tokens > limit:
        raise UsageError(f"{tokens} tokens is more than {command} takes ({limit}): it shows or searches every "
                         f"(query, key) pair; try a shorter instance (--lengths) or check long inputs with "
                         "maskoracle check")


def leaks_input(args: argparse.Namespace) -> dict[str, Any]:
    """The mask to analyse: from ``--pad/--att/--spec``, or from ``--layout`` (an instance of it)."""
    if args.layout:
        layout, instance = layout_instance(args)
        within_limit(instance.length, LEAKS_MAX_TOKENS, "maskoracle leaks")
        pad = np.array([instance.pad], dtype=bool)
        if args.spec:
            if instance.att is None:
                raise UsageError(f"--spec {args.spec}: layout {layout.name!r} has no (pad, att) form: "
                                 f"{layout.compiled.reason}")
            att = np.array([instance.att], dtype=bool)
            mask = reference_mask(pad, att, spec=args.spec, pad_queries=args.pad_queries)
            spec = args.spec
        else:
            att = np.array([instance.att if instance.att is not None else instance.segment_ids])
            mask = reference_mask(pad, np.array([instance.segment_ids]), spec=layout, pad_queries=args.pad_queries)
            spec = f"group rule of layout {layout.name}"
        labels = instance.labels
        segments = [layout.segments[k].name for k in instance.segment_ids]
        return {"pad": pad, "att": att, "mask": mask, "spec": spec, "labels": labels, "segments": segments,
                "layout": layout, "has_att": instance.att is not None}
    pad, att = pad_att_from_args(args)
    within_limit(pad.shape[1], LEAKS_MAX_TOKENS, "maskoracle leaks")
    spec = args.spec or "block_causal"
    mask = reference_mask(pad, att, spec=spec, pad_queries=args.pad_queries)
    return {"pad": pad, "att": att, "mask": mask, "spec": spec, "labels": _labels(args.labels, pad.shape[1]),
            "segments": None, "layout": None, "has_att": True}


def leak_to_json(leak: Leak, names: list[str] | None, segments: list[str] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"batch": leak.batch, "reader": leak.reader, "source": leak.source,
                             "path": list(leak.path), "layers": leak.layers, "shortest_paths": leak.shortest_paths}
    if names is not None:
        entry.update(reader_label=names[leak.reader], source_label=names[leak.source],
                     path_labels=[names[token] for token in leak.path])
    if segments is not None:
        entry.update(reader_segment=segments[leak.reader], source_segment=segments[leak.source],
                     path_segments=[segments[token] for token in leak.path])
    return entry


def run_leaks(args: argparse.Namespace) -> int:
    found = leaks_input(args)
    pad, att, mask = found["pad"], found["att"], found["mask"]
    B, L = pad.shape
    layers = args.layers if args.layers is not None else max(1, L)
    leaks = find_leaks(mask, pad, layers)
    reach = reachability(mask, pad, layers)
    names = token_names(found["labels"], L) if found["labels"] is not None else None
    shown = names or [str(k) for k in range(L)]
    out = Output(plain=True if args.plain else None)
    depth = f"{layers} layer{'s' if layers > 1 else ''}" + (" (every path)" if args.layers is None else "")
    out.line(f"maskoracle leaks: spec {found['spec']}, {depth}")
    if found["layout"] is not None:
        out.line(found["layout"].describe())
    for b in range(B):
        if found["has_att"] and found["layout"] is None:
            out.line(f"batch {b}: pad {format_bits(pad[b])}  att {format_bits(att[b])}  blocks {block_line(att[b])}")
        else:
            out.line(f"batch {b}: pad {format_bits(pad[b])}")
        titles = ("one layer", f"after {layers} layers")
        table_args = (mask[b], reach[b], pad[b], att[b] if found["has_att"] else np.zeros(L, dtype=bool))
        options: dict[str, Any] = {"compared_rows": pad[b], "labels": found["labels"], "titles": titles}
        out.renderable(render_comparison_rich(*table_args, **options) if out.rich else None,
                       render_comparison_text(*table_args, **options))
        out.line()
    if not leaks:
        out.line(f"no leak: no real token reads, within {layers} layers, a token that one layer forbids it",
                 style="bold green")
    else:
        out.line(f"{len(leaks)} leak{'s' if len(leaks) > 1 else ''} (shortest path first; information flows "
                 "source -> ... -> reader):", style="bold red")
        for leak in leaks[:args.limit]:
            flow = " -> ".join(shown[token] for token in reversed(leak.path))
            segment_note = ""
            if found["segments"] is not None:
                segment_note = f"  [{found['segments'][leak.source]} reaches {found['segments'][leak.reader]}]"
            out.line(f"  batch {leak.batch}: {shown[leak.reader]} (token {leak.reader}) may not read "
                     f"{shown[leak.source]} (token {leak.source}) but does after {leak.layers} layers: "
                     f"{flow}   path {list(leak.path)}{segment_note}" +
                     (f" ({leak.shortest_paths} shortest paths)" if leak.shortest_paths > 1 else ""))
        if len(leaks) > args.limit:
            out.line(f"  ... and {len(leaks) - args.limit} more (all of them in --json)")
    if args.json:
        payload: dict[str, Any] = {
            "spec": found["spec"], "layers": layers, "pad_queries": args.pad_queries,
            "leaks": [leak_to_json(leak, names, found["segments"]) for leak in leaks],
            "pad": pad.astype(int).tolist(), "att": att.astype(int).tolist() if found["has_att"] else None,
            "mask": mask.astype(int).tolist(), "reach": reach.astype(int).tolist(),
            "labels": found["labels"], "segments": found["segments"],
        }
        if found["layout"] is not None:
            payload["layout"] = found["layout"].name
            payload["segment_ids"] = att.astype(int).tolist() if not found["has_att"] else None
        write_json(args.json, payload)
    if args.png:
        b = leaks[0].batch if leaks else 0
        opened = reach[b] & ~mask[b]
        path_note = []
        if leaks:
            path_note = ["first leak " + " -> ".join(shown[t] for t in reversed(leaks[0].path))]
        save_mask_png(args.png, [Panel(f"one layer ({found['spec']})", mask[b]),
                                 Panel(f"readable after {layers} layers", reach[b], opened, "leak (forbidden in one "
                                       "layer, read through layers)", path_note)],
                      pad[b], labels=found["labels"], title=f"maskoracle leaks, batch {b}")
        out.line(f"picture written to {args.png}")
    return EXIT_FAILED if leaks else EXIT_PASSED


# --- diff --------------------------------------------------------------------------------------------------

def run_diff(args: argparse.Namespace) -> int:
    out = Output(plain=True if args.plain else None)
    result = diff(args.a, args.b, framework=args.framework, device=args.device, layout=args.layout,
                  padding=args.padding, pad_queries=args.pad_queries, att_dtype=args.att_dtype,
                  exhaustive_length=args.exhaustive_length, max_examples=args.max_examples, seed=args.seed,
                  timeout=args.timeout, isolation=args.isolation)
    searched = ", ".join(f"{key} {value}" for key, value in result.searched.items())
    out.line(f"maskoracle diff: A = {result.a}, B = {result.b} (searched: {searched}; {result.elapsed_s:.2f} s)")
    if not result.differ:
        out.line(f"no difference found: {result.message}", style="bold green")
    else:
        assert result.pad is not None and result.att is not None
        out.line(f"they differ: {result.message}", style="bold red")
        B, L = result.pad.shape
        for b in range(B):
            if L <= 64:
                out.line(f"  pad[{b}] = {format_bits(result.pad[b])}   att[{b}] = {format_bits(result.att[b])}   "
                         f"blocks {block_line(result.att[b])}")
            else:
                out.line(f"  pad[{b}] = {row_expression(result.pad[b])}   att[{b}] = {row_expression(result.att[b])}"
                         f"   (L = {L}, {int(result.att[b].sum())} att ones)")
        cells = result.differing_cells()
        b = cells[0][0] if cells else 0
        if result.mask_a is not None and result.mask_b is not None:
            compared = result.pad[b] if args.pad_queries == "free" else None
            table_args = (result.mask_a[b], result.mask_b[b], result.pad[b], result.att[b])
            options: dict[str, Any] = {"compared_rows": compared, "titles": (f"A: {result.a}", f"B: {result.b}")}
            out.renderable(render_comparison_rich(*table_args, **options) if out.rich else None,
                           render_comparison_text(*table_args, **options))
        if L <= 64:
            out.line("see it: maskoracle explain --pad " + ",".join(format_bits(r) for r in result.pad) +
                     " --att " + ",".join(format_bits(r) for r in result.att))
        if args.png and result.mask_a is not None and result.mask_b is not None:
            differ = result.mask_a[b] != result.mask_b[b]
            if args.pad_queries == "free":
                differ &= result.pad[b][:, None]
            first = [int(x) for x in np.argwhere(differ)[0]] if differ.any() else None
            notes = [f"{int(differ.sum())} differing cell(s), first (query, key) = {tuple(first)}"] if first else []
            save_mask_png(args.png, [Panel(f"A: {result.a}", result.mask_a[b]),
                                     Panel(f"B: {result.b}", result.mask_b[b], differ, "differs from A", notes)],
                          result.pad[b], title=f"maskoracle diff: pad {row_expression(result.pad[b])}, "
                                               f"att {row_expression(result.att[b])}")
            out.line(f"picture written to {args.png}")
    if args.json:
        write_json(args.json, result.to_json())
    return EXIT_FAILED if result.differ else EXIT_PASSED


# --- explain --png -----------------------------------------------------------------------------------------

def explain_png(path: str, pad: np.ndarray, att: np.ndarray, mask: np.ndarray, other: np.ndarray | None,
                spec: str, vs: str | None, labels: list[str] | None) -> None:
    """The first batch entry's mask (and the ``--vs`` spec's, with the differing cells marked) as a PNG."""
    panels = [Panel(f"spec {spec}", mask[0])]
    if other is not None and vs is not None:
        panels.append(Panel(f"spec {vs}", other[0], other[0] != mask[0], f"differs from {spec}"))
    save_mask_png(path, panels, pad[0], labels=labels,
                  title=f"pad {format_bits(pad[0])}, att {format_bits(att[0])}, blocks {block_line(att[0])}")


def run_explain_layout(args: argparse.Namespace) -> int:
    """``explain --layout``: a layout's segments, whether it compiles to ``(pad, att)`` (or why not), and the
    mask of one instance with segment labels; ``--vs SPEC`` compares it with that spec on the compiled att."""
    layout, instance = layout_instance(args)
    within_limit(instance.length, EXPLAIN_MAX_TOKENS, "maskoracle explain")
    out = Output(plain=True if args.plain else None)
    pad = np.array([instance.pad], dtype=bool)
    mask = reference_mask(pad, np.array([instance.segment_ids]), spec=layout, pad_queries=args.pad_queries)
    att_row = np.array(instance.att if instance.att is not None else [False] * instance.length, dtype=bool)
    out.line(f"layout {layout.name}" + (f": {layout.description}" if layout.description else ""))
    out.line(layout.describe())
    if layout.compiled.expressible:
        out.line(f"compiles to (pad, att): att {format_bits(att_row)}, blocks {block_line(att_row)}")
    else:
        out.line(f"no (pad, att) expresses it: {layout.compiled.reason}. Check implementations with "
                 f"--spec {args.layout} (they get pad_masks and segment_ids).")
    out.line(f"instance: segment lengths {list(instance.lengths)}, pad {format_bits(pad[0])}")
    other = None
    if args.vs:
        if instance.att is None:
            raise UsageError(f"--vs {args.vs}: layout {layout.name!r} has no att row to apply a spec to")
        other = reference_mask(pad, att_row[None], spec=args.vs, pad_queries=args.pad_queries)
    render_mask(mask[0], pad[0], att_row, out, title=f"group rule of {layout.name}", labels=instance.labels)
    if other is not None:
        out.line()
        render_mask(other[0], pad[0], att_row, out, labels=instance.labels, other=mask[0],
                    title=f"spec {args.vs} on the compiled att (cells that differ from the layout marked)")
    if args.json:
        write_json(args.json, {
            "spec": f"group rule of layout {layout.name}", "layout": layout.name,
            "expressible": layout.compiled.expressible, "reason": layout.compiled.reason,
            "segments": [segment.name for segment in layout.segments], "lengths": list(instance.lengths),
            "pad": pad.astype(int).tolist(), "att": None if instance.att is None else [att_row.astype(int).tolist()],
            "segment_ids": [instance.segment_ids], "labels": instance.labels, "mask": mask.astype(int).tolist(),
            "vs": None if other is None else {"spec": args.vs, "mask": other.astype(int).tolist()},
        })
    if args.png:
        panels = [Panel(f"layout {layout.name}", mask[0])]
        if other is not None:
            panels.append(Panel(f"spec {args.vs} on its att", other[0], other[0] != mask[0], "differs from the layout"))
        save_mask_png(args.png, panels, pad[0], labels=instance.labels,
                      title=f"{layout.name}: segments " + ", ".join(
                          f"{segment.name} {size}" for segment, size in zip(layout.segments, instance.lengths,
                                                                           strict=True)))
        out.line(f"picture written to {args.png}")
    return EXIT_PASSED


def run_explain(args: argparse.Namespace) -> int:
    if getattr(args, "layout", None):
        return run_explain_layout(args)
    pad, att = pad_att_from_args(args)
    within_limit(pad.shape[1], EXPLAIN_MAX_TOKENS, "maskoracle explain")
    labels = [label.strip() for label in args.labels.split(",")] if args.labels else None
    if labels is not None and len(labels) != pad.shape[1]:
        raise UsageError(f"--labels has {len(labels)} names for {pad.shape[1]} tokens")
    out = Output(plain=True if args.plain else None)
    mask = reference_mask(pad, att, spec=args.spec, pad_queries=args.pad_queries)
    other = reference_mask(pad, att, spec=args.vs, pad_queries=args.pad_queries) if args.vs else None
    for b in range(pad.shape[0]):
        out.line(f"batch {b}: pad {_bits(pad[b])}  att {_bits(att[b])}  blocks {block_line(att[b])}")
        render_mask(mask[b], pad[b], att[b], out, title=f"spec {args.spec}", labels=labels)
        if other is not None:
            out.line()
            render_mask(other[b], pad[b], att[b], out, title=f"spec {args.vs} (cells that differ from "
                        f"{args.spec} marked)", labels=labels, other=mask[b])
        out.line()
    if args.json:
        payload: dict[str, Any] = {"spec": args.spec, "pad_queries": args.pad_queries,
                                   "mask": mask.astype(int).tolist(), "vs": None}
        if other is not None:
            payload["vs"] = {"spec": args.vs, "mask": other.astype(int).tolist(),
                             "differing_cells": [[int(x) for x in cell] for cell in np.argwhere(mask != other)]}
        write_json(args.json, payload)
    if getattr(args, "png", None):
        explain_png(args.png, pad, att, mask, other, args.spec, args.vs, labels)
        out.line(f"picture written to {args.png}")
    return EXIT_PASSED


def _bits(row: np.ndarray) -> str:
    return "".join("1" if value else "0" for value in row)


def add_commands(commands: Any) -> None:
    """``explain``, ``leaks`` and ``diff``: the layout-design commands."""
    explain = commands.add_parser("explain", help="show the mask of a (pad, att) input as a ✓/✗ table",
                                  description="Render the mask; batch rows separated by commas: --pad 1110,1111.")
    explain.add_argument("--pad", help="pad rows, 1/T real, 0/F padding, e.g. 111110 (required unless --layout)")
    explain.add_argument("--att", help="att rows, 1/T starts a new block, e.g. 000111 (required unless --layout)")
    explain.add_argument("--spec", choices=SPECS, default="block_causal")
    explain.add_argument("--vs", choices=SPECS, default=None, help="a second spec to compare with")
    explain.add_argument("--pad-queries", choices=PAD_QUERY_POLICIES, default="masked")
    explain.add_argument("--labels", default=None, help="token names, comma separated (IMG,IMG,LANG,...)")
    explain.add_argument("--json", metavar="PATH")
    explain.add_argument("--plain", action="store_true")
    explain.add_argument("--png", metavar="PATH", help="also draw the mask (and --vs) as a PNG (needs matplotlib)")
    explain.add_argument("--layout", metavar="LAYOUT", help="show an instance of a grouped layout instead of --pad/--att:"
                         " a built-in name or path/file.py:LAYOUT")
    explain.add_argument("--lengths", help="with --layout: segment lengths, e.g. 2,2,2,2 (default 2 each)")
    explain.add_argument("--real", help="with --layout: real tokens per segment (default all)")
    explain.set_defaults(handler=run_explain)

    leaks = commands.add_parser(
        "leaks", help="multi-layer reachability: every path by which a token reads what one layer forbids it",
        description="What each real token can read after K layers, and every leak (a pair readable after K layers "
                    "but masked in one), shortest path first. Exit 1 when there is a leak.")
    leaks.add_argument("--pad", help="pad rows, e.g. 111110 (batch rows separated by commas)")
    leaks.add_argument("--att", help="att rows, e.g. 000111")
    leaks.add_argument("--spec", choices=SPECS, default=None, help="the semantics (default block_causal; with "
                       "--layout, the layout's own group rule)")
    leaks.add_argument("--layout", metavar="LAYOUT", help="analyse a grouped layout instead: a built-in name "
                       "(pi0, pi05, pi05_subtask, smolvla, fast, pi05_subtask_hidden) or path/file.py:LAYOUT")
    leaks.add_argument("--lengths", help="with --layout: segment lengths, e.g. 2,2,2,2 (default 2 each)")
    leaks.add_argument("--real", help="with --layout: real tokens per segment (default all)")
    leaks.add_argument("--layers", type=positive_int, default=None, help="K, the number of layers (default: L, "
                       "every path)")
    leaks.add_argument("--pad-queries", choices=PAD_QUERY_POLICIES, default="masked")
    leaks.add_argument("--labels", default=None, help="token names, comma separated (IMG,IMG,LANG,...)")
    leaks.add_argument("--limit", type=positive_int, default=20, help="leaks listed on the terminal (default 20)")
    leaks.add_argument("--json", metavar="PATH")
    leaks.add_argument("--png", metavar="PATH", help="draw one layer and K layers, leaks marked (needs matplotlib)")
    leaks.add_argument("--plain", action="store_true")
    leaks.set_defaults(handler=run_leaks)

    diff = commands.add_parser(
        "diff", help="the smallest inputs on which two specs or TARGETs differ",
        description="A and B are each a spec (block_causal, rowwise) or a TARGET (module:function or "
                    "path/file.py:function). Exit 1 when they differ, 0 when no difference is found.")
    diff.add_argument("a", metavar="A")
    diff.add_argument("b", metavar="B")
    diff.add_argument("--framework", choices=FRAMEWORKS, default="torch")
    diff.add_argument("--device", default="cpu")
    diff.add_argument("--layout", choices=LAYOUTS, default="any", help="att family for the random search")
    diff.add_argument("--padding", choices=PADDINGS, default="any")
    diff.add_argument("--pad-queries", choices=PAD_QUERY_POLICIES, default="masked")
    diff.add_argument("--att-dtype", choices=ATT_DTYPES, default="bool")
    diff.add_argument("--exhaustive-length", type=int, default=6, help="try every input up to this length first")
    diff.add_argument("--max-examples", type=positive_int, default=200, help="random batches after that")
    diff.add_argument("--seed", type=integer, default=0)
    diff.add_argument("--timeout", type=seconds, default=10.0, help="seconds allowed for one call (default 10)")
    diff.add_argument("--json", metavar="PATH")
    diff.add_argument("--png", metavar="PATH", help="draw both masks, differing cells marked (needs matplotlib)")
    diff.add_argument("--plain", action="store_true")
    diff.add_argument("--isolation", choices=("process", "in-process"), default="process",
                      help="process (default): the TARGETs run in a worker process, whose death cannot end the "
                           "diff with a false 'no difference'; in-process: in this one, for pdb")
    diff.set_defaults(handler=run_diff)
