"""Shrinking a failing ``(pad, att)`` batch found outside Hypothesis (the batched search) to a minimal one.

Greedy, in the order Hypothesis' shrinker prefers: fewer tokens (chunks of positions deleted, halving the chunk
until single tokens), then simpler bits (an att bit cleared, a padded token made real), then fewer batch rows;
repeated until nothing smaller fails or the time budget is spent. A bug that does not need length ends at a
few tokens; a size-dependent one at the shortest length that still fails (deleting any token makes it pass).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ..strategies import MaskExample
from .results import Aborted, Failure

Body = Callable[[MaskExample], None]


class _Shrinker:
    def __init__(self, body: Body, failure: Failure, budget_s: float,
                 admits: Callable[[MaskExample], bool] | None = None) -> None:
        self.body = body
        self.admits = admits
        self.best = failure
        self.deadline = time.perf_counter() + budget_s
        self.stopped = False  # the implementation timed out or stopped: keep what we have

    @property
    def pad(self) -> np.ndarray:
        return self.best.counterexample.pad

    @property
    def att(self) -> np.ndarray:
        return self.best.counterexample.att

    def out_of_time(self) -> bool:
        return self.stopped or time.perf_counter() > self.deadline

    def attempt(self, pad: np.ndarray, att: np.ndarray) -> bool:
        """Whether ``(pad, att)`` still fails; if so it becomes the best failure."""
        if pad.shape[1] == 0 or pad.shape[0] == 0 or self.out_of_time():
            return False
        example = MaskExample(np.ascontiguousarray(pad), np.ascontiguousarray(att))
        if self.admits is not None and not self.admits(example):
            return False  # outside the run's families: its failure would not be one the user asked about
        try:
            self.body(example)
        except Failure as failure:
            self.best = failure
            return True
        except Aborted:
            self.stopped = True
        return False

    def delete_chunks(self, axis: int) -> bool:
        """Delete chunks of positions (``axis`` 1) or batch rows (``axis`` 0), halving the chunk down to one."""
        changed = False
        size = max(1, self.pad.shape[axis] // 2)
        while size >= 1 and not self.out_of_time():
            start = self.pad.shape[axis] - size  # from the end first: trailing tokens matter least
            while start >= 0 and not self.out_of_time():
                keep = np.r_[0:start, start + size:self.pad.shape[axis]]
                if self.attempt(np.take(self.pad, keep, axis), np.take(self.att, keep, axis)):
                    changed = True
                    start = min(start, self.pad.shape[axis] - size)
                else:
                    start -= size
            size //= 2
        return changed

    def simplify_bits(self) -> bool:
        changed = False
        for b, i in np.argwhere(self.att):
            att = self.att.copy()
            att[b, i] = False
            changed |= self.attempt(self.pad, att)
        for b, i in np.argwhere(~self.pad):
            pad = self.pad.copy()
            pad[b, i] = True
            changed |= self.attempt(pad, self.att)
        return changed


def shrink_failure(body: Body, failure: Failure, budget_s: float,
                   admits: Callable[[MaskExample], bool] | None = None) -> Failure:
    """The smallest failing input found from ``failure`` within ``budget_s`` seconds (``body`` raises
    ``Failure`` on a failing input), trying only inputs that ``admits`` (the run's --layout/--padding families)."""
    shrinker = _Shrinker(body, failure, budget_s, admits)
    while not shrinker.out_of_time():
        changed = shrinker.delete_chunks(0)
        changed |= shrinker.delete_chunks(1)
        changed |= shrinker.simplify_bits()
        if not changed:
            break
    return shrinker.best
