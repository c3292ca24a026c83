"""The layout-design commands: ``maskoracle leaks``, ``maskoracle diff``, ``--png`` and ``check --spec FILE:LAYOUT``."""

from __future__ import annotations

import builtins
import inspect
import json
import textwrap
from pathlib import Path

import pytest

from maskoracle.cli import main
from tests.fixtures.group_rule_by_hand import group_rule_by_hand

USER = ["--pad", "111110", "--att", "000111", "--labels", "IMG,IMG,LANG,SUB0,SUB1,PAD", "--plain"]
LAYOUT_FILE = textwrap.dedent("""\
    from maskoracle.layouts import Layout, Segment
    LEAKY = Layout("leaky", [
        Segment("image", 2),
        Segment("subtask", 2, rule="causal"),
        Segment("state", 1, sees=["image", "subtask"]),
        Segment("actions", 2, sees=["image", "state"]),
    ])
    HIDDEN = Layout("hidden", [
        Segment("image", 3, sees=["language"]),
        Segment("language", 2, padding="right"),
        Segment("subtask", 2, rule="causal", padding="right"),
        Segment("actions", 3, sees=["image", "language"]),
    ])
""")
OFF_BY_ONE = textwrap.dedent("""\
    import numpy as np
    def block_causal(pad_masks, att_masks):
        blocks = np.cumsum(np.asarray(att_masks, bool), axis=1)
        pad = np.asarray(pad_masks, bool)
        mask = blocks[:, None, :] < blocks[:, :, None]
        return mask & pad[:, None, :] & pad[:, :, None]
""")


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_leaks_shows_the_users_leak_under_rowwise(tmp_path: Path, capsys) -> None:
    out = tmp_path / "leaks.json"
    assert main(["leaks", *USER, "--spec", "rowwise", "--layers", "2", "--json", str(out)]) == 1
    report = _json(out)
    assert report["spec"] == "rowwise" and report["layers"] == 2
    assert [(leak["batch"], leak["reader"], leak["source"], leak["path"]) for leak in report["leaks"]] == \
        [(0, 3, 4, [3, 0, 4])]
    assert report["leaks"][0]["path_labels"] == ["SUB0", "IMG0", "SUB1"]
    assert "SUB1 -> IMG0 -> SUB0" in capsys.readouterr().out


def test_leaks_finds_nothing_under_block_causal(tmp_path: Path) -> None:
    out = tmp_path / "leaks.json"
    assert main(["leaks", *USER, "--json", str(out)]) == 0
    report = _json(out)
    assert report["spec"] == "block_causal" and report["leaks"] == []
    assert report["reach"] == report["mask"]


def test_leaks_of_a_layout_file_name_the_segments(tmp_path: Path, capsys) -> None:
    layouts = tmp_path / "layouts.py"
    layouts.write_text(LAYOUT_FILE)
    out = tmp_path / "leaks.json"
    assert main(["leaks", "--layout", f"{layouts}:LEAKY", "--plain", "--json", str(out)]) == 1
    first = _json(out)["leaks"][0]
    assert first["path_labels"] == ["actions0", "state", "subtask0"]
    assert first["reader_segment"] == "actions" and first["source_segment"] == "subtask"
    assert main(["leaks", "--layout", f"{layouts}:HIDDEN", "--plain"]) == 0
    assert main(["leaks", "--layout", "pi05_subtask", "--spec", "rowwise", "--plain"]) == 1
    assert "subtask1 -> image0 -> subtask0" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["leaks", "--pad", "111"], "--att"),
    (["leaks", "--layout", "nothing"], "built-in"),
    (["leaks", "--layout", "pi05_subtask_hidden", "--spec", "block_causal"], "no (pad, att) form"),
    (["leaks", "--layout", "pi0", "--lengths", "1,x"], "--lengths"),
    (["leaks", "--pad", "11", "--att", "1", "--plain"], "must match"),
    (["diff", "block_causal", "nowhere"], "TARGET"),
])
def test_usage_errors_are_one_line_exit_2(argv: list[str], message: str, capsys) -> None:
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_diff_of_two_specs_is_the_smallest_input(tmp_path: Path) -> None:
    out = tmp_path / "diff.json"
    assert main(["diff", "block_causal", "rowwise", "--plain", "--json", str(out)]) == 1
    report = _json(out)
    assert report["differ"] is True
    example = report["counterexample"]
    assert example["pad"] == [[1, 1]] and example["att"] == [[0, 1]]
    assert example["differing_cells"] == [[0, 0, 1]]


def test_diff_of_a_target_and_a_spec(tmp_path: Path, capsys) -> None:
    buggy = tmp_path / "buggy.py"
    buggy.write_text(OFF_BY_ONE)
    out = tmp_path / "diff.json"
    assert main(["diff", f"{buggy}:block_causal", "block_causal", "--framework", "numpy", "--plain",
                 "--json", str(out)]) == 1
    example = _json(out)["counterexample"]
    assert example["pad"] == [[1]] and example["a"] == [[[0]]] and example["b"] == [[[1]]]
    assert main(["diff", "maskoracle.implementations.numpy:block_causal", "block_causal", "--framework", "numpy",
                 "--max-examples", "10", "--exhaustive-length", "4", "--plain"]) == 0
    assert "no difference found" in capsys.readouterr().out


def test_check_names_a_layout_file_as_spec(tmp_path: Path) -> None:
    layouts = tmp_path / "layouts.py"
    layouts.write_text(LAYOUT_FILE)
    impl = tmp_path / "impl.py"
    # The rule written by hand, not the oracle: checking the oracle against itself would pass whatever it did.
    impl.write_text("from __future__ import annotations\nfrom layouts import HIDDEN\n"
                    "def mask(pad, segment_ids):\n"
                    "    return group_rule_by_hand(pad, segment_ids, HIDDEN)\n"
                    + inspect.getsource(group_rule_by_hand))
    out = tmp_path / "check.json"
    assert main(["check", f"{impl}:mask", "--framework", "numpy", "--spec", f"{layouts}:HIDDEN",
                 "--max-examples", "10", "--seed", "0", "--plain", "--json", str(out)]) == 0
    assert _json(out)["options"]["segments"] == ["image", "language", "subtask", "actions"]
    with pytest.raises(SystemExit) as exited:  # argparse's one-line error
        main(["check", f"{impl}:mask", "--spec", "no_such_layout", "--seed", "0"])
    assert exited.value.code == 2


@pytest.mark.parametrize("argv", [
    ["explain", *USER, "--vs", "rowwise"],
    ["leaks", *USER, "--spec", "rowwise"],
    ["diff", "block_causal", "rowwise", "--plain"],
])
def test_png_pictures_are_written(argv: list[str], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    picture = tmp_path / "sub" / "mask.png"
    main([*argv, "--png", str(picture)])
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_without_matplotlib_is_a_usage_error(tmp_path: Path, monkeypatch, capsys) -> None:
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert main(["explain", *USER, "--png", str(tmp_path / "x.png")]) == 2
    assert "needs matplotlib" in capsys.readouterr().err


def test_explain_a_layout_says_why_it_has_no_att_and_shows_segment_labels(tmp_path: Path, capsys) -> None:
    layouts = tmp_path / "layouts.py"
    layouts.write_text(LAYOUT_FILE)
    out = tmp_path / "explain.json"
    assert main(["explain", "--layout", f"{layouts}:HIDDEN", "--lengths", "1,2,2,1", "--real", "1,1,2,1",
                 "--plain", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "no (pad, att) expresses it: 'actions' must not see 'subtask'" in text
    report = _json(out)
    assert report["expressible"] is False and report["att"] is None
    assert report["labels"] == ["image", "language0", "language1", "subtask0", "subtask1", "actions"]
    assert report["mask"][0][5] == [1, 1, 0, 0, 0, 1]  # actions see image and language0, not the subtask
    assert main(["explain", "--layout", "pi05_subtask", "--vs", "rowwise", "--plain"]) == 0
    assert "compiles to (pad, att): att 00001110" in capsys.readouterr().out
    assert main(["explain", "--plain"]) == 2


def test_diff_respects_pad_queries_free(tmp_path: Path) -> None:
    keys_only = tmp_path / "keys_only.py"
    keys_only.write_text(textwrap.dedent("""\
        import numpy as np
        def mask(pad, att):
            blocks = np.cumsum(np.asarray(att, bool), axis=1)
            return (blocks[:, None, :] <= blocks[:, :, None]) & np.asarray(pad, bool)[:, None, :]
    """))
    out = tmp_path / "diff.json"
    assert main(["diff", f"{keys_only}:mask", "block_causal", "--framework", "numpy", "--plain",
                 "--json", str(out)]) == 1
    example = _json(out)["counterexample"]
    assert example["pad"] == [[0, 1]] and example["differing_cells"] == [[0, 0, 1]]  # the padded query row
    assert main(["diff", f"{keys_only}:mask", "block_causal", "--framework", "numpy", "--pad-queries", "free",
                 "--max-examples", "10", "--exhaustive-length", "4", "--plain"]) == 0


def test_diff_reports_a_hanging_side_without_retrying_row_by_row(tmp_path: Path, capsys) -> None:
    hang = tmp_path / "hang.py"
    hang.write_text("import time\ndef mask(pad, att):\n    time.sleep(30)\n")
    assert main(["diff", f"{hang}:mask", "block_causal", "--framework", "numpy", "--timeout", "0.2",
                 "--plain"]) == 1
    assert "timed out" in capsys.readouterr().out
