"""The gallery's machinery (``maskoracle/gallery/run.py``) on local stand-ins: nothing is downloaded.

A fake installed package lives in a cache folder under ``tmp_path`` (``fakemasks-1.0``, with its dist-info) and
ships a right and a wrong mask function; the gallery must find its version, put the folder on the worker's path,
and report passed / failed (naming the failed check) / not installed / could not import, then take the folder
off the path. Installing is tested with hand-made wheels and ``pip --no-index`` (offline), and with a stand-in pip.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from maskoracle.cli import gallery as gallery_cli
from maskoracle.cli import main
from maskoracle.gallery import GALLERY, GalleryEntry, GalleryResult, Install, install, installed_version
from maskoracle.gallery.entries import VERDICTS
from maskoracle.gallery.run import run_entry, run_gallery
from maskoracle.options import check_options
from maskoracle.reports.gallery import markdown_table, replace_readme_table

FAST = {"max_examples": 10, "seed": 0, "timeout": 10.0}

FAKE_MODULE = '''\
import numpy as np


def _blocks(att):
    return np.cumsum(np.asarray(att) != 0, axis=-1)


def right(pad_masks, att_masks):
    pad = np.asarray(pad_masks, dtype=bool)
    blocks = _blocks(att_masks)
    return (blocks[:, None, :] <= blocks[:, :, None]) & pad[:, None, :] & pad[:, :, None]


def wrong(pad_masks, att_masks):
    """Off by one: a real token does not see its own block."""
    pad = np.asarray(pad_masks, dtype=bool)
    blocks = _blocks(att_masks)
    return (blocks[:, None, :] < blocks[:, :, None]) & pad[:, None, :] & pad[:, :, None]
'''

FAKE = Install("fakemasks", "1.0")
ABSENT = Install("absentmasks", "2.0")
NUMPY = {"framework": "numpy"}


def _dist_info(folder: Path, name: str, version: str) -> None:
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gallery cache holding ``fakemasks-1.0`` as ``pip install --target`` leaves it."""
    root = tmp_path_factory.mktemp("gallery") / "cache"
    folder = root / FAKE.folder
    (folder / "fakemasks").mkdir(parents=True)
    (folder / "fakemasks" / "__init__.py").write_text(FAKE_MODULE, encoding="utf-8")
    _dist_info(folder, "fakemasks", "1.0")
    return root


def _entry(name: str, target: str, install: Install = FAKE, expect: str = "passed") -> GalleryEntry:
    return GalleryEntry(name, target, install, target, NUMPY, expect=expect)


RIGHT = _entry("right", "fakemasks:right")
WRONG = _entry("wrong", "fakemasks:wrong")
WRONG_EXPECTED = _entry("wrong_expected", "fakemasks:wrong", expect="failed")
ABSENT_ROW = _entry("absent", "absentmasks:fn", ABSENT)
NOT_IMPORTABLE = _entry("not_importable", "fakemasks.missing:fn")


@pytest.fixture(scope="module")
def results(cache: Path) -> tuple[list[GalleryResult], list[str]]:
    """The stand-in rows checked once for the module's tests, and ``sys.path`` as it was before."""
    path_before = list(sys.path)
    return run_gallery([RIGHT, WRONG, WRONG_EXPECTED, ABSENT_ROW, NOT_IMPORTABLE], cache, FAST), path_before


def test_rows_passed_failed_not_installed_could_not_import(results: tuple[list[GalleryResult], list[str]]) -> None:
    rows, path_before = results
    by_name = {result.entry.name: result for result in rows}

    assert by_name["right"].status == "passed" and by_name["right"].version == "1.0"
    assert by_name["right"].where == "cache" and by_name["right"].report is not None
    assert by_name["right"].verdict() == "passed"

    wrong = by_name["wrong"]
    assert wrong.status == "failed" and wrong.failed_check == "spec_examples"
    assert "expected ✓, got ✗" in wrong.detail
    assert wrong.verdict().startswith("failed: spec_examples: cell (b=0, query=0, key=0)")
    assert not wrong.as_expected
    assert by_name["wrong_expected"].as_expected and by_name["wrong_expected"].verdict().endswith("(expected)")

    assert by_name["absent"].status == "not installed" and by_name["absent"].version is None
    assert by_name["not_importable"].status == "could not import"
    assert "No module named 'fakemasks.missing'" in by_name["not_importable"].detail

    # The folder was on the worker's path only while its rows ran; this process never imported the package.
    assert sys.path == path_before
    assert "fakemasks" not in sys.modules


def test_the_table_and_the_json_say_the_same(results: tuple[list[GalleryResult], list[str]]) -> None:
    rows = [result for result in results[0] if result.entry.name in ("right", "wrong", "absent")]
    table = markdown_table(rows).splitlines()
    assert table[0] == "| row | function | version | convention / options | verdict | seconds |"
    assert table[2].startswith("| `right` | `fakemasks:right` | 1.0 | `--framework numpy` | passed | ")
    assert "| failed: spec_examples: cell (b=0, query=0, key=0)" in table[3]
    assert table[4] == ("| `absent` | `absentmasks:fn` | 2.0 (pinned) | `--framework numpy` | "
                        "not installed: run with --install |  |")
    payload = json.loads(json.dumps([result.to_json() for result in rows]))
    assert [row["status"] for row in payload] == ["passed", "failed", "not installed"]
    assert payload[1]["failed_check"] == "spec_examples" and payload[1]["report"]["passed"] is False
    assert payload[0]["version"] == "1.0" and payload[0]["installed_in"] == "cache"


def test_the_environments_copy_is_used_when_the_cache_has_none(tmp_path: Path) -> None:
    """A package the environment has (numpy here) needs no install; the table says where it came from."""
    version, where = installed_version(Install("numpy", "0.0"), tmp_path)
    import numpy
    assert (version, where) == (numpy.__version__, "environment")
    assert installed_version(ABSENT, tmp_path) == (None, None)


def _wheel(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A minimal pure-Python wheel, written by hand: pip installs it offline."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    contents = {**files, f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{file},,\n" for file in contents) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for file, text in {**contents, f"{info}/RECORD": record}.items():
            archive.writestr(file, text)
    return path


def test_install_puts_the_package_in_its_folder_and_drops_what_the_environment_has(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    ours = _wheel(wheels, "fakemasks", "1.0", {"fakemasks/__init__.py": FAKE_MODULE})
    # A dependency the environment already has: it must not shadow the environment's copy.
    theirs = _wheel(wheels, "packaging", "0.0.1", {"packaging/__init__.py": "raise ImportError('shadowed')\n"})
    spec = Install("fakemasks", "1.0", (("--no-index", "--no-deps", str(ours), str(theirs)),))
    cache = tmp_path / "cache"

    assert install(spec, cache) is None
    folder = cache / spec.folder
    assert (folder / "fakemasks" / "__init__.py").is_file()
    assert not (folder / "packaging").exists() and not list(folder.glob("packaging-*"))
    assert [path.name for path in cache.iterdir()] == [spec.folder]  # no partial folder left
    assert installed_version(spec, cache) == ("1.0", "cache")
    result = run_entry(RIGHT, cache, FAST)
    assert result.status == "passed" and result.version == "1.0"


def test_a_failed_install_says_why_and_leaves_nothing(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def failing_pip(arguments: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(list(arguments))
        return subprocess.CompletedProcess(arguments, 1, "", "WARNING: noise\nERROR: No matching distribution "
                                                             "found for absentmasks==2.0\n")

    cache = tmp_path / "cache"
    error = install(ABSENT, cache, failing_pip)
    assert error == "pip install absentmasks==2.0: ERROR: No matching distribution found for absentmasks==2.0"
    assert calls[0][:2] == ["install", "--quiet"] and "--target" in calls[0]
    assert list(cache.iterdir()) == []
    results = run_gallery([ABSENT_ROW, ABSENT_ROW], cache, FAST, install_missing=True, pip=failing_pip)
    assert [result.status for result in results] == ["install failed", "install failed"]
    assert len(calls) == 2  # one attempt per package per run (the first call above, then one for both rows)
    assert results[0].verdict() == f"install failed: {error}"


def test_an_unwritable_cache_is_an_install_failure_not_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    error = install(ABSENT, blocker / "cache")
    assert error is not None and error.startswith(f"cannot write in {blocker / 'cache'}: ")


def test_install_does_nothing_when_the_folder_is_there(cache: Path) -> None:
    def no_pip(arguments: list[str]) -> subprocess.CompletedProcess[str]:
        raise AssertionError("pip should not run")

    assert install(FAKE, cache, no_pip) is None


# --- the command line ------------------------------------------------------------------------------------------

def test_cli_gallery_prints_the_table_writes_json_and_exits_1_on_an_unexpected_verdict(
        cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(gallery_cli, "gallery_entries", lambda: (RIGHT, WRONG, WRONG_EXPECTED, ABSENT_ROW))
    report = tmp_path / "gallery.json"
    readme = tmp_path / "README.md"
    readme.write_text("before\n<!-- gallery:start -->\nold\n<!-- gallery:end -->\nafter\n", encoding="utf-8")
    code = main(["gallery", "--cache-dir", str(cache), "--max-examples", "10", "--seed", "0", "--json", str(report),
                 "--readme", str(readme), "--plain"])
    out = capsys.readouterr().out
    assert code == 1
    assert "| `right` | `fakemasks:right` | 1.0 |" in out
    assert "4 rows: 1 passed, 1 failed, 1 failed (expected), 1 not installed; unexpected: wrong" in out
    payload = json.loads(report.read_text(encoding="utf-8"))
    assert payload["passed"] is False and payload["options"]["seed"] == 0
    assert [row["name"] for row in payload["rows"]] == ["right", "wrong", "wrong_expected", "absent"]
    text = readme.read_text(encoding="utf-8")
    assert "old" not in text and "| `wrong` |" in text and text.startswith("before\n") and text.endswith("after\n")

    monkeypatch.setattr(gallery_cli, "gallery_entries", lambda: (WRONG_EXPECTED,))
    assert main(["gallery", "--cache-dir", str(cache), "--max-examples", "10", "--seed", "0", "--plain"]) == 0
    assert "every verdict as expected" in capsys.readouterr().out


def test_cli_gallery_list_and_usage_errors(cache: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(gallery_cli, "gallery_entries", lambda: (RIGHT, ABSENT_ROW))
    assert main(["gallery", "--cache-dir", str(cache), "--list", "--only", "right"]) == 0
    out = capsys.readouterr().out
    assert f"PYTHONPATH={cache / FAKE.folder} maskoracle check fakemasks:right --framework numpy" in out
    assert "absent" not in out
    assert main(["gallery", "--only", "nothing"]) == 2
    assert capsys.readouterr().err.strip() == ("maskoracle gallery: error: --only: no gallery row named 'nothing' "
                                               "(rows: absent, right)")
    assert main(["gallery", "--cache-dir", str(cache), "--readme", str(cache / "no-such.md")]) == 2
    assert "--readme" in capsys.readouterr().err
    a_file = cache / FAKE.folder / "fakemasks" / "__init__.py"
    assert main(["gallery", "--cache-dir", str(a_file), "--install"]) == 2
    assert capsys.readouterr().err == f"maskoracle gallery: error: --cache-dir {a_file}: not a directory\n"
    with pytest.raises(SystemExit) as exit_:
        main(["gallery", "--timeout", "0"])
    assert exit_.value.code == 2


def test_readme_markers_are_required() -> None:
    with pytest.raises(ValueError, match="gallery:start"):
        replace_readme_table("no markers here", "| table |")


# --- the real rows, read without importing transformers or LeRobot ---------------------------------------------

def test_every_real_row_is_well_formed() -> None:
    names = [entry.name for entry in GALLERY]
    assert len(names) == len(set(names))
    package = Path(gallery_cli.__file__).resolve().parents[1] / "gallery"
    for entry in GALLERY:
        check_options(dict(entry.options))  # every option is one `maskoracle check` knows, with a valid value
        assert entry.expect in VERDICTS
        module, _, function = entry.target.partition(":")
        if module.startswith("maskoracle.gallery."):
            source = (package / (module.rpartition(".")[2] + ".py")).read_text(encoding="utf-8")
            defined = {node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}
            assert function in defined, entry.target
            assert entry.glue, f"{entry.name}: a glue TARGET says what its glue does"
        else:
            assert entry.target == entry.function and not entry.glue


def test_importing_the_gallery_imports_neither_transformers_nor_lerobot() -> None:
    code = ("import sys, maskoracle.gallery, maskoracle.cli.gallery; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('transformers', 'lerobot', 'torch')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
