"""A check as a named unit, and what every check is handed when it runs.

A ``Check`` has a name, a one-line description, when it applies (``skip``: why not, or ``None``) and how it
runs. Plans (``checking/plans/``) are lists of checks; a check shared by several plans is one ``Check`` value
that each plan lists. A check reads its inputs from ``context.inputs``, the plan's ``Inputs``, so that the same
check runs on ``(pad, att)`` batches, on a grouped layout's instances or on KV-cache splits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .engine import CheckState, RunSettings
from .resolve import ResolvedSpec
from .results import CheckResult
from .runner import Runner, SplitRunner


class Inputs(Protocol):
    """Where a plan's inputs come from. An example is a ``MaskExample`` or a ``SplitExample``."""

    note: str  # added to every counterexample of the run (a group rule's legend of segment ids)

    def first(self) -> Any:
        """One small input whose result must be readable (``output_format``)."""

    def fixed(self) -> list[Any]:
        """Worked examples, checked cell for cell (``spec_examples``)."""

    def examples(self) -> Any:
        """A Hypothesis strategy of the plan's default distribution (``equivalence``)."""

    def small(self) -> Any:
        """A strategy of small inputs (the behaviour checks, and where a long failure is looked for again);
        ``None`` where the plan has no such regime."""

    def rows(self) -> Any:
        """A ``RowSampler`` for the batched search of ``equivalence``; ``None`` where the plan has none."""

    def long(self) -> list[Any]:
        """Long inputs at the sizes where size-dependent bugs live (``size_boundaries``)."""

    def device_examples(self) -> list[Any]:
        """Inputs for ``result_device``."""

    def admits(self, example: Any) -> bool:
        """Whether an input the shrinker made from one of these is still one the plan could draw (so that a
        counterexample never leaves the families the options name); plans without such a test admit all."""


@dataclass
class Context:
    """One run's state, handed to every check: the runner, the checked options, the spec, the search settings."""

    runner: Any  # Runner or SplitRunner
    options: dict[str, Any]
    spec: ResolvedSpec
    run: RunSettings
    target_fn: Any  # the callable as given (a FlexAttention factory before materialising)
    inputs: Inputs

    @property
    def few(self) -> int:
        """Examples for each property past ``equivalence``."""
        return max(10, self.run.max_examples // 4)

    @property
    def mask_runner(self) -> Runner:
        assert isinstance(self.runner, Runner)
        return self.runner

    @property
    def split_runner(self) -> SplitRunner:
        assert isinstance(self.runner, SplitRunner)
        return self.runner


def applies_always(context: Context) -> str | None:
    return None


@dataclass(frozen=True)
class Check:
    """A named check: ``run(context, state)`` returns its result; ``skip(context)`` says why it does not apply."""

    name: str
    description: str
    run: Callable[[Context, CheckState], CheckResult]
    skip: Callable[[Context], str | None] = applies_always

    def __call__(self, context: Context) -> CheckResult:
        reason = self.skip(context)
        state = CheckState(self.name, self.description)
        if reason is not None:
            return state.result("skipped", reason)
        return self.run(context, state)

    def renamed(self, name: str, description: str) -> Check:
        """The same check under another name (``decoding_matches_full_mask`` is incremental's equivalence)."""
        return Check(name, description, self.run, self.skip)
