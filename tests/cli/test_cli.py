"""Tests for the ``maskoracle`` command line (INTERFACE.md, "CLI"): ``check``, ``explain`` and ``demo``.

Most cases call ``maskoracle.cli.main`` in-process (fast); a few run ``python -m maskoracle.cli`` in a
subprocess for what only a real process shows: no traceback on stderr, no ANSI codes when piped, and the
printed reproduce snippet running on its own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from maskoracle.cli import main
from maskoracle.oracle import reference_mask

NUMPY_BUILTIN = "maskoracle.implementations.numpy:block_causal"

# The user's example (SPEC §3): tokens IMG IMG LANG SUB0 SUB1 PAD.
BLOCK_CAUSAL_ROWS = ["✓✓✓✗✗✗", "✓✓✓✗✗✗", "✓✓✓✗✗✗", "✓✓✓✓✗✗", "✓✓✓✓✓✗", "✗✗✗✗✗✗"]
EXPLANATION_TABLE_ROWS = ["✓✓✓✓✓✗", "✓✓✓✓✓✗", "✓✓✓✓✓✗", "✓✓✓✓✗✗", "✓✓✓✓✓✗", "✗✗✗✗✗✗"]
PSEUDO_CODE_ROWS = EXPLANATION_TABLE_ROWS[:5] + ["✓✓✓✓✓✗"]
ROWWISE_DIFFERING_CELLS = {(0, 3), (0, 4), (1, 3), (1, 4), (2, 3), (2, 4)}

# `<` where `<=` belongs: a real token no longer sees its own block (SPEC §7, "off-by-one").
OFF_BY_ONE = """\
import numpy as np


def block_causal(pad_masks, att_masks):
    pad = np.asarray(pad_masks, dtype=bool)
    blocks = np.cumsum(np.asarray(att_masks) != 0, axis=-1)
    allowed = blocks[:, None, :] < blocks[:, :, None]
    return allowed & pad[:, None, :] & pad[:, :, None]


class Namespace:
    fn = staticmethod(block_causal)
"""

# Padding applied to keys only (SPEC §7): padded query rows are not empty. Found by the random
# equivalence check, so its counterexample comes from Hypothesis and depends on the seed.
KEYS_ONLY_NUMPY = """\
import numpy as np


def block_causal(pad_masks, att_masks):
    pad = np.asarray(pad_masks, dtype=bool)
    blocks = np.cumsum(np.asarray(att_masks) != 0, axis=-1)
    return (blocks[:, None, :] <= blocks[:, :, None]) & pad[:, None, :]
"""

KEYS_ONLY_TORCH = """\
import torch


def block_causal(pad_masks, att_masks):
    blocks = torch.cumsum(att_masks.long(), dim=1)
    return (blocks[:, None, :] <= blocks[:, :, None]) & pad_masks.bool()[:, None, :]
"""


# ---------------------------------------------------------------------------------------------------------
# helpers


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``maskoracle ARGS`` in-process: (exit status, stdout, stderr). argparse errors exit via SystemExit."""
    try:
        code = main(list(args))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def run_subprocess(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "maskoracle.cli", *args],
        capture_output=True, text=True, encoding="utf-8", cwd=cwd, timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


def write_module(directory: Path, name: str, source: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _restore_import_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``load_target`` adds folders to ``sys.path`` and target modules to ``sys.modules``; undo both."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("maskoracle_target_") or name == "local_masks":
            del sys.modules[name]


MARK = re.compile(r"\[?([✓✗])\]?")
TABLE_ROW = re.compile(r"\|\s*(\d+)[^|]*((?:\|\s*\[?[✓✗]\]?\s*)+)")


def parse_tables(text: str) -> list[list[tuple[str, set[int]]]]:
    """Every plain ✓/✗ table in ``text``, in order: rows as ("✓✗..", {columns marked as differing}).

    Side-by-side tables (expected | actual) on one line are returned as two tables, left first.
    """
    tables: list[list[tuple[str, set[int]]]] = []
    current: list[list[tuple[str, set[int]]]] = []
    for line in text.splitlines() + [""]:
        segments = TABLE_ROW.findall(line)
        if not segments:
            tables.extend(current)
            current = []
            continue
        if not current:
            current = [[] for _ in segments]
        for k, (_, cells) in enumerate(segments):
            marks = [cell.strip() for cell in cells.split("|")[1:]]
            row = "".join(MARK.fullmatch(cell).group(1) for cell in marks)  # type: ignore[union-attr]
            differing = {column for column, cell in enumerate(marks) if cell.startswith("[")}
            current[k].append((row, differing))
    return tables


def rows_of(table: list[tuple[str, set[int]]]) -> list[str]:
    return [row for row, _ in table]


def marked_cells(table: list[tuple[str, set[int]]]) -> set[tuple[int, int]]:
    return {(query, key) for query, (_, differing) in enumerate(table) for key in differing}


def failure_section(output: str, check_name: str) -> str:
    """The text printed for one failed check, from its "✗ name:" line to the next failure or the end."""
    start = output.index(f"\n✗ {check_name}: ")
    following = output.find("\n\n✗ ", start + 1)
    return output[start:] if following < 0 else output[start:following]


def reproduce_command(section: str) -> str:
    match = re.search(r"^ {2}reproduce:\n {4}(maskoracle check .*)$", section, re.MULTILINE)
    assert match, f"no reproduce command in:\n{section}"
    return match.group(1)


def reproduce_snippet(section: str) -> str:
    lines = section.split("  or in Python:\n", 1)[1].splitlines()
    snippet = []
    for line in lines:
        if not line.startswith("    "):
            break
        snippet.append(line[4:])
    assert snippet, f"no Python snippet in:\n{section}"
    return "\n".join(snippet) + "\n"


def comparable(report: dict) -> list[tuple]:
    """What a seeded run must repeat exactly (timings excluded)."""
    return [(c["name"], c["passed"], c["examples"], c["message"], c["counterexample"]) for c in report["checks"]]


def is_bits(value: object, depth: int) -> bool:
    """A nested list ``depth`` levels deep of ints 0/1."""
    if depth == 0:
        return type(value) is int and value in (0, 1)
    return isinstance(value, list) and len(value) > 0 and all(is_bits(item, depth - 1) for item in value)


# ---------------------------------------------------------------------------------------------------------
# check: a correct implementation


def test_check_correct_builtin_passes_and_writes_the_interface_json(capsys, tmp_path):
    report_path = tmp_path / "out" / "report.json"  # a missing folder is created
    code, out, err = run_cli(capsys, "check", NUMPY_BUILTIN, "--framework", "numpy", "--max-examples", "20",
                             "--seed", "3", "--json", str(report_path))
    assert code == 0, out + err
    assert err == ""
    assert "PASSED" in out and "FAILED" not in out
    assert "✗" not in out

    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert {"target", "spec", "options", "passed", "elapsed_s", "checks"} <= report.keys()
    assert report["target"] == NUMPY_BUILTIN
    assert report["spec"] == "block_causal"
    assert report["passed"] is True
    assert isinstance(report["elapsed_s"], float) and report["elapsed_s"] >= 0
    assert isinstance(report["options"], dict)
    assert report["options"]["framework"] == "numpy"
    assert report["options"]["max_examples"] == 20
    assert report["options"]["seed"] == 3

    names = [entry["name"] for entry in report["checks"]]
    assert {"output_format", "spec_examples", "exhaustive_small", "equivalence"} <= set(names)
    assert len(names) == len(set(names))
    for entry in report["checks"]:
        assert {"name", "passed", "examples", "message", "counterexample"} <= entry.keys()
        assert isinstance(entry["name"], str)
        assert entry["passed"] is True
        # A check that does not apply (result_device for numpy arrays) is "skipped", with no examples.
        minimum = 0 if entry["status"] == "skipped" else 1
        assert type(entry["examples"]) is int and entry["examples"] >= minimum
        assert isinstance(entry["message"], str)
        assert entry["counterexample"] is None
        assert entry["name"] in out  # every check has its line in the summary
    equivalence = next(entry for entry in report["checks"] if entry["name"] == "equivalence")
    # "inputs" counts the Hypothesis examples (--max-examples); "examples" the batch rows compared (issue 15),
    # the batched search's included, so at least one per input.
    assert equivalence["inputs"] == 20
    assert equivalence["examples"] >= 20 and equivalence["longest"] >= 1


# ---------------------------------------------------------------------------------------------------------
# check: a wrong implementation


@pytest.fixture
def off_by_one(tmp_path) -> Path:
    return write_module(tmp_path, "off_by_one.py", OFF_BY_ONE)


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(f"_test_cli_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return getattr(module, name)


@pytest.mark.parametrize("attribute", ["block_causal", "Namespace.fn"])
def test_check_wrong_file_target_fails_with_counterexample_tables_and_reproduction(capsys, tmp_path, off_by_one,
                                                                                attribute):
    target = f"{off_by_one}:{attribute}"
    report_path = tmp_path / "report.json"
    # unseeded: the other run draws a random seed (the reproduce command must carry it); spec_examples fails
    # it whatever the seed.
    seed = ["--seed", "5"] if attribute == "block_causal" else []
    code, out, err = run_cli(capsys, "check", target, "--framework", "numpy", "--max-examples", "20", *seed,
                             "--json", str(report_path))
    assert code == 1, out + err
    assert "Traceback" not in out + err
    assert "FAILED" in out

    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["passed"] is False
    assert report["target"] == target
    failed = [entry for entry in report["checks"] if not entry["passed"]]
    assert {"spec_examples", "exhaustive_small", "equivalence", "real_query_sees_itself"} <= {
        entry["name"] for entry in failed}

    wrong = _load(off_by_one, "block_causal")
    for entry in failed:
        section = failure_section(out, entry["name"])
        example = entry["counterexample"]
        assert example is not None, entry
        assert is_bits(example["pad"], 2) and is_bits(example["att"], 2)
        assert is_bits(example["expected"], 3) and is_bits(example["actual"], 3)
        assert example["expected"] != example["actual"]
        pad = np.array(example["pad"], dtype=bool)
        att = np.array(example["att"], dtype=bool)
        # expected is the oracle's mask and actual what the implementation really returns on that input.
        assert example["expected"] == reference_mask(pad, att).astype(int).tolist()
        assert example["actual"] == wrong(pad, att).astype(int).tolist()

        # The failure text: the check's name, the input rows, expected vs actual tables with marked cells.
        if pad.shape[1] <= 64:
            for b, (pad_row, att_row) in enumerate(zip(example["pad"], example["att"], strict=True)):
                assert f"pad[{b}] = {''.join(map(str, pad_row))}" in section
                assert f"att[{b}] = {''.join(map(str, att_row))}" in section
            tables = parse_tables(section)
            assert len(tables) == 2, section  # expected and actual side by side
            expected_table, actual_table = tables
            batch = next(b for b in range(len(pad)) if example["expected"][b] != example["actual"][b])
            as_marks = [["".join("✓" if v else "✗" for v in row) for row in mask] for mask in
                        (example["expected"][batch], example["actual"][batch])]
            assert rows_of(expected_table) == as_marks[0]
            assert rows_of(actual_table) == as_marks[1]
            differing = {(q, k) for q in range(pad.shape[1]) for k in range(pad.shape[1])
                         if as_marks[0][q][k] != as_marks[1][q][k]}
            assert marked_cells(actual_table) == differing
        command = reproduce_command(section)
        assert command.startswith(f"maskoracle check {shlex.quote(target)} ")
        assert "--framework numpy" in command
        assert f"--seed {report['options']['seed']}" in command
        if seed:
            assert report["options"]["seed"] == 5
        snippet = reproduce_snippet(section)
        assert "reference_mask" in snippet and target in snippet

    # The summary names the failed checks with ✗.
    for entry in failed:
        assert re.search(rf"^\s+✗ {entry['name']}\b", out, re.MULTILINE), entry["name"]


def test_reproduce_snippet_runs_and_shows_the_difference(capsys, tmp_path, off_by_one):
    code, out, _ = run_cli(capsys, "check", f"{off_by_one}:block_causal", "--framework", "numpy",
                           "--max-examples", "10", "--seed", "1")
    assert code == 1
    snippet = reproduce_snippet(failure_section(out, "equivalence"))
    # Run it as a user would paste it, then confirm it really reproduces the disagreement.
    script = tmp_path / "snippet.py"
    script.write_text(snippet + "assert (np.asarray(actual) != expected).any(), 'snippet did not reproduce'\n",
                      encoding="utf-8")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(r"\[\[\[[01]", result.stdout), result.stdout  # the expected mask, printed as ints


def test_reproduce_snippet_for_torch_runs(capsys, tmp_path):
    pytest.importorskip("torch")
    path = write_module(tmp_path, "keys_only_torch.py", KEYS_ONLY_TORCH)
    code, out, _ = run_cli(capsys, "check", f"{path}:block_causal", "--max-examples", "20", "--seed", "2",
                           "--att-dtype", "float32")
    assert code == 1, out
    snippet = reproduce_snippet(failure_section(out, "spec_examples"))
    assert "import torch" in snippet and "torch.float32" in snippet
    script = tmp_path / "snippet.py"
    script.write_text(snippet + "assert (np.asarray(actual) != expected).any()\n", encoding="utf-8")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "tensor(" in result.stdout


def test_seed_makes_failing_runs_identical_and_the_reproduce_command_repeats_them(capsys, tmp_path):
    """Run once with --seed, then run the reproduce command the failure printed: the same checks, the same
    examples and the same counterexamples (timings aside)."""
    path = write_module(tmp_path, "keys_only.py", KEYS_ONLY_NUMPY)
    first_path, second_path = tmp_path / "first.json", tmp_path / "second.json"
    code, out, _ = run_cli(capsys, "check", f"{path}:block_causal", "--framework", "numpy",
                           "--max-examples", "20", "--seed", "123", "--json", str(first_path))
    assert code == 1
    command = reproduce_command(failure_section(out, "equivalence"))
    arguments = shlex.split(command)
    assert arguments[:2] == ["maskoracle", "check"]
    assert arguments[arguments.index("--seed") + 1] == "123"
    code, _, _ = run_cli(capsys, *arguments[1:], "--json", str(second_path))
    assert code == 1
    first = json.loads(first_path.read_text(encoding="utf-8"))
    second = json.loads(second_path.read_text(encoding="utf-8"))
    assert comparable(first) == comparable(second)
    assert first["options"] == second["options"]

    equivalence = next(c for c in first["checks"] if c["name"] == "equivalence")
    assert equivalence["passed"] is False
    # Shrunk to the smallest input that shows keys-only padding: one padded query beside one real key.
    assert (equivalence["counterexample"]["pad"], equivalence["counterexample"]["att"]) == ([[1, 0]], [[0, 0]])


def test_counterexamples_are_shrunk_to_one_batch_row(capsys, tmp_path):
    path = write_module(tmp_path, "keys_only.py", KEYS_ONLY_NUMPY)
    report_path = tmp_path / "report.json"
    code, _, _ = run_cli(capsys, "check", f"{path}:block_causal", "--framework", "numpy", "--max-examples", "20",
                         "--seed", "2", "--json", str(report_path))
    assert code == 1
    checks = {c["name"]: c for c in json.loads(report_path.read_text(encoding="utf-8"))["checks"]}
    for name in ("equivalence", "padded_queries_empty"):
        assert checks[name]["passed"] is False
        example = checks[name]["counterexample"]
        assert (example["pad"], example["att"]) == ([[1, 0]], [[0, 0]]), name


def test_exitfirst_flag_stops_after_the_first_failed_check(capsys, tmp_path):
    path = write_module(tmp_path, "keys_only.py", KEYS_ONLY_NUMPY)
    report_path = tmp_path / "report.json"
    code, _, _ = run_cli(capsys, "check", f"{path}:block_causal", "--framework", "numpy", "--max-examples", "20",
                         "--seed", "2", "--exitfirst", "--json", str(report_path))
    assert code == 1
    checks = json.loads(report_path.read_text(encoding="utf-8"))["checks"]
    failed = [c["name"] for c in checks if c["passed"] is False]
    assert len(failed) == 1
    after = checks[[c["name"] for c in checks].index(failed[0]) + 1:]
    assert after and all(c["status"] == "skipped" and "--exitfirst" in c["message"] for c in after)


# ---------------------------------------------------------------------------------------------------------
# usage errors: exit 2, one line on stderr, no traceback


def _usage_files(tmp_path: Path) -> dict[str, str]:
    write_module(tmp_path, "boom.py", 'raise RuntimeError("boom")\n')
    write_module(tmp_path, "exits.py", "import sys\nsys.exit(3)\n")
    write_module(tmp_path, "not_callable.py", "block_causal = 3\n")
    return {"dir": str(tmp_path)}


CHECK_USAGE_ERRORS = [
    # (arguments after "check", a word the one-line message must contain)
    ([NUMPY_BUILTIN, "--spec", "nope"], "--spec"),
    ([NUMPY_BUILTIN, "--layout", "nope"], "--layout"),
    ([NUMPY_BUILTIN, "--att-dtype", "int8"], "--att-dtype"),
    ([NUMPY_BUILTIN, "--pad-queries", "x"], "--pad-queries"),
    ([NUMPY_BUILTIN, "--padding", "middle"], "--padding"),
    ([NUMPY_BUILTIN, "--max-examples", "0"], "--max-examples"),
    ([NUMPY_BUILTIN, "--max-examples", "many"], "--max-examples"),
    ([NUMPY_BUILTIN, "--timeout", "-1"], "--timeout"),
    ([NUMPY_BUILTIN, "--timeout", "0"], "--timeout"),
    ([NUMPY_BUILTIN, "--seed", "x"], "--seed"),
    (["maskoracle.implementations.numpy"], "TARGET"),
    (["no_such_module_xyz:fn"], "no_such_module_xyz"),
    (["maskoracle.implementations.numpy:no_such_function"], "no_such_function"),
    (["maskoracle.implementations.numpy:block_causal.nope"], "nope"),
    (["{dir}/not_callable.py:block_causal"], "callable"),
    (["{dir}/missing.py:block_causal"], "missing.py"),
    (["{dir}/boom.py:block_causal"], "boom"),
    (["{dir}/exits.py:block_causal"], "SystemExit"),
    ([NUMPY_BUILTIN, "--framework", "jax", "--att-dtype", "int64"], "jax"),
    ([NUMPY_BUILTIN, "--framework", "jax", "--device", "warp-drive"], "jax"),
    ([NUMPY_BUILTIN, "--kind", "nope"], "--kind"),
    ([NUMPY_BUILTIN, "--kind", "kv_cache", "--spec", "rowwise"], "--spec"),
    ([NUMPY_BUILTIN, "--framework", "numpy", "--device", "cuda"], "--device"),
    ([], "TARGET"),
]


@pytest.mark.parametrize("arguments, word", CHECK_USAGE_ERRORS,
                         ids=[" ".join(args) or "no-target" for args, _ in CHECK_USAGE_ERRORS])
def test_check_usage_errors_exit_2_with_one_line(capsys, tmp_path, arguments, word):
    names = _usage_files(tmp_path)
    # unseeded: usage errors, found before anything random runs
    code, out, err = run_cli(capsys, "check", *[arg.format(**names) for arg in arguments])
    assert code == 2, out + err
    assert out == ""  # nothing ran
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("maskoracle")
    assert "Traceback" not in err
    assert word in err


EXPLAIN_USAGE_ERRORS = [
    (["--pad", "11x", "--att", "000"], "'x'"),
    (["--pad", "111", "--att", "0x0"], "--att"),
    (["--pad", "111", "--att", "00"], "--att"),
    (["--pad", "11,111", "--att", "11,111"], "lengths"),
    (["--pad", "11,", "--att", "00,"], "empty row"),
    (["--pad", "", "--att", ""], "empty row"),
    (["--pad", "1110,1111", "--att", "0011"], "--att"),
    (["--pad", "111", "--att", "000", "--labels", "a,b"], "--labels"),
    (["--pad", "111", "--att", "000", "--spec", "nope"], "--spec"),
    (["--pad", "111", "--att", "000", "--vs", "nope"], "--vs"),
    (["--pad", "111"], "--att"),
]


@pytest.mark.parametrize("arguments, word", EXPLAIN_USAGE_ERRORS,
                         ids=[" ".join(args) for args, _ in EXPLAIN_USAGE_ERRORS])
def test_explain_usage_errors_exit_2_with_one_line(capsys, arguments, word):
    code, out, err = run_cli(capsys, "explain", *arguments)
    assert code == 2, out + err
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert word in err


@pytest.mark.parametrize("arguments", [["frobnicate"], [], ["demo", "--max-examples", "0"]],
                         ids=["unknown-command", "no-command", "demo-max-examples-0"])
def test_top_level_usage_errors_exit_2(capsys, arguments):
    code, out, err = run_cli(capsys, *arguments)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err


def test_unwritable_json_path_is_a_usage_error(capsys, tmp_path):
    (tmp_path / "a_folder").mkdir()
    code, _, err = run_cli(capsys, "explain", "--pad", "11", "--att", "01", "--json", str(tmp_path / "a_folder"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "--json" in err


def test_unwritable_json_path_leaves_no_temporary_file(capsys, tmp_path):
    (tmp_path / "a_folder").mkdir()
    code, _, _ = run_cli(capsys, "explain", "--pad", "11", "--att", "01", "--json", str(tmp_path / "a_folder"))
    assert code == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a_folder"]


@pytest.mark.parametrize("timeout, status", [("86400", 0), ("1e12", 2), ("inf", 2)])
def test_huge_timeout_does_not_fail_a_correct_implementation(capsys, timeout, status):
    """The limit is at most a day (``MAX_TIMEOUT_S``, beyond which the timer cannot be armed everywhere): a day
    itself is accepted and arms the timer without overflowing; more is a one-line usage error."""
    code, out, err = run_cli(capsys, "check", NUMPY_BUILTIN, "--framework", "numpy", "--max-examples", "5",
                             "--timeout", timeout, "--seed", "0", "--plain")
    assert code == status, out + err
    assert "OverflowError" not in out + err
    if status == 2:
        assert out == "" and len(err.strip().splitlines()) == 1, err
        assert "--timeout" in err and "at most 86400 seconds" in err, err
    else:
        assert "FAILED" not in out and err == "", out + err


def test_att_dtype_the_framework_cannot_build_is_a_usage_error(capsys):
    if importlib.util.find_spec("ml_dtypes") is not None:
        pytest.skip("ml_dtypes is installed, so numpy bfloat16 inputs can be built")
    code, out, err = run_cli(capsys, "check", NUMPY_BUILTIN, "--framework", "numpy", "--att-dtype", "bfloat16", "--seed", "0",
                             "--max-examples", "5")
    assert code == 2, out
    assert "ml_dtypes" in err and len(err.strip().splitlines()) == 1


# The same in a real process: stderr is exactly one line and never a traceback.
@pytest.mark.parametrize("arguments", [
    ["check", "{dir}/boom.py:block_causal"],
    ["check", "{dir}/exits.py:block_causal"],
    ["check", "{dir}/missing.py:block_causal"],
    ["check", NUMPY_BUILTIN, "--spec", "nope"],
    ["frobnicate"],
], ids=["raises-at-import", "sys-exit-at-import", "missing-file", "bad-spec", "unknown-command"])
def test_usage_errors_in_a_real_process(tmp_path, arguments):
    names = _usage_files(tmp_path)
    result = run_subprocess(*[arg.format(**names) for arg in arguments], cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_relative_file_target_and_module_in_working_directory(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_module(tmp_path, "local_masks.py", OFF_BY_ONE)
    for target in ("local_masks.py:block_causal", "local_masks:Namespace.fn"):
        code, out, err = run_cli(capsys, "check", target, "--framework", "numpy", "--max-examples", "5",
                                 "--seed", "0")
        assert code == 1, target + out + err
        assert f"maskoracle check {target}" in out


# ---------------------------------------------------------------------------------------------------------
# explain


def test_explain_user_example_gives_the_block_causal_table_of_spec_section_3(capsys):
    code, out, err = run_cli(capsys, "explain", "--pad", "111110", "--att", "000111")
    assert code == 0, err
    tables = parse_tables(out)
    assert len(tables) == 1
    assert rows_of(tables[0]) == BLOCK_CAUSAL_ROWS
    assert marked_cells(tables[0]) == set()
    assert "blocks 0 0 0 1 2 3" in out


def test_explain_accepts_t_and_f(capsys):
    code, out, _ = run_cli(capsys, "explain", "--pad", "TTTTTF", "--att", "FFFTTT")
    assert code == 0
    assert rows_of(parse_tables(out)[0]) == BLOCK_CAUSAL_ROWS


def test_explain_rowwise_free_is_the_explanations_pseudo_code(capsys):
    code, out, _ = run_cli(capsys, "explain", "--pad", "111110", "--att", "000111", "--spec", "rowwise",
                           "--pad-queries", "free")
    assert code == 0
    assert rows_of(parse_tables(out)[0]) == PSEUDO_CODE_ROWS
    code, out, _ = run_cli(capsys, "explain", "--pad", "111110", "--att", "000111", "--spec", "rowwise")
    assert rows_of(parse_tables(out)[0]) == EXPLANATION_TABLE_ROWS


def test_explain_vs_marks_the_differing_cells_and_writes_json(capsys, tmp_path):
    json_path = tmp_path / "explain.json"
    code, out, _ = run_cli(capsys, "explain", "--pad", "111110", "--att", "000111", "--vs", "rowwise",
                           "--labels", "IMG,IMG,LANG,SUB0,SUB1,PAD", "--json", str(json_path))
    assert code == 0
    tables = parse_tables(out)
    assert len(tables) == 2
    assert rows_of(tables[0]) == BLOCK_CAUSAL_ROWS
    assert rows_of(tables[1]) == EXPLANATION_TABLE_ROWS
    assert marked_cells(tables[1]) == ROWWISE_DIFFERING_CELLS
    for label in ("IMG", "LANG", "SUB0", "SUB1", "PAD"):
        assert re.search(rf"^\| \d+ {label}\b", out, re.MULTILINE), label

    payload = json.loads(json_path.read_text(encoding="utf-8"))
    assert {"spec", "mask", "vs"} <= payload.keys()
    assert payload["spec"] == "block_causal"
    assert is_bits(payload["mask"], 3)
    assert payload["mask"] == [[[int(c == "✓") for c in row] for row in BLOCK_CAUSAL_ROWS]]
    assert isinstance(payload["vs"], dict)
    assert payload["vs"]["spec"] == "rowwise"
    assert payload["vs"]["mask"] == [[[int(c == "✓") for c in row] for row in EXPLANATION_TABLE_ROWS]]


def test_explain_json_without_vs(capsys, tmp_path):
    json_path = tmp_path / "explain.json"
    code, _, _ = run_cli(capsys, "explain", "--pad", "101", "--att", "010", "--json", str(json_path))
    assert code == 0
    payload = json.loads(json_path.read_text(encoding="utf-8"))
    # SPEC §2: padded positions still count in the block id.
    assert payload == {**payload, "spec": "block_causal", "vs": None,
                       "mask": [[[1, 0, 0], [0, 0, 0], [1, 0, 1]]]}


def test_explain_batch_shows_one_table_per_entry(capsys, tmp_path):
    json_path = tmp_path / "explain.json"
    code, out, _ = run_cli(capsys, "explain", "--pad", "1110,1111", "--att", "0011,1111", "--json", str(json_path))
    assert code == 0
    tables = parse_tables(out)
    assert [rows_of(table) for table in tables] == [
        ["✓✓✗✗", "✓✓✗✗", "✓✓✓✗", "✗✗✗✗"],
        ["✓✗✗✗", "✓✓✗✗", "✓✓✓✗", "✓✓✓✓"],
    ]
    assert "batch 0" in out and "batch 1" in out
    mask = json.loads(json_path.read_text(encoding="utf-8"))["mask"]
    expected = reference_mask([[1, 1, 1, 0], [1, 1, 1, 1]], [[0, 0, 1, 1], [1, 1, 1, 1]])
    assert mask == expected.astype(int).tolist()


# ---------------------------------------------------------------------------------------------------------
# demo


def test_demo_checks_builtins_and_shows_the_user_example_both_ways(capsys, tmp_path):
    json_path = tmp_path / "demo.json"
    code, out, err = run_cli(capsys, "demo", "--max-examples", "10", "--json", str(json_path))
    assert code == 0, out + err
    tables = parse_tables(out)
    # The explanation's table, then its pseudo-code, then the real function (SPEC §3's three columns).
    assert rows_of(tables[0]) == EXPLANATION_TABLE_ROWS
    assert marked_cells(tables[0]) == ROWWISE_DIFFERING_CELLS
    assert rows_of(tables[1]) == PSEUDO_CODE_ROWS
    assert rows_of(tables[2]) == BLOCK_CAUSAL_ROWS
    assert "SUB1 -> IMG -> SUB0" in out
    assert "maskoracle.implementations.numpy:block_causal" in out
    assert "explanation_rule" in out

    payload = json.loads(json_path.read_text(encoding="utf-8"))
    assert payload["passed"] is True
    assert len(payload["builtins"]) >= 1
    targets = {report["target"] for report in payload["builtins"]}
    assert "maskoracle.implementations.numpy:block_causal" in targets
    for report in payload["builtins"]:
        assert report["passed"] is True, report["target"]
        assert all(check["passed"] for check in report["checks"])
    assert payload["explanation"]["passed"] is False
    assert any(check["counterexample"] for check in payload["explanation"]["checks"] if not check["passed"])


# ---------------------------------------------------------------------------------------------------------
# plain output when piped


def test_piped_output_has_no_ansi_codes(tmp_path):
    path = write_module(tmp_path, "off_by_one.py", OFF_BY_ONE)
    result = run_subprocess("check", f"{path}:block_causal", "--framework", "numpy", "--max-examples", "5",
                            "--seed", "0")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "✗ equivalence" in result.stdout
    assert "\x1b[" not in result.stdout + result.stderr
    result = run_subprocess("explain", "--pad", "111110", "--att", "000111", "--vs", "rowwise")
    assert result.returncode == 0
    assert "[✓]" in result.stdout  # plain marks for the differing cells, not colour
    assert "\x1b[" not in result.stdout + result.stderr


def _run_on_terminal(*args: str) -> str:
    """Run the CLI with stdout on a pseudo-terminal; return what it wrote there."""
    import pty

    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "maskoracle.cli", *args], stdout=slave,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert process.wait(timeout=60) == 0
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_plain_flag_turns_off_rich_output_on_a_terminal():
    pytest.importorskip("rich")
    arguments = ("explain", "--pad", "111110", "--att", "000111", "--vs", "rowwise")
    assert "\x1b[" in _run_on_terminal(*arguments)  # rich on a terminal, so the check below can fail
    plain = _run_on_terminal(*arguments, "--plain")
    assert "\x1b[" not in plain
    assert "| 0 (blk 0) |" in plain
