"""Fixtures shared by the project's own tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_xdist_worker_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Subprocess pytest runs of the tests are their own sessions, not xdist workers: when this suite itself
    runs under ``-n``, the worker's variables would reach them (pytest-benchmark then switches itself off)."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
