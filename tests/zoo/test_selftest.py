"""The suite's power, measured on the bundled zoo: every bug killed, no false alarm (the CI gate)."""

from __future__ import annotations

import json

import pytest

from maskoracle.cli import main
from maskoracle.zoo import zoo_entries
from maskoracle.zoo.selftest import (
    README_END,
    README_START,
    markdown_table,
    replace_readme_table,
    run_selftest,
)


@pytest.fixture(scope="module")
def selftest():
    return run_selftest(seed=0)


def test_every_bug_is_killed_and_no_false_alarm(selftest) -> None:
    survivors = [m.name for m in selftest.bugs if not m.killed]
    false_alarms = [(m.name, m.check, m.message) for m in selftest.mutants if m.equivalent and m.killed]
    assert not survivors, f"bugs the suite missed: {survivors}"
    assert not false_alarms, f"right implementations the suite failed: {false_alarms}"
    assert selftest.kill_rate == 1.0 and selftest.false_alarms == 0


def test_the_zoo_is_big_enough(selftest) -> None:
    assert len(selftest.bugs) >= 25
    assert sum(m.equivalent and not m.skipped for m in selftest.mutants) >= 5


def test_bugs_that_do_not_need_length_shrink_to_four_tokens(selftest) -> None:
    history_dependent = {entry.name for entry in zoo_entries() if entry.history_dependent}
    too_big = [(m.name, m.counterexample_size) for m in selftest.bugs
               if not m.size_dependent and m.name not in history_dependent
               and (m.counterexample_size is None or m.counterexample_size[1] > 4)]
    assert not too_big, f"counterexamples longer than 4 tokens: {too_big}"


def test_size_dependent_bugs_are_killed_past_a_boundary(selftest) -> None:
    for m in selftest.bugs:
        if m.size_dependent:
            assert m.killed and m.counterexample_size[1] >= 127, (m.name, m.counterexample_size)


def test_json_has_the_interface_form(selftest) -> None:
    data = json.loads(json.dumps(selftest.to_json()))
    assert set(data) >= {"mutants", "kill_rate", "false_alarms"}
    for entry in data["mutants"]:
        assert set(entry) >= {"name", "equivalent", "killed", "check", "examples", "seconds", "counterexample_size"}
        assert isinstance(entry["seconds"], float) and isinstance(entry["examples"], int)


def test_markdown_table_lists_every_entry(selftest) -> None:
    table = markdown_table(selftest)
    for entry in zoo_entries():
        assert f"`{entry.name}`" in table
    assert "Kill rate **100%**" in table


def test_readme_table_is_replaced_between_markers() -> None:
    readme = f"intro\n{README_START}\nold table\n{README_END}\noutro\n"
    assert replace_readme_table(readme, "new") == f"intro\n{README_START}\nnew\n{README_END}\noutro\n"
    with pytest.raises(ValueError, match="markers"):
        replace_readme_table("no markers here", "new")


def test_cli_selftest_subset_json_and_exit_status(tmp_path, capsys) -> None:
    path = tmp_path / "selftest.json"
    status = main(["selftest", "--only", "strict_less", "--only", "correct_bool_4d", "--json", str(path)])
    assert status == 0
    data = json.loads(path.read_text())
    assert [m["name"] for m in data["mutants"]] == ["strict_less", "correct_bool_4d"]
    assert data["kill_rate"] == 1.0 and data["false_alarms"] == 0
    assert "kill rate 100%" in capsys.readouterr().out


def test_jobs_give_the_verdicts_of_one_job_in_the_zoo_order(selftest) -> None:
    names = ["strict_less", "correct_bool_4d", "int8_blocks", "numpy_correct_big_vision_port", "cumsum_in_place"]
    entries = [entry for entry in zoo_entries() if entry.name in names]
    finished = []
    report = run_selftest(entries, seed=0, jobs=2, progress=lambda entry, result: result and finished.append(entry.name))
    verdict = {m.name: (m.killed, m.check, m.counterexample_size, m.examples) for m in selftest.mutants}
    assert [m.name for m in report.mutants] == [entry.name for entry in entries]
    assert sorted(finished) == sorted(names)
    assert report.jobs == 2 and report.to_json()["jobs"] == 2 and selftest.jobs == 1
    assert {m.name: (m.killed, m.check, m.counterexample_size, m.examples) for m in report.mutants} == \
        {name: verdict[name] for name in names}


def test_an_entry_whose_job_process_ends_fails_the_gate() -> None:
    from maskoracle.zoo.entry import ZooEntry
    from tests.fixtures import ends_selftest_job

    entries = [ZooEntry("lost_right", ends_selftest_job.block_causal, framework="numpy", equivalent=True),
               ZooEntry("lost_bug", ends_selftest_job.block_causal, framework="numpy")]
    report = run_selftest(entries, seed=0, jobs=2)
    assert not report.passed
    assert report.false_alarms == 1 and report.kill_rate == 0.0
    for mutant in report.mutants:
        assert mutant.message.startswith("not checked: the job process checking it ended"), mutant.message


def test_cli_selftest_unknown_entry_is_a_usage_error(capsys) -> None:
    assert main(["selftest", "--only", "nope"]) == 2
    assert capsys.readouterr().err.strip() == "maskoracle selftest: error: --only: no zoo entry named 'nope'"
