"""Tests for maskoracle.reports.tables: ✓/✗ tables in text, rich and JSON."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from maskoracle.oracle import reference_mask
from maskoracle.reports.tables import (
    LEGEND,
    MaskTable,
    differences_to_json,
    format_bits,
    mask_table,
    mask_to_json,
    render_comparison_text,
    render_text,
    row_expression,
    table_to_json,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

# The user's example (SPEC §3, seeds/): tokens IMG IMG LANG SUB0 SUB1 PAD.
USER_PAD = [1, 1, 1, 1, 1, 0]
USER_ATT = [0, 0, 0, 1, 1, 1]
USER_TOKENS = ["IMG", "IMG", "LANG", "SUB0", "SUB1", "PAD"]
BLOCK_CAUSAL_ROWS = ["111000", "111000", "111000", "111100", "111110", "000000"]
EXPLANATION_TABLE_ROWS = ["111110", "111110", "111110", "111100", "111110", "000000"]
ROWWISE_LEAK_CELLS = [(0, 3), (0, 4), (1, 3), (1, 4), (2, 3), (2, 4)]


def user_mask(spec: str = "block_causal", pad_queries: str = "masked") -> np.ndarray:
    return reference_mask(USER_PAD, USER_ATT, spec=spec, pad_queries=pad_queries)[0]


def symbols(bits: str) -> list[str]:
    return ["✓" if bit == "1" else "✗" for bit in bits]


def table_body(text: str) -> dict[str, list[str]]:
    """Row label -> cell strings, for every pipe-table row below the header and separator."""
    rows = {}
    for line in text.splitlines():
        if not line.startswith("| "):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def causal_300_with_flip() -> tuple[np.ndarray, np.ndarray]:
    expected = np.tril(np.ones((300, 300), dtype=bool))
    actual = expected.copy()
    actual[257, 258] = True
    return expected, actual


# -- the user's example ----------------------------------------------------------------------------------


def test_user_example_renders_the_real_function_row_for_row() -> None:
    text = render_text(mask_table(user_mask(), USER_PAD, USER_ATT))
    body = table_body(text)
    labels = ["0 (blk 0)", "1 (blk 0)", "2 (blk 0)", "3 (blk 1)", "4 (blk 2)", "5 (pad)"]
    assert body["Q \\ K"] == ["0", "1", "2", "3", "4", "5"]
    for label, bits in zip(labels, BLOCK_CAUSAL_ROWS, strict=True):
        assert body[label] == symbols(bits), label
    assert "| 0 (blk 0) | ✓ | ✓ | ✓ | ✗ | ✗ | ✗ |" in text.splitlines()
    assert text.splitlines()[0] == LEGEND


def test_user_example_as_the_explanation_wrote_it() -> None:
    # The explanation's table is the rowwise rule with padded queries masked (SPEC §3).
    table = mask_table(user_mask("rowwise"), USER_PAD, USER_ATT, labels=USER_TOKENS)
    body = table_body(render_text(table))
    labels = ["0 IMG", "1 IMG", "2 LANG", "3 SUB0", "4 SUB1", "5 PAD (pad)"]
    for label, bits in zip(labels, EXPLANATION_TABLE_ROWS, strict=True):
        assert body[label] == symbols(bits), label


def test_row_labels_name_block_or_padding() -> None:
    table = mask_table(reference_mask([1, 0, 1], [0, 1, 0])[0], [1, 0, 1], [0, 1, 0])
    assert [row.label for row in table.rows] == ["0 (blk 0)", "1 (pad)", "2 (blk 1)"]


def test_token_labels_replace_block_ids_but_keep_pad() -> None:
    table = mask_table(user_mask(), USER_PAD, USER_ATT, labels=USER_TOKENS)
    assert [row.label for row in table.rows] == [
        "0 IMG",
        "1 IMG",
        "2 LANG",
        "3 SUB0",
        "4 SUB1",
        "5 PAD (pad)",
    ]


# -- comparisons and marks -------------------------------------------------------------------------------


def test_comparison_with_rowwise_marks_the_leak_cells() -> None:
    table = mask_table(user_mask("rowwise"), USER_PAD, USER_ATT, other=user_mask())
    assert table.differing_cells == ROWWISE_LEAK_CELLS
    assert table.marked_cells == ROWWISE_LEAK_CELLS
    text = render_text(table)
    body = table_body(text)
    assert body["0 (blk 0)"] == ["✓", "✓", "✓", "[✓]", "[✓]", "✗"]
    assert body["3 (blk 1)"] == symbols("111100")
    assert "[✓] [✗] = differs" in text.splitlines()[0]
    assert "6 differing cells (query, key): (0, 3), (0, 4), (1, 3)" in text


def test_identical_masks_mark_nothing_and_say_so() -> None:
    table = mask_table(user_mask(), USER_PAD, USER_ATT, other=user_mask())
    text = render_text(table)
    assert table.differing_cells == [] and table.marked_cells == []
    assert "[" not in text.replace("Q \\ K", "")
    assert text.splitlines()[-1] == "no differing cells"


def test_compared_rows_exclude_a_padded_query_row() -> None:
    # The explanation's pseudo-code gives the padded query a full row; policy `free` does not compare it.
    actual = user_mask("rowwise", pad_queries="free")
    everything = mask_table(actual, USER_PAD, USER_ATT, other=user_mask())
    assert (5, 0) in everything.differing_cells

    table = mask_table(
        actual, USER_PAD, USER_ATT, other=user_mask(), compared_rows=[bool(p) for p in USER_PAD]
    )
    assert table.differing_cells == ROWWISE_LEAK_CELLS
    padded_row = table.rows[5]
    assert not padded_row.compared and not any(padded_row.marked)
    body = table_body(render_text(table))
    assert body["5 (pad) (not compared)"] == symbols("111110")


def test_comparison_text_shows_both_tables_and_lists_expected_to_actual() -> None:
    text = render_comparison_text(user_mask(), user_mask("rowwise"), USER_PAD, USER_ATT, labels=USER_TOKENS)
    lines = text.splitlines()
    # Side by side: the two titles share a line, and so does every row label.
    assert lines[1].split() == ["expected", "actual"]
    assert sum(line.count("| 0 IMG ") for line in lines) == 2
    assert "(0, 3): ✗ -> ✓" in lines[-1]
    assert lines[-1].startswith("6 differing cells (query, key): expected -> actual")
    # Marks only in the actual (right-hand) table.
    row_zero = next(line for line in lines if line.startswith("| 0 IMG"))
    left, right = row_zero.split("    ", 1)
    assert "[" not in left and right.count("[✓]") == 2


def test_comparison_lists_at_most_ten_differences_with_a_count() -> None:
    expected = np.zeros((6, 6), dtype=bool)
    actual = np.ones((6, 6), dtype=bool)
    text = render_comparison_text(expected, actual, [1] * 6, [1] * 6)
    last = text.splitlines()[-1]
    assert last.startswith("36 differing cells")
    assert last.count("->") == 10 + 1  # ten cells, plus "expected -> actual"
    assert last.endswith("… and 26 more")


def test_every_table_line_has_the_same_width() -> None:
    for other in (None, user_mask()):
        table = mask_table(user_mask("rowwise"), USER_PAD, USER_ATT, other=other, labels=USER_TOKENS)
        widths = {len(line) for line in render_text(table).splitlines() if line.startswith("|")}
        assert len(widths) == 1


# -- large masks -----------------------------------------------------------------------------------------


def test_large_mask_shows_a_window_around_the_difference() -> None:
    expected, actual = causal_300_with_flip()
    table = mask_table(actual, [1] * 300, [1] * 300, other=expected)
    assert table.differing_cells == [(257, 258)]
    assert 257 in table.shown_queries and 258 in table.shown_keys
    assert len(table.shown_keys) <= 32 and len(table.shown_queries) <= 16
    assert table.marked_cells == [(257, 258)]

    text = render_text(table)
    lines = text.splitlines()
    assert len(lines) < 40
    assert any(line.startswith("showing rows ") and line.endswith("of 300") for line in lines)
    header = table_body(text)["Q \\ K"]
    assert header[0] == "…" and header[-1] == "…" and "258" in header
    row = table_body(text)["257 (blk 258)"]
    assert row[header.index("258")] == "[✓]"
    assert "(257, 258)" in lines[-1]


def test_large_comparison_stacks_tables_and_stays_short() -> None:
    expected, actual = causal_300_with_flip()
    text = render_comparison_text(expected, actual, [1] * 300, [1] * 300)
    lines = text.splitlines()
    assert len(lines) < 40
    assert "expected" in lines and "actual" in lines  # too wide for 120 columns: one above the other
    assert lines[-1] == "1 differing cell (query, key): expected -> actual: (257, 258): ✗ -> ✓"
    assert sum("257 (blk 258)" in line for line in lines) == 2


def test_large_mask_without_other_shows_the_first_rows_and_keys() -> None:
    mask = np.tril(np.ones((100, 100), dtype=bool))
    table = mask_table(mask, [1] * 100, [1] * 100, max_cells=8)
    assert table.shown_queries == list(range(8)) and table.shown_keys == list(range(8))
    assert table.keys[-1] is None and table.rows[-1].query is None
    assert "showing rows 0-7 and keys 0-7 of 100" in render_text(table)


def test_a_difference_outside_the_window_is_noted_and_listed() -> None:
    expected = np.zeros((100, 100), dtype=bool)
    actual = expected.copy()
    actual[10, 20] = actual[10, 90] = True
    table = mask_table(actual, [1] * 100, [1] * 100, other=expected, max_cells=10)
    assert table.differing_cells == [(10, 20), (10, 90)]
    assert table.marked_cells == [(10, 20)]
    text = render_text(table)
    assert "1 of 2 differing cells lie outside the shown window" in text
    assert "(10, 90)" in text.splitlines()[-1]


# -- bit strings -----------------------------------------------------------------------------------------


def test_format_bits() -> None:
    assert format_bits([True, True, True, True, True, False]) == "111110"
    assert format_bits(np.array([0, 1, 1])) == "011"


def test_row_expression_short_and_long() -> None:
    assert row_expression([1, 1, 1, 1, 1, 0]) == "'111110'"
    assert row_expression([0] * 3 + [1] * 255) == "'0' * 3 + '1' * 255"
    for row in ([], [1, 1, 1, 1, 1, 0], [0] * 3 + [1] * 255, [1, 0] * 40, [1] + [0] * 49 + [1, 0, 1] * 5):
        assert eval(row_expression(row)) == format_bits(row)


@given(st.lists(st.booleans(), max_size=400))
def test_row_expression_round_trips_by_eval(row: list[bool]) -> None:
    expression = row_expression(row)
    assert eval(expression) == format_bits(row)
    assert len(expression) <= len(format_bits(row)) + 2


# -- JSON ------------------------------------------------------------------------------------------------


def test_json_forms_are_serialisable_and_faithful() -> None:
    table = mask_table(user_mask("rowwise"), USER_PAD, USER_ATT, other=user_mask())
    data = json.loads(json.dumps(table_to_json(table)))
    assert data["differing_cells"] == [list(cell) for cell in ROWWISE_LEAK_CELLS]
    assert data["rows"][0]["cells"] == [1, 1, 1, 1, 1, 0]
    assert data["rows"][0]["marked"] == [False, False, False, True, True, False]
    assert table.to_json() == table_to_json(table)
    assert mask_to_json(reference_mask(USER_PAD, USER_ATT))[0] == [
        [int(b) for b in r] for r in BLOCK_CAUSAL_ROWS
    ]
    assert differences_to_json(user_mask(), user_mask("rowwise"))[0] == {
        "query": 0,
        "key": 3,
        "expected": 0,
        "actual": 1,
    }


def test_windowed_json_uses_null_for_elided_cells() -> None:
    expected, actual = causal_300_with_flip()
    data = table_to_json(mask_table(actual, [1] * 300, [1] * 300, other=expected))
    assert data["keys"][0] is None and data["rows"][0]["query"] is None
    assert set(data["rows"][0]["cells"]) == {None}


# -- validation ------------------------------------------------------------------------------------------


def test_batch_mask_is_rejected_with_a_hint() -> None:
    with pytest.raises(ValueError, match=r"pass one entry, mask\[b\]"):
        mask_table(reference_mask(USER_PAD, USER_ATT), USER_PAD, USER_ATT)


def test_wrong_lengths_and_values_are_rejected() -> None:
    with pytest.raises(ValueError, match="pad: expected one row of length L = 6"):
        mask_table(user_mask(), [1, 1], USER_ATT)
    with pytest.raises(ValueError, match="labels"):
        mask_table(user_mask(), USER_PAD, USER_ATT, labels=["IMG"])
    with pytest.raises(ValueError, match="decode an additive float mask"):
        mask_table(np.where(user_mask(), 0.0, -1e9), USER_PAD, USER_ATT)
    with pytest.raises(ValueError, match="max_cells"):
        mask_table(user_mask(), USER_PAD, USER_ATT, max_cells=0)


# -- rich ------------------------------------------------------------------------------------------------


def test_render_rich_contains_the_cells() -> None:
    pytest.importorskip("rich")
    from rich.console import Console
    from rich.table import Table

    from maskoracle.reports.tables import render_comparison_rich, render_rich

    actual = user_mask("rowwise", pad_queries="free")
    compared = [bool(p) for p in USER_PAD]
    table = render_rich(mask_table(actual, USER_PAD, USER_ATT, other=user_mask(), compared_rows=compared))
    assert isinstance(table, Table)
    console = Console(record=True, width=200, file=io.StringIO())
    console.print(table)
    console.print(render_comparison_rich(user_mask(), actual, USER_PAD, USER_ATT, compared_rows=compared))
    text = console.export_text()
    assert "✓" in text and "✗" in text and "[✓]" in text
    assert "0 (blk 0)" in text and "5 (pad) (not compared)" in text
    assert "6 differing cells (query, key): expected -> actual" in text


def test_marked_rich_cells_are_bold_red_reverse() -> None:
    pytest.importorskip("rich")
    from maskoracle.reports.tables import render_rich

    table = render_rich(mask_table(user_mask("rowwise"), USER_PAD, USER_ATT, other=user_mask()))
    from rich.text import Text

    first_cell_of_key_three = list(table.columns[4].cells)[0]
    assert isinstance(first_cell_of_key_three, Text)
    assert str(first_cell_of_key_three) == "[✓]" and str(first_cell_of_key_three.style) == "bold red reverse"


def test_plain_functions_work_without_rich() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["rich"] = None  # any import of rich now fails
        from maskoracle.oracle import reference_mask
        from maskoracle.reports import tables
        pad, att = [1, 1, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1]
        expected = reference_mask(pad, att)[0]
        actual = reference_mask(pad, att, spec="rowwise")[0]
        print(tables.render_text(tables.mask_table(actual, pad, att, other=expected)))
        print(tables.render_comparison_text(expected, actual, pad, att))
        try:
            tables.render_rich(tables.mask_table(actual, pad, att))
        except ImportError as error:
            print("ImportError:", error)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "| 0 (blk 0) |  ✓  |  ✓  |  ✓  | [✓] | [✓] |  ✗  |" in result.stdout
    assert "ImportError: this renderer needs the optional package 'rich'" in result.stdout


def test_module_does_not_import_rich_at_top_level() -> None:
    source = (REPO_ROOT / "maskoracle" / "reports" / "tables.py").read_text(encoding="utf-8")
    top_level = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not [line for line in top_level if "rich" in line]


def test_mask_table_is_a_plain_dataclass() -> None:
    table = mask_table(user_mask(), USER_PAD, USER_ATT, title="block_causal")
    assert isinstance(table, MaskTable)
    assert render_text(table).splitlines()[0] == "block_causal"
    assert table.column_headers == ["0", "1", "2", "3", "4", "5"]
    assert table.rows[3].cells == [True, True, True, True, False, False]
