"""Fixtures and settings shared by the project's own tests."""

from __future__ import annotations

import pytest
from hypothesis import settings

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


@pytest.fixture(autouse=True)
def _no_xdist_worker_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Subprocess pytest runs of the tests are their own sessions, not xdist workers: when this suite itself
    runs under ``-n``, the worker's variables would reach them (pytest-benchmark then switches itself off)."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
