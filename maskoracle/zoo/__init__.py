"""Implementations with known verdicts, for measuring the suite's power (``maskoracle selftest``).

``ZOO`` lists every entry: deliberate bugs (``equivalent=False``: the suite must kill them) and implementations
that are right by another route (``equivalent=True``: any failure is a false alarm). Each entry names the
``check()`` options it is run with, so a bug that only shows under an option (``att_dtype="bfloat16"``) is
checked the way a user would meet it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ZooEntry:
    """One implementation with a known verdict."""

    name: str
    fn: Callable[..., Any]
    framework: str = "torch"
    options: dict[str, Any] = field(default_factory=dict)
    equivalent: bool = False
    size_dependent: bool = False
    # Wrong only through the history of calls (a cache, a reused buffer, randomness): no single input
    # reproduces it on its own, so its counterexample cannot be shrunk like the others'.
    history_dependent: bool = False

    @property
    def doc(self) -> str:
        return (self.fn.__doc__ or "").strip().splitlines()[0] if self.fn.__doc__ else ""

    @property
    def target(self) -> str:
        return f"{self.fn.__module__}:{self.fn.__qualname__}"


def zoo_entries() -> list[ZooEntry]:
    """Every entry, bugs first; imports torch (most entries are PyTorch ports)."""
    from . import additive_zoo, numpy_zoo, torch_zoo

    return [*torch_zoo.ENTRIES, *additive_zoo.ENTRIES, *numpy_zoo.ENTRIES]
