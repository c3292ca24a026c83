"""``tools/mutate.py``, the developer's mutation run: its snippets are found, and a lost one is reported, not a crash.

(The mutation run itself takes minutes and is not part of the test suite; docs/mutation.md records its score.)
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parent.parent / "tools" / "mutate.py"


@pytest.fixture(scope="module")
def mutate():
    spec = importlib.util.spec_from_file_location("mutate_tool", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutate_tool"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules["mutate_tool"]


def test_every_snippet_is_found_once_where_it_is_named(mutate) -> None:
    for mutation in mutate.MUTATIONS:
        path, located = mutate.locate(mutate.REPO, mutation)
        assert path is not None and located == mutation.file, (mutation.name, located)
        assert mutation.original != mutation.mutated
        for test in mutation.tests:
            assert (mutate.REPO / test).is_file(), (mutation.name, test)


def test_the_six_classes_of_issue_17_and_more_are_covered(mutate) -> None:
    names = {mutation.name for mutation in mutate.MUTATIONS}
    assert {"json_no_differing_cells", "selftest_false_alarm_passes", "database_one_key",
            "shrink_budget_keeps_first_failure", "timeout_5x", "any_padding_loses_corner_families"} <= names
    assert len(names) == len(mutate.MUTATIONS) >= 16


def test_a_moved_snippet_is_found_and_a_lost_one_reported(mutate, tmp_path: Path) -> None:
    package = tmp_path / "maskoracle"
    (package / "checking").mkdir(parents=True)
    (package / "checking" / "engine.py").write_text("x = 1\nif not smallest:\n    pass\n")
    (package / "other.py").write_text("y = 2\ny = 2\n")
    moved = mutate.Mutation("moved", "maskoracle/engine.py", "if not smallest:", "if smallest:", (), "")
    path, located = mutate.locate(tmp_path, moved)
    assert path == package / "checking" / "engine.py"
    assert located == "maskoracle/checking/engine.py (moved from maskoracle/engine.py)"
    lost = mutate.Mutation("lost", "maskoracle/engine.py", "no such line", "", (), "")
    assert mutate.locate(tmp_path, lost) == (None, "snippet not found in maskoracle/engine.py or anywhere under "
                                                   "maskoracle/")
    twice = mutate.Mutation("twice", "maskoracle/other.py", "y = 2", "y = 3", (), "")
    path, located = mutate.locate(tmp_path, twice)
    assert path is None and "2 times" in located

    outcome = mutate.apply_and_run(tmp_path, lost, timeout=1.0)
    assert outcome.verdict == "not applied" and "not found" in outcome.detail
