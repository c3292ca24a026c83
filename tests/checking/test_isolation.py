"""The implementation in a worker process (``checking/isolation.py``): whatever it does to its own process,
the run ends with a report, the JSON file is written, and the exit status is 0 only when every check passed."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from maskoracle import check
from maskoracle.checking.isolation import grace_seconds
from maskoracle.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HOSTILE = FIXTURES / "hostile.py"
FAST = ["--framework", "numpy", "--seed", "1", "--max-examples", "10", "--db", "none", "--plain"]


def run_cli(tmp_path: Path, name: str, *extra: str) -> tuple[int, dict, str]:
    out = tmp_path / "report.json"
    code = main(["check", f"{HOSTILE}:{name}", *FAST, "--json", str(out), *extra])
    return code, json.loads(out.read_text()), name


def failed(report: dict) -> list[dict]:
    return [entry for entry in report["checks"] if entry["status"] == "failed"]


@pytest.mark.parametrize(("name", "cause"), [
    ("exits_zero", "exited with code 0"),
    ("exits_three", "exited with code 3"),
    ("segfaults", "was killed by SIGSEGV"),
    ("aborts", "was killed by SIGABRT"),
    ("terminates_itself", "was killed by SIGTERM"),
])
def test_a_worker_that_ends_fails_the_check_it_was_in(tmp_path, name, cause) -> None:
    code, report, _ = run_cli(tmp_path, name)
    assert code == 1
    assert report["passed"] is False
    first = failed(report)[0]
    assert first["name"] == "spec_examples"  # the first check with an input longer than 3 tokens
    assert cause in first["message"] and "during a call on input [B, L] = [1, " in first["message"]
    assert first["counterexample"]["pad"] is not None  # the input of the call in flight
    later = report["checks"][[entry["name"] for entry in report["checks"]].index("spec_examples") + 1:]
    assert later and all(entry["status"] == "skipped" and "not run" in entry["message"] for entry in later)
    assert report["worker"]["isolation"] == "process"


def test_an_import_that_exits_zero_is_a_failed_check(tmp_path) -> None:
    out = tmp_path / "report.json"
    code = main(["check", f"{FIXTURES / 'exits_at_import.py'}:fn", *FAST, "--json", str(out)])
    report = json.loads(out.read_text())
    assert code == 1
    assert "exited with code 0 while importing the TARGET" in failed(report)[0]["message"]


def test_a_call_that_defeats_the_time_limit_is_killed_near_it(tmp_path) -> None:
    """The subject is the time limit itself: the run must end within the limit, its grace and a worker's
    start-up (a few seconds on a loaded machine), not hang."""
    started = time.monotonic()
    code, report, _ = run_cli(tmp_path, "swallows_everything", "--timeout", "1")
    elapsed = time.monotonic() - started
    assert code == 1
    message = failed(report)[0]["message"]
    assert "timed out" in message and "was killed" in message
    assert elapsed < 1 + grace_seconds(1) + 15


def test_threads_and_forks_left_behind_do_not_keep_or_confuse_the_run(tmp_path) -> None:
    code, report, _ = run_cli(tmp_path, "leaves_a_thread", "--max-examples", "3")
    assert code == 0 and report["passed"]
    code, report, _ = run_cli(tmp_path, "forks")
    assert code == 0 and report["passed"], failed(report)
    assert threading.active_count() < 20  # nothing of the worker's lives in this process


def test_output_is_captured_and_shown_as_an_excerpt(tmp_path, capsys) -> None:
    code, report, _ = run_cli(tmp_path, "chatty")
    printed = capsys.readouterr().out
    assert code == 1
    assert "chatter" not in printed  # never on the terminal: the worker's output goes to a file
    first = failed(report)[0]
    assert "cell" in first["message"]  # an ordinary failure: no worker death


def test_chdir_and_closed_stdout_in_the_implementation_do_not_touch_the_report(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("changes_directory", "closes_stdout"):
        code = main(["check", f"{HOSTILE}:{name}", *FAST, "--json", "relative.json"])
        assert code == 0
        assert json.loads((tmp_path / "relative.json").read_text())["passed"] is True
        os.remove(tmp_path / "relative.json")


def test_a_leak_past_the_memory_limit_is_killed_and_named(tmp_path) -> None:
    code, report, _ = run_cli(tmp_path, "leaks", "--memory-limit", "700M")
    assert code == 1
    assert "killed for memory" in failed(report)[0]["message"]
    assert report["worker"]["peak_memory_bytes"] > 500 * 2**20


def test_check_of_a_target_string_runs_in_a_worker_and_of_a_closure_in_process() -> None:
    report = check(f"{HOSTILE}:exits_zero", framework="numpy", seed=1, max_examples=5, db="none")
    assert not report.passed and report.worker["isolation"] == "process"

    def closure(pad, att):
        from maskoracle.implementations.numpy import block_causal

        return block_causal(pad, att)

    report = check(closure, framework="numpy", seed=1, max_examples=5, db="none", checks=["spec_examples"])
    assert report.passed and report.worker == {"isolation": "in-process"}
    with pytest.raises(Exception, match="cannot be imported"):
        check(closure, framework="numpy", isolation="process")


def test_a_patched_comparison_in_the_worker_cannot_pass_a_wrong_mask(tmp_path) -> None:
    """The implementation makes numpy's ``not_equal`` see no difference in its own process; the comparison runs
    in maskoracle's process, which the patch never reaches: the checks that compare masks fail as usual."""
    code, report, _ = run_cli(tmp_path, "patches_the_comparison")
    assert code == 1 and report["passed"] is False
    names = {entry["name"] for entry in failed(report) if "cell (b=" in entry["message"]}
    assert {"spec_examples", "equivalence"} <= names
    assert failed(report)[0]["counterexample"]["differing_cells"]


def test_an_implementation_that_patches_maskoracle_in_its_process_cannot_pass(tmp_path) -> None:
    """It replaces maskoracle's oracle, its comparison and its verdicts in the worker; none of them decides."""
    code, report, _ = run_cli(tmp_path, "patches_maskoracle")
    assert code == 1 and report["passed"] is False
    assert {"spec_examples", "equivalence"} <= {entry["name"] for entry in failed(report)}


def test_diff_runs_targets_in_a_worker_whose_exit_is_never_no_difference(tmp_path, capsys) -> None:
    code = main(["diff", "block_causal", f"{HOSTILE}:exits_zero", "--framework", "numpy", "--plain"])
    assert code == 1
    assert "worker process exited with code 0 during a call on input [B, L] = [1, 4]" in capsys.readouterr().out
    out = tmp_path / "diff.json"
    code = main(["diff", "rowwise", "maskoracle.implementations.numpy:block_causal", "--framework", "numpy",
                 "--plain", "--json", str(out)])
    assert code == 1 and json.loads(out.read_text())["differ"] is True


def test_a_death_on_a_big_batch_is_cut_down_by_re_running_in_fresh_workers() -> None:
    """The batched search calls with many long rows; a death there is re-run on halves of the batch and on
    shorter prefixes, each in a fresh worker, down to the smallest input that still ends the worker alike."""
    import numpy as np

    from maskoracle.adapters import get_adapter
    from maskoracle.checking.isolation import RemoteFunction, Worker
    from maskoracle.checking.results import Aborted
    from maskoracle.checking.runner import Runner

    worker = Worker(None)
    try:
        fn = RemoteFunction(worker, f"{HOSTILE}:exits_three",
                            {"kind": "mask", "framework": "numpy", "device": "cpu", "timeout": 10.0})
        runner = Runner(fn, get_adapter("numpy"), "block_causal", "masked", "bool", 10.0)
        with pytest.raises(Aborted) as died:
            runner.call(np.ones((64, 300), dtype=bool), np.zeros((64, 300), dtype=bool))
    finally:
        worker.close()
    assert died.value.message.startswith("the implementation's worker process exited with code 3 during a call on "
                                         "input [B, L] = [1, 4] (cut down from [64, 300]")
    assert died.value.counterexample.pad.shape == (1, 4)  # exits_three ends its process past 3 tokens


def test_a_result_bigger_than_the_memory_limit_never_reaches_maskoracle_s_process(tmp_path) -> None:
    code, report, _ = run_cli(tmp_path, "returns_a_huge_result", "--memory-limit", "300M")
    assert code == 1
    assert "over the --memory-limit of 0.29 GiB" in failed(report)[0]["message"]


def test_an_import_that_hangs_is_killed_under_the_time_limit(tmp_path) -> None:
    out = tmp_path / "report.json"
    started = time.monotonic()
    code = main(["check", f"{FIXTURES / 'hangs_at_import.py'}:fn", *FAST, "--timeout", "1", "--json", str(out)])
    elapsed = time.monotonic() - started
    report = json.loads(out.read_text())
    assert code == 1
    message = failed(report)[0]["message"]
    assert "timed out: the import ran past the 1 s time limit" in message and "while importing the TARGET" in message
    assert elapsed < 1 + grace_seconds(1) + 15  # the worker's start-up on a loaded machine, not a hang


def _children(parent: int, command_part: str) -> list[int]:
    """The processes whose parent is ``parent`` and whose command line holds ``command_part`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent \
                    and command_part in (entry / "cmdline").read_text():
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def test_ctrl_c_stops_maskoracle_and_its_worker(tmp_path) -> None:
    """Ctrl-C reaches maskoracle's process (the worker has its own session): the run stops with status 130 and
    the worker, busy in a call that swallows every exception, is gone with it."""
    import signal
    import subprocess
    import sys

    command = [sys.executable, "-m", "maskoracle", "check", f"{HOSTILE}:swallows_everything", *FAST,
               "--timeout", "60"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while not workers and time.monotonic() < deadline:  # wait for the worker's hanging call
            time.sleep(0.5)
            workers = _children(process.pid, "maskoracle.checking.child")
        assert workers, "no worker process started"
        time.sleep(2)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    finally:
        process.kill()
    assert "interrupted" in process.stderr.read()
    time.sleep(0.5)
    for pid in workers:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        with open(f"/proc/{pid}/stat") as stat:
            assert stat.read().split()[2] == "Z", f"worker {pid} still running"
