"""``maskoracle selftest`` as a gate: one false alarm, or one surviving bug, fails the run with exit status 1.

The zoo is patched for these runs (``monkeypatch`` on the entry list ``zoo_entries()`` reads), so that a real
check really fails a right-by-another-route entry, or really passes a "bug": the exit status is the CLI's own
verdict on a real report, not a stub's.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from maskoracle.cli import main
from maskoracle.zoo import torch_zoo
from maskoracle.zoo.torch_zoo import correct_bool_4d

# Right when padded query rows are free (SPEC §4): under the default policy its padded rows are a false alarm.
EQUIVALENT = "keys_only_padding_pad_queries_free"
BUG = "strict_less"


def _patch_entry(monkeypatch: pytest.MonkeyPatch, name: str, **changes: Any) -> None:
    entries = [dataclasses.replace(entry, **changes) if entry.name == name else entry
               for entry in torch_zoo.ENTRIES]
    assert any(entry.name == name for entry in entries), f"no zoo entry {name!r}"
    monkeypatch.setattr(torch_zoo, "ENTRIES", entries)


def _selftest(capsys: pytest.CaptureFixture[str], tmp_path: Path, *names: str) -> tuple[int, dict[str, Any], str]:
    path = tmp_path / "selftest.json"
    only = [argument for name in names for argument in ("--only", name)]
    status = main(["selftest", *only, "--max-examples", "10", "--seed", "0", "--plain", "--json", str(path)])
    return status, json.loads(path.read_text(encoding="utf-8")), capsys.readouterr().out


def test_the_unpatched_entries_pass_the_gate(capsys, tmp_path) -> None:
    """The control for the two tests below: the same entries as shipped give exit 0."""
    status, report, _ = _selftest(capsys, tmp_path, BUG, EQUIVALENT)
    assert status == 0
    assert report["false_alarms"] == 0 and report["kill_rate"] == 1.0


def test_one_false_alarm_fails_the_gate(capsys, tmp_path, monkeypatch) -> None:
    _patch_entry(monkeypatch, EQUIVALENT, options={})  # the default policy: padded query rows must be empty
    status, report, out = _selftest(capsys, tmp_path, BUG, EQUIVALENT)
    assert status == 1, out
    assert report["false_alarms"] == 1 and report["kill_rate"] == 1.0
    alarm = next(mutant for mutant in report["mutants"] if mutant["name"] == EQUIVALENT)
    assert alarm["equivalent"] is True and alarm["killed"] is True and alarm["check"]
    assert "FALSE ALARM" in out and "false alarms 1" in out


def test_one_surviving_bug_fails_the_gate(capsys, tmp_path, monkeypatch) -> None:
    _patch_entry(monkeypatch, BUG, fn=correct_bool_4d)  # listed as a bug, but right: it survives
    status, report, out = _selftest(capsys, tmp_path, BUG, EQUIVALENT)
    assert status == 1, out
    assert report["false_alarms"] == 0 and report["kill_rate"] == 0.0
    survivor = next(mutant for mutant in report["mutants"] if mutant["name"] == BUG)
    assert survivor["equivalent"] is False and survivor["killed"] is False and survivor["check"] is None
    assert "SURVIVED" in out and "kill rate 0%" in out
