"""Rectangular ✓/✗ tables for KV-cache and incremental counterexamples (SPEC §5): S query rows x P+S keys.

    >>> import numpy as np
    >>> from maskoracle.oracle.kv_cache import kv_cache_mask
    >>> expected = kv_cache_mask([[1, 0]], [[1, 1]], [[1, 0]])
    >>> actual = expected.copy(); actual[0, 1, 1] = True
    >>> print("\\n".join(split_comparison_lines(expected[0], actual[0], [1, 0, 1, 1], [0, 0, 1, 0], 2, 2)))
    ✓ = may attend, ✗ = masked; [✓] [✗] = differs from expected; keys: prefix 0-1 | suffix 2-3
    expected                                  actual
    | Q \\ K      |  0   1  |  2   3  |        | Q \\ K      |  0   1  |  2   3  |
    | s0 (pos 2) |  ✓   ✗  |  ✓   ✓  |        | s0 (pos 2) |  ✓   ✗  |  ✓   ✓  |
    | s1 (pos 3) |  ✓   ✗  |  ✓   ✓  |        | s1 (pos 3) |  ✓  [✓] |  ✓   ✓  |
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .tables import LEGEND, format_bits, row_expression

MAX_COLUMNS = 40
MAX_ROWS = 16


def _window(size: int, centre: int, width: int) -> list[int]:
    if size <= width:
        return list(range(size))
    start = min(max(0, centre - width // 2), size - width)
    return list(range(start, start + width))


def _row_label(row: int, query: int, split: int, kind: str) -> str:
    if kind == "kv_cache":
        return f"s{row} (pos {query})"
    return f"t{query} (new)" if row == 0 else f"{query}"


def _grid(mask: np.ndarray, other: np.ndarray | None, rows: list[int], keys: list[int], split: int,
          query_offset: int, kind: str, compared: Sequence[bool] | None, wide: bool) -> list[str]:
    def cell(value: bool, marked: bool) -> str:
        symbol = "✓" if value else "✗"
        return f"[{symbol}]" if marked else (f" {symbol} " if wide else symbol)

    labels = [_row_label(r, query_offset + r, split, kind) + ("" if compared is None or compared[r] else " *")
              for r in rows]
    label_width = max([len("Q \\ K"), *map(len, labels)])
    groups = [[k for k in keys if k < split], [k for k in keys if k >= split]]
    groups = [g for g in groups if g]

    def header_cells(group: list[int]) -> str:
        return " ".join(str(k).center(3 if wide else len(str(k))) for k in group)

    def body_cells(group: list[int], r: int) -> str:
        parts = []
        for k in group:
            marked = other is not None and (compared is None or compared[r]) and bool(mask[r, k] != other[r, k])
            text = cell(bool(mask[r, k]), marked)
            parts.append(text.center(max(len(str(k)), 3 if wide else 1)))
        return " ".join(parts)

    lines = ["| " + "Q \\ K".ljust(label_width) + " | " + " | ".join(header_cells(g) for g in groups) + " |"]
    for r, label in zip(rows, labels, strict=True):
        lines.append("| " + label.ljust(label_width) + " | " + " | ".join(body_cells(g, r) for g in groups) + " |")
    return lines


def split_comparison_lines(expected: np.ndarray, actual: np.ndarray, pad: Sequence[bool] | np.ndarray,
                           att: Sequence[bool] | np.ndarray, split: int, query_offset: int, *,
                           kind: str = "kv_cache", compared_rows: Sequence[bool] | None = None) -> list[str]:
    """Expected and actual ``[Q, N]`` side by side (one above the other when wide), differing cells marked."""
    del pad, att  # the rows are printed above the tables; kept in the signature for symmetry with tables.py
    expected, actual = np.asarray(expected, dtype=bool), np.asarray(actual, dtype=bool)
    Q, N = expected.shape
    differ = expected != actual
    if compared_rows is not None:
        differ &= np.asarray(compared_rows, dtype=bool)[:, None]
    first = np.argwhere(differ)
    row0, key0 = (int(first[0][0]), int(first[0][1])) if first.size else (0, 0)
    rows = _window(Q, row0, MAX_ROWS)
    keys = _window(N, key0, MAX_COLUMNS)
    split_text = f"prefix 0-{split - 1} | suffix {split}-{N - 1}" if kind == "kv_cache" else \
        f"prompt 0-{split - 1}, decoded {split}-{N - 1}"
    legend = f"{LEGEND}; [✓] [✗] = differs from expected; keys: {split_text}"
    if len(rows) < Q or len(keys) < N:
        legend += f"; showing queries {rows[0]}-{rows[-1]} of {Q}, keys {keys[0]}-{keys[-1]} of {N}"
    if compared_rows is not None and not all(compared_rows):
        legend += "; * = padded query row, not compared"
    wide = bool(differ.any())
    left = ["expected", *_grid(expected, None, rows, keys, split, query_offset, kind, compared_rows, wide)]
    right = ["actual", *_grid(actual, expected, rows, keys, split, query_offset, kind, compared_rows, wide)]
    width = max(map(len, left))
    if width + 8 + max(map(len, right)) <= 120:
        body = [f"{a.ljust(width)}        {b}".rstrip() for a, b in zip(left, right, strict=True)]
    else:
        body = [*left, *right]
    return [legend, *body]


def split_input_lines(pad: np.ndarray, att: np.ndarray, split: int, kind: str) -> list[str]:
    """The counterexample's inputs as the implementation received them (bit strings, one line per row)."""
    B, N = pad.shape
    lines = []
    if kind == "kv_cache":
        lines.append(f"counterexample [B, P, S] = [{B}, {split}, {N - split}]")
        for b in range(B):
            lines.append(f"  prefix_pad[{b}] = {_short(pad[b, :split])}")
            lines.append(f"  suffix_pad[{b}] = {_short(pad[b, split:])}")
            lines.append(f"  suffix_att[{b}] = {_short(att[b, split:])}")
            lines.append(f"  (prefix att, for the full mask only: {_short(att[b, :split])})")
    else:
        lines.append(f"counterexample [B, T] = [{B}, {N}]: a prompt of {split} token{'s' if split != 1 else ''}, then {N - split} decoded")
        for b in range(B):
            lines.append(f"  pad[{b}] = {_short(pad[b])}")
            lines.append(f"  att[{b}] = {_short(att[b])}")
    return lines


def _short(row: np.ndarray) -> str:
    text = format_bits(row)
    if len(text) <= 64:
        return text

    return f"{row_expression(row)}  (length {len(text)})"
