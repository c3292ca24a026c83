"""Nothing lost, nothing silent (issue "Out of process", part 6): bad input is a one-line error with exit 2,
before the run; the report says its seed; a database that goes away is a warning; saved failures replay."""

from __future__ import annotations

import json
import os
import stat
import warnings
from pathlib import Path

import pytest

from maskoracle import check
from maskoracle.cli import main
from maskoracle.database import TolerantDatabase

NUMPY = "maskoracle.implementations.numpy:block_causal"
FAST = ["--framework", "numpy", "--seed", "1", "--max-examples", "5", "--db", "none", "--plain"]


def one_line_usage_error(capsys, code: int) -> str:
    captured = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in captured.err and len(captured.err.strip().splitlines()) == 1, captured.err
    return captured.err


def test_an_empty_or_unwritable_json_path_is_refused_before_the_run(tmp_path, capsys) -> None:
    assert "empty path" in one_line_usage_error(capsys, main(["check", NUMPY, *FAST, "--json", ""]))
    assert "is a directory" in one_line_usage_error(capsys, main(["check", NUMPY, *FAST, "--json", str(tmp_path)]))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root): no unwritable folder to try")
        assert "cannot write" in one_line_usage_error(
            capsys, main(["check", NUMPY, *FAST, "--json", str(locked / "r.json")]))
    finally:
        locked.chmod(0o700)


def test_the_json_report_follows_a_symlink_and_the_umask(tmp_path) -> None:
    real = tmp_path / "real.json"
    real.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    previous = os.umask(0o022)
    try:
        assert main(["check", NUMPY, *FAST, "--json", str(link), "--isolation", "in-process"]) == 0
    finally:
        os.umask(previous)
    assert link.is_symlink()
    assert json.loads(real.read_text())["passed"] is True
    assert stat.S_IMODE(real.stat().st_mode) == 0o644


def test_a_passing_report_prints_its_seed(capsys) -> None:
    assert main(["check", NUMPY, *FAST, "--isolation", "in-process"]) == 0
    assert "seed=1" in capsys.readouterr().out.splitlines()[0]


def test_bad_png_deep_json_meta_device_and_long_inputs_are_one_line_errors(tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    code = main(["explain", "--pad", "1110", "--att", "0011", "--png", str(tmp_path / "out.xyz")])
    assert "--png" in one_line_usage_error(capsys, code)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert "not a bench JSON" in one_line_usage_error(capsys, main(["report", str(deep), "-o", str(tmp_path / "r")]))
    pytest.importorskip("torch")
    code = main(["check", "maskoracle.implementations.torch:block_causal", "--device", "meta", "--plain"])
    assert "--device meta" in one_line_usage_error(capsys, code)
    long_row = "1" * 600
    assert "more than maskoracle explain takes" in one_line_usage_error(
        capsys, main(["explain", "--pad", long_row, "--att", long_row]))
    assert "more than maskoracle leaks takes" in one_line_usage_error(
        capsys, main(["leaks", "--pad", long_row, "--att", long_row]))


def test_a_baseline_with_nothing_comparable_is_not_zero_regressions(tmp_path, capsys) -> None:
    published = Path(__file__).resolve().parents[2] / "reports" / "bench.json"
    bench = json.loads(published.read_text())
    new, old = tmp_path / "new.json", tmp_path / "old.json"
    new.write_text(json.dumps(bench))
    for target in bench["targets"]:
        target["target"] = "renamed:" + target["target"]  # nothing of the baseline matches this run
    old.write_text(json.dumps(bench))
    code = main(["report", str(new), "--baseline", str(old), "-o", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code != 0
    assert "nothing was compared" in captured.err + captured.out


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


def raises_unprintable(pad, att):
    raise Unprintable()


def test_an_exception_that_cannot_be_printed_is_still_a_failed_check() -> None:
    report = check(raises_unprintable, framework="numpy", seed=1, max_examples=5, db="none",
                   checks=["output_format"])
    assert report.checks[0].status == "failed"
    assert "raised Unprintable" in report.checks[0].message


def test_a_huge_seed_works_with_an_additive_mask() -> None:
    torch_impl = pytest.importorskip("maskoracle.implementations.torch")
    report = check(torch_impl.block_causal_additive, seed=2**63 + 5, max_examples=5, db="none",
                   checks=["attention_outputs"])
    assert report.passed, report.checks[0].message


class GoneAway:
    """A database whose server went away after connecting."""

    def save(self, key, value):
        raise ConnectionError("Connection refused")

    def fetch(self, key):
        raise ConnectionError("Connection refused")

    def delete(self, key, value):
        raise ConnectionError("Connection refused")

    def move(self, src, dest, value):
        raise ConnectionError("Connection refused")


def test_a_database_that_goes_away_is_one_warning_and_the_run_goes_on() -> None:
    database = TolerantDatabase(GoneAway(), "redis://example:6379/0")  # type: ignore[arg-type]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert list(database.fetch(b"key")) == []
        database.save(b"key", b"value")
        database.delete(b"key", b"value")
    assert len(caught) == 1 and "stopped answering" in str(caught[0].message)


def test_a_long_failure_is_saved_and_replayed_first_by_the_next_run(tmp_path) -> None:
    """A size-dependent bug found at long L must be replayed first next time (it used to be deleted by the
    small-regime retry, which searched under the same key)."""
    torch_zoo = pytest.importorskip("maskoracle.zoo.torch_zoo")
    database = str(tmp_path / "db")
    options = {"seed": 3, "db": database, "checks": ["equivalence"], "max_examples": 100}
    first = check(torch_zoo.bfloat16_blocks, **options).checks[0]
    assert first.status == "failed" and first.counterexample is not None
    assert first.counterexample.shape[1] > 256  # it needs length: more than 256 blocks
    second = check(torch_zoo.bfloat16_blocks, **{**options, "seed": 4}).checks[0]
    assert second.status == "failed" and second.examples == 0  # the saved input, replayed before anything
    assert second.counterexample is not None and second.counterexample.shape[1] > 256
