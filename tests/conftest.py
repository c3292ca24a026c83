"""Fixtures and settings shared by the project's own tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

# The project's own Hypothesis tests are derandomised, always (not only when CI=true): a failure seen in CI is
# the failure a developer gets locally with the same command, and a green run is the same run every time.
# Exploring random inputs is what maskoracle itself does for its users (the nightly profile, campaigns), not
# what its unit tests are for. ``derandomize`` also implies ``database=None`` (nothing written under
# ``.hypothesis/``), and ``deadline=None`` keeps timing out of the tests (STYLE: no timing assertions). Explore
# anyway with ``pytest --hypothesis-profile default`` (the option wins over this default).
# ``check()`` is unaffected: it seeds every property itself (``run_property``), and a seed overrides derandomize.
TEST_PROFILE = "maskoracle-tests"
settings.register_profile(TEST_PROFILE, derandomize=True, deadline=None)
settings.load_profile(TEST_PROFILE)


@pytest.fixture
def hypothesis_default_profile(tmp_path: Path) -> Iterator[Path]:
    """Hypothesis's own default profile for one test, its directory database under ``tmp_path`` (yielded): for
    tests of what ``check()`` does with the database a user gets when choosing none."""
    database = tmp_path / ".hypothesis" / "examples"
    settings.register_profile("maskoracle-tests-default", parent=settings.get_profile("default"),
                              database=DirectoryBasedExampleDatabase(str(database)))
    settings.load_profile("maskoracle-tests-default")
    try:
        yield database
    finally:
        settings.load_profile(TEST_PROFILE)


@pytest.fixture(autouse=True)
def _no_xdist_worker_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Subprocess pytest runs of the tests are their own sessions, not xdist workers: when this suite itself
    runs under ``-n``, the worker's variables would reach them (pytest-benchmark then switches itself off)."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
