"""Masks as ✓/✗ tables: plain text, rich, and JSON.

The plain-text layout is the one of the user's explanation (SPEC §3, ``seeds/``): markdown-style pipes, one
row per query, one column per key, ``✓`` where the query may attend to the key and ``✗`` where it is masked.
Each row label names the query and its block id (``0 (blk 0)``) or says it is padding (``5 (pad)``).

    >>> from maskoracle.oracle import reference_mask
    >>> pad, att = [1, 1, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1]
    >>> print(render_text(mask_table(reference_mask(pad, att)[0], pad, att)))
    ✓ = may attend, ✗ = masked
    | Q \\ K     | 0 | 1 | 2 | 3 | 4 | 5 |
    | --------- | - | - | - | - | - | - |
    | 0 (blk 0) | ✓ | ✓ | ✓ | ✗ | ✗ | ✗ |
    | 1 (blk 0) | ✓ | ✓ | ✓ | ✗ | ✗ | ✗ |
    | 2 (blk 0) | ✓ | ✓ | ✓ | ✗ | ✗ | ✗ |
    | 3 (blk 1) | ✓ | ✓ | ✓ | ✓ | ✗ | ✗ |
    | 4 (blk 2) | ✓ | ✓ | ✓ | ✓ | ✓ | ✗ |
    | 5 (pad)   | ✗ | ✗ | ✗ | ✗ | ✗ | ✗ |

When a table compares two masks, the cells where they differ are *marked*: ``[✓]`` / ``[✗]`` in text, bold red
reverse in rich. Large masks are shown as a window around the first difference (see :func:`mask_table`).

Only numpy is needed here; ``rich`` is imported inside the ``*_rich`` functions, so that the core works (and
failure reports print) without it.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from maskoracle.oracle import block_ids

if TYPE_CHECKING:  # only for annotations: rich is optional at run time
    from rich.console import RenderableType
    from rich.table import Table
    from rich.text import Text

__all__ = [
    "LEGEND",
    "Bits",
    "MaskLike",
    "MaskTable",
    "TableRow",
    "differences_to_json",
    "format_bits",
    "mask_table",
    "mask_to_json",
    "render_comparison_rich",
    "render_comparison_text",
    "render_rich",
    "render_text",
    "row_expression",
    "table_to_json",
]

# What the functions accept for one row of flags (pad, att, compared rows) and for one [L, L] mask: bools or
# 0/1, as lists or numpy arrays (validated at run time), so that callers need not convert first.
Bits: TypeAlias = Sequence[bool] | Sequence[int] | np.ndarray
MaskLike: TypeAlias = np.ndarray | Sequence[Sequence[bool]] | Sequence[Sequence[int]]

MAY_ATTEND = "✓"
MASKED = "✗"
ELIDED = "…"
CORNER = "Q \\ K"
LEGEND = f"{MAY_ATTEND} = may attend, {MASKED} = masked"
MARKED_STYLE = "bold red reverse"
NOT_COMPARED = "(not compared)"

# A windowed table shows at most this many query rows: a failure report must fit on one screen.
MAX_WINDOW_ROWS = 16
# Two tables go side by side only if both fit in a common terminal width.
COMPARISON_WIDTH = 120
COMPARISON_GAP = 4
# Difference lists are cut after this many cells; the full list stays in MaskTable.differing_cells.
MAX_LISTED_DIFFERENCES = 10
# row_expression writes literal strings up to this length; longer rows are written run-length.
MAX_LITERAL_ROW = 24


@dataclass
class TableRow:
    """One row of a :class:`MaskTable`: a query, or the ``…`` row that stands for elided queries."""

    label: str
    query: int | None  # None for the "…" row
    cells: list[bool | None]  # one per column; None for an elided key column
    marked: list[bool]  # one per column; True where this cell differs from the other mask
    compared: bool = True  # False for a query row the comparison ignores (SPEC §4, pad-query policy `free`)


@dataclass
class MaskTable:
    """What a ✓/✗ table shows, independent of how it is rendered (text, rich, JSON).

    ``keys[c]`` is the key index of column ``c`` (``None`` for an ``…`` column), ``rows[r].query`` the query
    index of row ``r``. ``differing_cells`` lists every ``(query, key)`` where the mask differs from the other
    mask, over the whole mask and compared rows only, whether or not the window shows it.
    """

    title: str | None
    column_headers: list[str]
    keys: list[int | None]
    rows: list[TableRow]
    notes: list[str]
    differing_cells: list[tuple[int, int]]
    size: int
    has_other: bool = False
    mark_meaning: str = "differs from the compared mask"
    corner: str = CORNER
    shown_queries: list[int] = field(default_factory=list)
    shown_keys: list[int] = field(default_factory=list)

    @property
    def marked_cells(self) -> list[tuple[int, int]]:
        """The ``(query, key)`` cells that are marked and visible in this table."""
        return [
            (row.query, key)
            for row in self.rows
            if row.query is not None
            for key, marked in zip(self.keys, row.marked, strict=True)
            if marked and key is not None
        ]

    @property
    def elided(self) -> bool:
        """True when the table shows a window of the mask rather than all of it."""
        return len(self.shown_queries) < self.size or len(self.shown_keys) < self.size

    def to_json(self) -> dict[str, Any]:
        """The table as JSON-ready data; see :func:`table_to_json`."""
        return table_to_json(self)


# ----------------------------------------------------------------------------------------------------------
# Input validation: fail early with a message that says what to pass instead (STYLE.md).


def _holds_only_zero_one(array: np.ndarray) -> bool:
    return array.dtype == bool or (
        np.issubdtype(array.dtype, np.number) and bool(np.isin(array, (0, 1)).all())
    )


def _as_square_mask(mask: Any, name: str) -> np.ndarray:
    array = np.asarray(mask)
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        hint = ""
        if array.ndim == 3:
            hint = "; this looks like a batch [B, L, L]: pass one entry, mask[b]"
        elif array.ndim == 4:
            hint = "; this looks like a 4D mask [B, 1, L, L]: pass mask[b, 0]"
        raise ValueError(f"{name}: expected one batch entry of shape [L, L], got {list(array.shape)}{hint}")
    if not _holds_only_zero_one(array):
        raise ValueError(
            f"{name}: expected bools or 0/1, got dtype {array.dtype}; decode an additive float mask "
            "to bool (allowed = value == 0) before tabulating it"
        )
    return array.astype(bool)


def _as_flags(values: Any, name: str, size: int) -> list[bool]:
    array = np.asarray(values)
    if array.ndim != 1 or array.shape[0] != size:
        raise ValueError(f"{name}: expected one row of length L = {size}, got shape {list(array.shape)}")
    if not _holds_only_zero_one(array):
        raise ValueError(f"{name}: expected 0/1 or True/False values, got {array.tolist()!r}")
    return [bool(value) for value in array.tolist()]


def _as_labels(labels: Sequence[str] | None, size: int) -> list[str] | None:
    if labels is None:
        return None
    names = [str(label) for label in labels]
    if len(names) != size:
        raise ValueError(f"labels: expected one token name per position (L = {size}), got {len(names)}")
    return names


def _as_max_cells(max_cells: int) -> int:
    if isinstance(max_cells, bool):
        raise TypeError("max_cells: expected a positive int, got a bool")
    value = operator.index(max_cells)
    if value < 1:
        raise ValueError(
            f"max_cells: expected a positive int (the widest table to print in full), got {value}"
        )
    return value


# ----------------------------------------------------------------------------------------------------------
# Building tables.


def _differing(mask: np.ndarray, other: np.ndarray | None, compared: list[bool]) -> list[tuple[int, int]]:
    if other is None:
        return []
    differs = (mask != other) & np.asarray(compared, dtype=bool)[:, None]
    return [(int(query), int(key)) for query, key in np.argwhere(differs)]


def _format_ranges(indices: Sequence[int]) -> str:
    """``[0, 1, 2, 7, 9, 10]`` -> ``"0-2, 7, 9-10"``."""
    parts: list[str] = []
    start = previous = None
    for index in indices:
        if start is None:
            start = previous = index
        elif previous is not None and index == previous + 1:
            previous = index
        else:
            parts.append(f"{start}" if start == previous else f"{start}-{previous}")
            start = previous = index
    if start is not None:
        parts.append(f"{start}" if start == previous else f"{start}-{previous}")
    return ", ".join(parts)


@dataclass(frozen=True)
class _Window:
    queries: list[int]
    keys: list[int]
    notes: list[str]


def _choose_window(size: int, differing: list[tuple[int, int]], max_cells: int) -> _Window:
    if size <= max_cells:
        return _Window(list(range(size)), list(range(size)), [])
    row_limit = min(max_cells, MAX_WINDOW_ROWS)
    notes: list[str] = []
    if differing:
        rows_with_differences = sorted({query for query, _ in differing})
        first_rows = rows_with_differences[:row_limit]
        chosen = set(first_rows)
        # One row of context either side shows the pattern the difference breaks (e.g. the causal diagonal).
        for query in first_rows:
            for neighbour in (query - 1, query + 1):
                if len(chosen) < row_limit and 0 <= neighbour < size:
                    chosen.add(neighbour)
        if len(rows_with_differences) > row_limit:
            notes.append(
                f"{len(rows_with_differences)} rows hold differences; showing the first {row_limit} of them"
            )
        first_key = differing[0][1]
        # Centre the key window on the first difference, clamped to the mask.
        start = min(max(first_key - max_cells // 2, 0), size - max_cells)
    else:
        chosen = set(range(row_limit))
        start = 0
    queries = sorted(chosen)
    keys = list(range(start, start + max_cells))
    notes.insert(0, f"showing rows {_format_ranges(queries)} and keys {keys[0]}-{keys[-1]} of {size}")
    hidden = [cell for cell in differing if cell[0] not in chosen or not keys[0] <= cell[1] <= keys[-1]]
    if hidden:
        notes.append(f"{len(hidden)} of {len(differing)} differing cells lie outside the shown window")
    return _Window(queries, keys, notes)


def _row_label(query: int, pad: list[bool], blocks: list[int], labels: list[str] | None) -> str:
    name = f"{query} {labels[query]}" if labels is not None else str(query)
    if not pad[query]:
        return f"{name} (pad)"
    if labels is not None:
        return name
    return f"{query} (blk {blocks[query]})"


def _build_table(
    mask: np.ndarray,
    pad: list[bool],
    att: list[bool],
    *,
    title: str | None,
    compared: list[bool],
    marked_cells: set[tuple[int, int]],
    differing: list[tuple[int, int]],
    window: _Window,
    labels: list[str] | None,
    has_other: bool,
) -> MaskTable:
    size = mask.shape[0]
    blocks = block_ids([att])[0]
    columns: list[int | None] = list(window.keys)
    if window.keys and window.keys[0] > 0:
        columns.insert(0, None)
    if window.keys and window.keys[-1] < size - 1:
        columns.append(None)
    headers = [ELIDED if key is None else str(key) for key in columns]

    def elided_row() -> TableRow:
        return TableRow(ELIDED, None, [None] * len(columns), [False] * len(columns))

    rows: list[TableRow] = []
    previous = -1
    for query in window.queries:
        if query > previous + 1:
            rows.append(elided_row())
        cells: list[bool | None] = [None if key is None else bool(mask[query, key]) for key in columns]
        marks = [key is not None and (query, key) in marked_cells for key in columns]
        label = _row_label(query, pad, blocks, labels)
        rows.append(TableRow(label, query, cells, marks, compared[query]))
        previous = query
    if window.queries and previous < size - 1:
        rows.append(elided_row())
    return MaskTable(
        title=title,
        column_headers=headers,
        keys=columns,
        rows=rows,
        notes=list(window.notes),
        differing_cells=list(differing),
        size=size,
        has_other=has_other,
        shown_queries=list(window.queries),
        shown_keys=list(window.keys),
    )


def mask_table(
    mask: MaskLike,
    pad: Bits,
    att: Bits,
    *,
    title: str | None = None,
    other: MaskLike | None = None,
    compared_rows: Bits | None = None,
    max_cells: int = 32,
    labels: Sequence[str] | None = None,
) -> MaskTable:
    """Lay out one batch entry ``mask [L, L]`` as a ✓/✗ table (query rows, key columns).

    ``pad`` and ``att`` are that entry's rows (length L); they give the row labels: ``"0 (blk 0)"`` with the
    query's block id (SPEC §1), ``"5 (pad)"`` for padding. With ``labels`` (token names such as ``IMG``,
    ``SUB0``) rows read ``"3 SUB0"``, still with ``(pad)`` for padded queries.

    ``other`` (``[L, L]``) is the mask to compare against, e.g. ``mask=actual, other=expected``: the cells where
    they differ are marked. ``compared_rows`` (length L, default all) says which query rows count; SPEC §4's
    pad-query policy ``free`` does not compare padded query rows, so differences there are not marked and
    those rows are flagged "(not compared)".

    When ``L > max_cells`` the table is a window: the rows holding marked cells (with a row of context either
    side), or the first rows when nothing is marked, at most 16 of them; and ``max_cells`` key columns centred
    on the first marked cell. ``…`` rows and columns stand for what is left out, and a note says what is shown.
    ``differing_cells`` always lists every difference.

    >>> import numpy as np
    >>> causal = np.tril(np.ones((3, 3), dtype=bool))
    >>> table = mask_table(causal, [1, 1, 1], [1, 1, 1], other=np.ones((3, 3), dtype=bool))
    >>> table.differing_cells
    [(0, 1), (0, 2), (1, 2)]
    >>> [row.label for row in table.rows]
    ['0 (blk 1)', '1 (blk 2)', '2 (blk 3)']
    """
    mask_array = _as_square_mask(mask, "mask")
    size = mask_array.shape[0]
    other_array = None if other is None else _as_square_mask(other, "other")
    if other_array is not None and other_array.shape != mask_array.shape:
        raise ValueError(
            f"other: expected the shape of mask {list(mask_array.shape)}, got {list(other_array.shape)}"
        )
    pad_flags = _as_flags(pad, "pad", size)
    att_flags = _as_flags(att, "att", size)
    compared = [True] * size if compared_rows is None else _as_flags(compared_rows, "compared_rows", size)
    names = _as_labels(labels, size)
    cells_limit = _as_max_cells(max_cells)

    differing = _differing(mask_array, other_array, compared)
    window = _choose_window(size, differing, cells_limit)
    return _build_table(
        mask_array,
        pad_flags,
        att_flags,
        title=title,
        compared=compared,
        marked_cells=set(differing),
        differing=differing,
        window=window,
        labels=names,
        has_other=other_array is not None,
    )


# ----------------------------------------------------------------------------------------------------------
# Plain text.


def _cell_text(value: bool | None, marked: bool) -> str:
    if value is None:
        return ELIDED
    symbol = MAY_ATTEND if value else MASKED
    return f"[{symbol}]" if marked else symbol


def _display_label(row: TableRow) -> str:
    return row.label if row.compared else f"{row.label} {NOT_COMPARED}"


def _legend(tables: Sequence[MaskTable], mark_meaning: str | None = None) -> str:
    parts = [LEGEND]
    if _any_marked(tables):
        meaning = mark_meaning if mark_meaning is not None else tables[-1].mark_meaning
        parts.append(f"[{MAY_ATTEND}] [{MASKED}] = {meaning}")
    if any(table.elided for table in tables):
        parts.append(f"{ELIDED} = not shown")
    return "; ".join(parts)


def _any_marked(tables: Sequence[MaskTable]) -> bool:
    return any(any(row.marked) for table in tables for row in table.rows)


def _grid_lines(table: MaskTable, *, wide_cells: bool | None = None) -> list[str]:
    """The pipe table itself, columns padded so that every row lines up.

    ``wide_cells`` (default: whether this table has marks) gives every key column the width of a marked cell,
    so that the grid stays regular; a comparison sets it on both tables so that they line up with each other.
    """
    labels = [_display_label(row) for row in table.rows]
    label_width = max([len(table.corner), *(len(label) for label in labels)])
    grid = [
        # An elided row ("…" in its label) leaves its cells empty: a row of "…" cells is noise.
        [
            "" if row.query is None else _cell_text(value, marked)
            for value, marked in zip(row.cells, row.marked, strict=True)
        ]
        for row in table.rows
    ]
    if wide_cells is None:
        wide_cells = _any_marked([table])
    minimum = len(_cell_text(True, marked=True)) if wide_cells else 1
    widths = [
        max([minimum, len(header), *(len(cells[column]) for cells in grid)])
        for column, header in enumerate(table.column_headers)
    ]

    def line(first: str, cells: Sequence[str]) -> str:
        body = " | ".join(cell.center(width) for cell, width in zip(cells, widths, strict=True))
        return f"| {first.ljust(label_width)} | {body} |" if cells else f"| {first.ljust(label_width)} |"

    lines = [
        line(table.corner, table.column_headers),
        line("-" * label_width, ["-" * width for width in widths]),
    ]
    lines.extend(line(label, cells) for label, cells in zip(labels, grid, strict=True))
    return lines


def _cell_list(cells: Sequence[tuple[int, int]], describe: Any = None) -> str:
    shown = [f"({query}, {key})" + (describe(query, key) if describe else "") for query, key in cells]
    listed = ", ".join(shown[:MAX_LISTED_DIFFERENCES])
    if len(shown) > MAX_LISTED_DIFFERENCES:
        listed += f", {ELIDED} and {len(shown) - MAX_LISTED_DIFFERENCES} more"
    return listed


def _differences_line(table: MaskTable) -> str:
    cells = table.differing_cells
    if not cells:
        return "no differing cells" + (" in the compared rows" if _has_uncompared(table) else "")
    noun = "cell" if len(cells) == 1 else "cells"
    return f"{len(cells)} differing {noun} (query, key): {_cell_list(cells)}"


def _has_uncompared(table: MaskTable) -> bool:
    return any(not row.compared for row in table.rows)


def render_text(table: MaskTable) -> str:
    """Render a :class:`MaskTable` as plain text in the user's explanation's layout.

    Title, a legend line (``✓ = may attend, ✗ = masked``, plus ``[✓] [✗] = ...`` when cells are marked),
    any notes about the window shown, the pipe table, and, when the table compares two masks, a line listing
    the differing ``(query, key)`` cells (cut after 10, with a count). Marked cells read ``[✓]`` / ``[✗]``.

    >>> print(render_text(mask_table([[1, 0], [1, 1]], [1, 1], [1, 1], other=[[1, 1], [1, 1]])))
    ✓ = may attend, ✗ = masked; [✓] [✗] = differs from the compared mask
    | Q \\ K     |  0  |  1  |
    | --------- | --- | --- |
    | 0 (blk 1) |  ✓  | [✗] |
    | 1 (blk 2) |  ✓  |  ✓  |
    1 differing cell (query, key): (0, 1)
    """
    lines: list[str] = []
    if table.title:
        lines.append(table.title)
    lines.append(_legend([table]))
    lines.extend(table.notes)
    lines.extend(_grid_lines(table))
    if table.has_other:
        lines.append(_differences_line(table))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------
# Comparisons.


def _comparison_tables(
    expected: Any,
    actual: Any,
    pad: Bits,
    att: Bits,
    *,
    compared_rows: Bits | None,
    labels: Sequence[str] | None,
    max_cells: int,
    titles: tuple[str, str],
) -> tuple[MaskTable, MaskTable, np.ndarray, np.ndarray]:
    expected_array = _as_square_mask(expected, "expected")
    actual_array = _as_square_mask(actual, "actual")
    if expected_array.shape != actual_array.shape:
        raise ValueError(
            f"expected {list(expected_array.shape)} and actual {list(actual_array.shape)} must have the same shape"
        )
    size = expected_array.shape[0]
    pad_flags = _as_flags(pad, "pad", size)
    att_flags = _as_flags(att, "att", size)
    compared = [True] * size if compared_rows is None else _as_flags(compared_rows, "compared_rows", size)
    names = _as_labels(labels, size)
    differing = _differing(actual_array, expected_array, compared)
    # Both tables share one window, so that their rows and columns line up cell for cell.
    window = _choose_window(size, differing, _as_max_cells(max_cells))
    tables = [
        _build_table(
            array,
            pad_flags,
            att_flags,
            title=title,
            compared=compared,
            marked_cells=marks,
            differing=differing,
            window=window,
            labels=names,
            has_other=True,
        )
        for array, title, marks in (
            (expected_array, titles[0], set()),
            (actual_array, titles[1], set(differing)),
        )
    ]
    expected_table, actual_table = tables
    actual_table.mark_meaning = f"differs from {titles[0]}"
    return expected_table, actual_table, expected_array, actual_array


def _symbol(value: Any) -> str:
    return MAY_ATTEND if bool(value) else MASKED


def _comparison_line(
    table: MaskTable, expected: np.ndarray, actual: np.ndarray, titles: tuple[str, str]
) -> str:
    cells = table.differing_cells
    if not cells:
        scope = " in the compared rows" if _has_uncompared(table) else ""
        return f"no differing cells{scope}: {titles[1]} equals {titles[0]}"
    noun = "cell" if len(cells) == 1 else "cells"

    def describe(query: int, key: int) -> str:
        return f": {_symbol(expected[query, key])} -> {_symbol(actual[query, key])}"

    return f"{len(cells)} differing {noun} (query, key): {titles[0]} -> {titles[1]}: {_cell_list(cells, describe)}"


def _side_by_side(left: list[str], right: list[str]) -> list[str]:
    left_width = max((len(line) for line in left), default=0)
    right_width = max((len(line) for line in right), default=0)
    if left_width + COMPARISON_GAP + right_width > COMPARISON_WIDTH:
        return [*left, "", *right]
    height = max(len(left), len(right))
    padded_left = left + [""] * (height - len(left))
    padded_right = right + [""] * (height - len(right))
    gap = " " * COMPARISON_GAP
    return [f"{a.ljust(left_width)}{gap}{b}".rstrip() for a, b in zip(padded_left, padded_right, strict=True)]


def render_comparison_text(
    expected: MaskLike,
    actual: MaskLike,
    pad: Bits,
    att: Bits,
    *,
    compared_rows: Bits | None = None,
    labels: Sequence[str] | None = None,
    max_cells: int = 32,
    titles: tuple[str, str] = ("expected", "actual"),
) -> str:
    """Two ✓/✗ tables, ``expected`` and ``actual`` (each ``[L, L]``), with the differing cells marked in actual.

    The tables stand side by side when both fit in 120 columns, one above the other otherwise, and share
    one window when ``L > max_cells`` (see :func:`mask_table`). A last line lists the differing cells as
    ``(query, key): expected -> actual``, cut after 10 with a count. ``compared_rows`` and ``labels`` are as in
    :func:`mask_table`; ``titles`` names the two masks (e.g. two spec names for ``maskoracle explain --vs``).

    >>> from maskoracle.oracle import reference_mask
    >>> pad, att = [1, 1, 1], [0, 1, 1]
    >>> expected, actual = reference_mask(pad, att)[0], reference_mask(pad, att, spec="rowwise")[0]
    >>> print(render_comparison_text(expected, actual, pad, att))
    ✓ = may attend, ✗ = masked; [✓] [✗] = differs from expected
    expected                           actual
    | Q \\ K     |  0  |  1  |  2  |    | Q \\ K     |  0  |  1  |  2  |
    | --------- | --- | --- | --- |    | --------- | --- | --- | --- |
    | 0 (blk 0) |  ✓  |  ✗  |  ✗  |    | 0 (blk 0) |  ✓  | [✓] | [✓] |
    | 1 (blk 1) |  ✓  |  ✓  |  ✗  |    | 1 (blk 1) |  ✓  |  ✓  |  ✗  |
    | 2 (blk 2) |  ✓  |  ✓  |  ✓  |    | 2 (blk 2) |  ✓  |  ✓  |  ✓  |
    2 differing cells (query, key): expected -> actual: (0, 1): ✗ -> ✓, (0, 2): ✗ -> ✓
    """
    expected_table, actual_table, expected_array, actual_array = _comparison_tables(
        expected,
        actual,
        pad,
        att,
        compared_rows=compared_rows,
        labels=labels,
        max_cells=max_cells,
        titles=titles,
    )
    wide_cells = _any_marked([actual_table])
    left = [titles[0], *_grid_lines(expected_table, wide_cells=wide_cells)]
    right = [titles[1], *_grid_lines(actual_table, wide_cells=wide_cells)]
    lines = [_legend([expected_table, actual_table], actual_table.mark_meaning), *actual_table.notes]
    lines.extend(_side_by_side(left, right))
    lines.append(_comparison_line(actual_table, expected_array, actual_array, titles))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------
# rich (optional): imported here, never at module level.


def _rich_missing() -> ImportError:
    return ImportError(
        "this renderer needs the optional package 'rich': pip install 'maskoracle[report]' "
        "(or use render_text / render_comparison_text, which need only numpy)"
    )


def _rich_cell(value: bool | None, marked: bool) -> Text:
    from rich.text import Text

    if value is None:
        return Text(ELIDED, style="dim")
    # The brackets stay in rich too: styles vanish when output is piped or colour is off.
    return Text(_cell_text(value, marked), style=MARKED_STYLE if marked else "")


def _rich_table(table: MaskTable, *, caption: bool) -> Table:
    from rich.table import Table
    from rich.text import Text

    # Text objects throughout: labels and titles are data, and rich would parse "[...]" in them as markup.
    caption_lines = [_legend([table]), *table.notes]
    if table.has_other:
        caption_lines.append(_differences_line(table))
    caption_text = Text("\n".join(caption_lines)) if caption else None
    rich_table = Table(
        title=Text(table.title) if table.title else None,
        caption=caption_text,
        caption_justify="left",
    )
    rich_table.add_column(Text(table.corner), justify="left", no_wrap=True)
    for header in table.column_headers:
        rich_table.add_column(Text(header), justify="center", no_wrap=True)
    for row in table.rows:
        cells = [_rich_cell(value, marked) for value, marked in zip(row.cells, row.marked, strict=True)]
        rich_table.add_row(Text(_display_label(row)), *cells, style=None if row.compared else "dim")
    return rich_table


def render_rich(table: MaskTable) -> Table:
    """Render a :class:`MaskTable` as a ``rich.table.Table``: marked cells bold red reverse, uncompared rows dim.

    The caption holds the legend, the window notes and (when comparing) the differing cells, as in
    :func:`render_text`. Needs the optional ``rich`` package.

    >>> from rich.console import Console
    >>> Console().print(render_rich(mask_table([[1, 0], [1, 1]], [1, 1], [1, 1])))  # doctest: +SKIP
    """
    try:
        import rich  # noqa: F401
    except ImportError as error:
        raise _rich_missing() from error
    return _rich_table(table, caption=True)


def render_comparison_rich(
    expected: MaskLike,
    actual: MaskLike,
    pad: Bits,
    att: Bits,
    *,
    compared_rows: Bits | None = None,
    labels: Sequence[str] | None = None,
    max_cells: int = 32,
    titles: tuple[str, str] = ("expected", "actual"),
) -> RenderableType:
    """:func:`render_comparison_text` for rich: legend, both tables (side by side when the console is wide
    enough), and the line of differing cells. Needs the optional ``rich`` package.

    >>> from rich.console import Console
    >>> Console().print(render_comparison_rich(expected, actual, pad, att))  # doctest: +SKIP
    """
    try:
        from rich.columns import Columns
        from rich.console import Group
        from rich.text import Text
    except ImportError as error:
        raise _rich_missing() from error
    expected_table, actual_table, expected_array, actual_array = _comparison_tables(
        expected,
        actual,
        pad,
        att,
        compared_rows=compared_rows,
        labels=labels,
        max_cells=max_cells,
        titles=titles,
    )
    header = [_legend([expected_table, actual_table], actual_table.mark_meaning), *actual_table.notes]
    return Group(
        Text("\n".join(header)),
        Columns(
            [_rich_table(expected_table, caption=False), _rich_table(actual_table, caption=False)],
            padding=(0, 4),
        ),
        Text(_comparison_line(actual_table, expected_array, actual_array, titles)),
    )


# ----------------------------------------------------------------------------------------------------------
# JSON and bit strings.


def table_to_json(table: MaskTable) -> dict[str, Any]:
    """A :class:`MaskTable` as JSON-ready data: cells as 1 / 0 / null (elided), marks as bools.

    >>> table_to_json(mask_table([[1, 0], [1, 1]], [1, 1], [1, 1]))["rows"][0]["cells"]
    [1, 0]
    """
    return {
        "title": table.title,
        "size": table.size,
        "keys": list(table.keys),
        "column_headers": list(table.column_headers),
        "rows": [
            {
                "label": row.label,
                "query": row.query,
                "compared": row.compared,
                "cells": [None if value is None else int(value) for value in row.cells],
                "marked": list(row.marked),
            }
            for row in table.rows
        ],
        "notes": list(table.notes),
        "differing_cells": [[query, key] for query, key in table.differing_cells],
    }


def mask_to_json(mask: Any) -> list[Any]:
    """A bool mask of any shape as nested lists of 0/1, the form the JSON reports use.

    >>> mask_to_json([[[True, False], [True, True]]])
    [[[1, 0], [1, 1]]]
    """
    array = np.asarray(mask)
    if not _holds_only_zero_one(array):
        raise ValueError(f"mask: expected bools or 0/1, got dtype {array.dtype}; decode additive masks first")
    result: list[Any] = array.astype(int).tolist()
    return result


def differences_to_json(
    expected: MaskLike, actual: MaskLike, compared_rows: Bits | None = None
) -> list[dict[str, int]]:
    """Every differing cell of two ``[L, L]`` masks as ``{"query", "key", "expected", "actual"}`` (0/1).

    >>> differences_to_json([[1, 0], [1, 1]], [[1, 1], [1, 1]])
    [{'query': 0, 'key': 1, 'expected': 0, 'actual': 1}]
    """
    expected_array = _as_square_mask(expected, "expected")
    actual_array = _as_square_mask(actual, "actual")
    if expected_array.shape != actual_array.shape:
        raise ValueError(
            f"expected {list(expected_array.shape)} and actual {list(actual_array.shape)} must have the same shape"
        )
    size = expected_array.shape[0]
    compared = [True] * size if compared_rows is None else _as_flags(compared_rows, "compared_rows", size)
    return [
        {
            "query": query,
            "key": key,
            "expected": int(expected_array[query, key]),
            "actual": int(actual_array[query, key]),
        }
        for query, key in _differing(actual_array, expected_array, compared)
    ]


def format_bits(row: Bits) -> str:
    """A row of bools (or 0/1) as a bit string, the ``--pad`` / ``--att`` form of the CLI.

    >>> format_bits([True, True, True, True, True, False])
    '111110'
    """
    return "".join("1" if bool(value) else "0" for value in row)


def row_expression(row: Bits) -> str:
    """A compact Python expression for ``format_bits(row)``, for reproduction snippets.

    Rows up to 24 characters are written literally; longer rows run-length (runs of 3 or more as
    ``'1' * n``, shorter runs kept as literals), unless the literal is shorter. ``eval`` of the result always
    equals ``format_bits(row)``.

    >>> row_expression([1, 1, 1, 1, 1, 0])
    "'111110'"
    >>> row_expression([0] * 3 + [1] * 255)
    "'0' * 3 + '1' * 255"
    """
    bits = format_bits(row)
    literal = repr(bits)
    if len(bits) <= MAX_LITERAL_ROW:
        return literal
    runs: list[tuple[str, int]] = []
    for bit in bits:
        if runs and runs[-1][0] == bit:
            runs[-1] = (bit, runs[-1][1] + 1)
        else:
            runs.append((bit, 1))
    terms: list[str] = []
    pending = ""  # short runs, merged into one literal so that "0101" does not become four terms
    for bit, count in runs:
        if count >= 3:
            if pending:
                terms.append(repr(pending))
                pending = ""
            terms.append(f"{bit!r} * {count}")
        else:
            pending += bit * count
    if pending:
        terms.append(repr(pending))
    run_length = " + ".join(terms)
    # An irregular row (e.g. alternating bits) is shorter written out.
    return run_length if len(run_length) < len(literal) else literal
