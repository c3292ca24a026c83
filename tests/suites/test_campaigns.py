"""Fuzz campaigns beyond one process: the example database (directory, Redis, several) and pytest-xdist.

The Redis test runs a real ``redis-server`` (Debian's package; ``.ci/run`` installs it) on a free loopback
port, and two pytest processes of the plugin against it: the first finds a planted failure, the second, with
a one-example budget that a fresh search never fails with, replays it first.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase, MultiplexedDatabase

from maskoracle import UsageError, check
from maskoracle.database import REDIS_CONNECT_TIMEOUT_S, open_database, resolve_database

# Wrong only in batches of two or more rows whose second row holds padding and at least five tokens: far from
# the first examples a search draws, so one example of a fresh search never meets it.
PLANTED = textwrap.dedent('''
    import numpy as np
    from maskoracle.implementations.numpy import block_causal

    def planted(pad, att):
        mask = block_causal(pad, att)
        if pad.shape[0] >= 2 and pad.shape[1] >= 5 and not pad[1].all() and pad[1].any():
            mask = mask.copy()
            mask[1] = mask[1].T
        return mask
''')


@pytest.fixture
def planted(tmp_path: Path) -> str:
    path = tmp_path / "planted.py"
    path.write_text(PLANTED)
    return f"{path}:planted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server of its own on a free loopback port; stopped at the end whatever happens."""
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed; .ci/run installs Debian's redis-server package")
        pytest.skip("redis-server is not installed (apt-get install redis-server); CI runs this test")
    pytest.importorskip("redis", reason="the redis client is an extra: pip install 'maskoracle[redis]'")
    import redis

    port = _free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on port {port}")
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _pytest_worker(target: str, *options: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """One worker of a campaign: the plugin's equivalence check of ``target``, as a user would run it."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--pyargs", "maskoracle.suites",
               "-k", "test_equivalence and equivalence]", "--mask-impl", target, "--mask-framework", "numpy",
               *options]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MASKORACLE_DB": "", "MASKORACLE_PROFILE": ""})


def _outcome(result: subprocess.CompletedProcess[str]) -> str:
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    return "failed" if " failed" in last else "passed" if " passed" in last else f"?{last}{result.stderr[-400:]}"


# ---------------------------------------------------------------------------------------------------------- #
# Choosing the database


def test_none_and_default_and_directory(tmp_path: Path, hypothesis_default_profile: None) -> None:
    assert open_database("none") is None
    assert open_database("NONE") is None
    assert isinstance(open_database(str(tmp_path / "db")), DirectoryBasedExampleDatabase)
    # An explicit seed without a chosen database runs without one, so that the run repeats exactly.
    assert resolve_database(None, seed_given=True) is None
    # Otherwise Hypothesis's own choice (its built-in "ci" profile, active where $CI is set, has none).
    assert resolve_database(None, seed_given=False) == settings().database
    assert settings().database is not None  # (under the default profile: the comparison above can fail)


def test_environment_variable_chooses_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASKORACLE_DB", str(tmp_path / "shared"))
    database = resolve_database(None, seed_given=True)
    assert isinstance(database, DirectoryBasedExampleDatabase)
    assert Path(database.path) == tmp_path / "shared"


@pytest.mark.parametrize(("value", "message"), [
    ("a,,b", "empty entry"),
    ("none,somewhere", "'none' cannot be combined"),
    ("http://example.org/db", "unsupported database URL"),
    ("redis://127.0.0.1:notaport/0", "bad Redis URL"),
])
def test_bad_database_values_are_one_line_usage_errors(value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as error:
        open_database(value, "--db")
    assert "\n" not in str(error.value) and str(error.value).startswith("--db")


def test_a_file_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        open_database(str(path))


def test_unreachable_redis_is_a_usage_error_not_a_hang() -> None:
    pytest.importorskip("redis", reason="the redis client is an extra: pip install 'maskoracle[redis]'")
    started = time.monotonic()
    with pytest.raises(UsageError, match=r"cannot reach Redis at redis://127\.0\.0\.1:\d+/0"):
        open_database(f"redis://127.0.0.1:{_free_port()}/0")
    # At most the connect timeout (the limit is the subject here), plus a second of scheduling on a loaded machine.
    assert time.monotonic() - started < REDIS_CONNECT_TIMEOUT_S + 1.0


def test_cli_reports_an_unreachable_database_in_one_line(tmp_path: Path) -> None:
    pytest.importorskip("redis", reason="the redis client is an extra: pip install 'maskoracle[redis]'")
    result = subprocess.run(
        [sys.executable, "-m", "maskoracle", "check", "maskoracle.implementations.numpy:block_causal",
         "--framework", "numpy", "--seed", "0", "--db", f"redis://127.0.0.1:{_free_port()}/0"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "cannot reach Redis" in result.stderr
    assert "Traceback" not in result.stderr


def test_several_databases_all_receive_a_failure(tmp_path: Path) -> None:
    """``A,B``: a failure is written to each database, and either alone replays it."""
    from maskoracle.implementations.numpy import block_causal

    def off_by_one(pad: np.ndarray, att: np.ndarray) -> np.ndarray:
        return block_causal(pad, att) & ~np.eye(pad.shape[1], dtype=bool)[None]

    first, second = tmp_path / "local", tmp_path / "shared"
    database = open_database(f"{first},{second}")
    assert isinstance(database, MultiplexedDatabase)
    report = check(off_by_one, framework="numpy", checks=["equivalence"], db=f"{first},{second}", seed=3,
                   target="off_by_one")
    assert not report.passed
    for directory in (first, second):
        saved = [path for path in directory.rglob("*") if path.is_file()]
        assert saved, f"nothing saved in {directory}"
        replay = check(off_by_one, framework="numpy", checks=["equivalence"], db=str(directory), seed=4,
                       max_examples=1, target="off_by_one")
        assert not replay.passed and replay.checks[0].examples == 0


# ---------------------------------------------------------------------------------------------------------- #
# Two processes sharing a Redis database


def test_two_workers_exchange_a_failure_through_redis(redis_url: str, planted: str, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one_example = ("--mask-max-examples", "1", "--mask-seed", "2")
    # Control: one example of a fresh search does not meet the planted bug.
    control = _pytest_worker(planted, *one_example, "--mask-db", "none", cwd=tmp_path / "b")
    assert _outcome(control) == "passed", control.stdout + control.stderr
    # Worker A searches long enough to find it, and saves it in Redis.
    finder = _pytest_worker(planted, "--mask-max-examples", "1000", "--mask-seed", "1", "--mask-db", redis_url,
                            cwd=tmp_path / "a")
    assert _outcome(finder) == "failed", finder.stdout + finder.stderr
    # Worker B, in another directory, with the same one-example budget: replays A's failure first.
    replayer = _pytest_worker(planted, *one_example, "--mask-db", redis_url, cwd=tmp_path / "b")
    assert _outcome(replayer) == "failed", replayer.stdout + replayer.stderr
    assert "mask[1]" in replayer.stdout or "batch 1" in replayer.stdout or "B=2" in replayer.stdout \
        or re.search(r"\[2, \d+\]", replayer.stdout), replayer.stdout
    import redis

    keys = redis.Redis.from_url(redis_url).keys(b"maskoracle-example:*")
    assert keys, "nothing was saved under maskoracle's key prefix"


# ---------------------------------------------------------------------------------------------------------- #
# pytest-xdist gives the serial verdicts


def _verdicts(pytester: pytest.Pytester, *args: str) -> tuple[dict[str, str], str]:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", "--pyargs", "maskoracle.suites",
                                           *args, timeout=300)
    outcomes: dict[str, str] = {}
    for line in result.outlines:
        found = re.match(r"^(PASSED|FAILED|ERROR) (\S+::\S+)", line)
        if found:
            outcomes[found.group(2)] = found.group(1)
    # Skips are grouped by reason in the summary, differently under xdist: compare their number.
    outcomes["skipped in all"] = str(result.parseoutcomes().get("skipped", 0))
    return outcomes, "\n".join(result.outlines)


def test_parallel_run_gives_the_serial_verdicts(pytester: pytest.Pytester, planted: str) -> None:
    pytest.importorskip("xdist", reason="pytest-xdist is an extra: pip install 'maskoracle[xdist]'")
    options = ("--mask-impl", planted, "--mask-impl", "maskoracle.implementations.numpy:block_causal",
               "--mask-framework", "numpy", "--mask-max-examples", "60", "--mask-db", "none",
               # timings are not taken under xdist (pytest-benchmark switches itself off): verdicts only
               "-k", "not test_speed")
    # The parallel run draws its seed on the controller; the serial run repeats it with --mask-seed.
    # unseeded: the seed the controller draws and hands to its workers is the subject.
    parallel, parallel_log = _verdicts(pytester, *options, "-n", "2")
    header = re.search(r"maskoracle: spec block_causal, seed (\d+)", parallel_log)
    assert header is not None, parallel_log
    serial, serial_log = _verdicts(pytester, *options, "--mask-seed", header.group(1))
    assert "FAILED" in serial.values() and "PASSED" in serial.values(), serial_log
    assert serial == parallel, f"serial:\n{serial_log}\n\nparallel:\n{parallel_log}"
    # Every worker used the controller's seed: each failure's reproduce command names that one seed.
    assert set(re.findall(r"--seed (\d+)", parallel_log)) == {header.group(1)}, parallel_log


# ---------------------------------------------------------------------------------------------------------- #
# Progress of long campaigns


def test_examples_progress_counts_every_passing_example() -> None:
    from maskoracle.implementations.numpy import block_causal

    calls: list[tuple[str, int, int]] = []
    report = check(block_causal, framework="numpy", checks=["equivalence"], max_examples=30, seed=0, db="none",
                   examples_progress=lambda name, passed, planned: calls.append((name, passed, planned)))
    assert report.passed
    assert [passed for _, passed, _ in calls] == list(range(1, report.checks[0].examples + 1))
    assert {(name, planned) for name, _, planned in calls} == {("equivalence", 30)}


def test_piped_output_reports_progress_of_a_long_search(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from maskoracle.cli import check as commands
    from maskoracle.implementations.numpy import block_causal
    from maskoracle.reports.terminal import Output

    monkeypatch.setattr(commands, "PLAIN_PROGRESS_EVERY_S", 0.0)
    stream = io.StringIO()
    commands._check_with_progress(block_causal, Output(stream, plain=True), framework="numpy", max_examples=5,
                                  seed=0, db="none", checks=["equivalence"])
    lines = [line.strip() for line in stream.getvalue().splitlines()]
    assert lines == [f"equivalence: {n}/5 examples passed so far" for n in range(1, 6)]
