"""One implementation with a known verdict: a zoo entry."""

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
