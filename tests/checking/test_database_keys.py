"""Example-database keys: a saved failure is replayed by the same target, check and options, and by no other.

- a spy on the keys the database is asked for: every target, every check and every option that changes what is
  generated or compared gets its own key; the seed and the example budget do not (a campaign's runs share);
- a failing second target does not replay the first target's saved input (and, as a control that the test can
  tell, does replay it when it runs under the first target's name).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis.database import DirectoryBasedExampleDatabase

from maskoracle import check
from maskoracle.implementations import numpy as numpy_impl


class KeySpy:
    """Records the keys of every ``fetch`` from a directory database (Hypothesis fetches before it generates)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.keys: list[bytes] = []
        original = DirectoryBasedExampleDatabase.fetch

        def fetch(database: DirectoryBasedExampleDatabase, key: bytes) -> Any:
            self.keys.append(key)
            return original(database, key)

        monkeypatch.setattr(DirectoryBasedExampleDatabase, "fetch", fetch)

    def keys_of(self, **options: Any) -> frozenset[bytes]:
        """The keys one ``check()`` run asks the database for."""
        self.keys = []
        check(**{"framework": "numpy", "max_examples": 2, "seed": 0, "checks": ["equivalence"], **options})
        assert self.keys, f"no key fetched for {options}"
        return frozenset(self.keys)


def _plain(pad: Any, att: Any) -> np.ndarray:
    return numpy_impl.block_causal(np.asarray(pad), np.asarray(att))


# Each variant changes one thing about the run of the baseline below (target, spec, ...).
BASELINE: dict[str, Any] = {"fn": _plain, "target": "mine:a"}
VARIANTS: dict[str, dict[str, Any]] = {
    "target": {"target": "mine:b"},
    "spec": {"spec": "rowwise"},
    "framework": {"framework": "torch"},
    "layout": {"layout": "causal"},
    "padding": {"padding": "right"},
    "pad_queries": {"pad_queries": "free"},
    "att_dtype": {"att_dtype": "int64"},
    "kind": {"fn": numpy_impl.kv_cache, "kind": "kv_cache"},
}


@pytest.mark.parametrize("changed", VARIANTS)
def test_each_target_and_option_has_its_own_key(tmp_path, monkeypatch, changed: str) -> None:
    spy = KeySpy(monkeypatch)
    database = {"db": str(tmp_path / "db")}
    baseline = spy.keys_of(**BASELINE, **database)
    variant = spy.keys_of(**{**BASELINE, **VARIANTS[changed]}, **database)
    assert baseline.isdisjoint(variant), f"changing {changed} kept a database key"


def test_seed_and_example_budget_share_the_key(tmp_path, monkeypatch) -> None:
    """The control for the test above: the spy sees the same keys when only the search changes."""
    spy = KeySpy(monkeypatch)
    database = {"db": str(tmp_path / "db")}
    baseline = spy.keys_of(**BASELINE, **database)
    assert spy.keys_of(**BASELINE, **database, seed=1) == baseline
    assert spy.keys_of(**BASELINE, **database, max_examples=3) == baseline


def test_each_check_has_its_own_key(tmp_path, monkeypatch) -> None:
    spy = KeySpy(monkeypatch)
    database = {"db": str(tmp_path / "db")}
    per_check = {name: spy.keys_of(**BASELINE, **database, checks=[name])
                 for name in ("equivalence", "deterministic", "padded_queries_empty", "appending_preserves_prefix")}
    names = list(per_check)
    for k, first in enumerate(names):
        for second in names[k + 1:]:
            assert per_check[first].isdisjoint(per_check[second]), f"{first} and {second} share a key"


def test_keys_name_the_target_options_and_check_not_maskoracles_source(tmp_path, monkeypatch) -> None:
    """A campaign's saved failures survive an upgrade of maskoracle: Hypothesis's default key is a digest of the
    property's source, which any edit of the engine changes; ours is the target, the options and the check."""
    spy = KeySpy(monkeypatch)
    keys = spy.keys_of(**BASELINE, db=str(tmp_path / "db"))
    assert b"maskoracle/mine:a/block_causal/numpy/any/any/masked/bool/equivalence" in keys, sorted(keys)


# --- a second failing target must not replay the first's input ------------------------------------------------

def _wrong_from_five_tokens(pad: Any, att: Any) -> np.ndarray:
    """Wrong on every input of five tokens or more (its saved counterexample has L = 5)."""
    mask = _plain(pad, att)
    if mask.shape[1] >= 5:
        mask[:, 0, 0] = ~mask[:, 0, 0]
    return mask


class WrongFromTwoTokens:
    """Wrong on every input of two tokens or more, so A's saved input fails it too; records what it is given."""

    def __init__(self) -> None:
        self.inputs: list[tuple[list[list[int]], list[list[int]]]] = []

    def __call__(self, pad: Any, att: Any) -> np.ndarray:
        self.inputs.append((np.asarray(pad).astype(int).tolist(), np.asarray(att).astype(int).tolist()))
        mask = _plain(pad, att)
        if mask.shape[1] >= 2:
            mask[:, 0, 0] = ~mask[:, 0, 0]
        return mask


def test_a_failing_second_target_does_not_replay_the_first_targets_input(tmp_path) -> None:
    database = str(tmp_path / "db")
    common: dict[str, Any] = {"framework": "numpy", "checks": ["equivalence"], "db": database, "seed": 0}
    first = check(_wrong_from_five_tokens, target="first:target", **common).checks[0]
    assert first.status == "failed" and first.counterexample is not None
    saved = (first.counterexample.pad.astype(int).tolist(), first.counterexample.att.astype(int).tolist())
    assert len(saved[0][0]) == 5

    second = WrongFromTwoTokens()
    result = check(second, target="second:target", **common).checks[0]
    assert result.status == "failed"
    assert second.inputs[0] != saved, "the second target replayed the first target's saved input first"
    assert saved not in second.inputs
    assert result.counterexample is not None and result.counterexample.shape[1] == 2  # its own smallest failure

    # Control: under the first target's name the same implementation does replay that input, first of all.
    replaying = WrongFromTwoTokens()
    check(replaying, target="first:target", **common)
    assert replaying.inputs[0] == saved


# --- the small-regime search after a long failure has a key of its own -----------------------------------------

def _wrong_past_twelve_tokens(pad: Any, att: Any) -> np.ndarray:
    """Size-dependent: wrong only on inputs longer than the small regime (SMALL_MAX_LENGTH = 12 tokens)."""
    mask = _plain(pad, att)
    if mask.shape[1] > 12:
        mask[:, -1, 0] = ~mask[:, -1, 0]
    return mask


def test_a_long_failure_is_replayed_first_after_the_small_regime_search(tmp_path) -> None:
    """``equivalence`` looks in the small regime once more after a long failure. Under the main search's key that
    second search replayed the saved long inputs through its own strategy, where they mean other inputs and pass,
    so Hypothesis deleted them: within two runs a size-dependent bug was no longer replayed first."""
    # (the nightly profile's shrinking budget: where shrinking stops must not depend on the machine's load)
    common: dict[str, Any] = {"framework": "numpy", "checks": ["equivalence"], "db": str(tmp_path / "db"),
                              "target": "long:bug", "profile": "nightly", "max_examples": 100}
    first = check(_wrong_past_twelve_tokens, seed=0, **common).checks[0]
    assert first.status == "failed" and first.counterexample is not None
    assert first.counterexample.shape[1] > 12

    lengths: list[int] = []

    def recording(pad: Any, att: Any) -> np.ndarray:
        lengths.append(np.asarray(pad).shape[1])
        return _wrong_past_twelve_tokens(pad, att)

    for later_seed in (1, 2, 3):
        lengths.clear()
        later = check(recording, seed=later_seed, **common).checks[0]
        assert later.status == "failed"
        assert lengths[0] > 12, f"run {later_seed + 1}: the saved long failure was not replayed first: {lengths[:8]}"
        assert later.examples == 0, later.message
