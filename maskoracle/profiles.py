"""Run profiles: how hard ``check()`` searches, chosen by ``--profile`` or ``MASKORACLE_PROFILE``.

| profile | examples | seed | shrinking budget | for |
|---|---|---|---|---|
| ``dev`` | 100 | random | 4 s | a person at a terminal |
| ``ci`` | 100 | fixed (0): derandomised, the same run every time | 4 s | a CI gate |
| ``nightly`` | 5,000 | random | 60 s | long fuzzing campaigns |

Without a profile, ``--max-examples`` defaults to the active Hypothesis profile's ``max_examples``
(INTERFACE.md). Each profile is also registered with Hypothesis as ``maskoracle-<name>``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import settings

from .errors import UsageError

ENVIRONMENT_VARIABLE = "MASKORACLE_PROFILE"


@dataclass(frozen=True)
class Profile:
    name: str
    max_examples: int
    derandomize: bool
    shrink_budget_s: float


PROFILES = {
    "dev": Profile("dev", 100, False, 4.0),
    "ci": Profile("ci", 100, True, 4.0),
    "nightly": Profile("nightly", 5_000, False, 60.0),
}
DEFAULT_SHRINK_BUDGET_S = 4.0

for _profile in PROFILES.values():
    settings.register_profile(f"maskoracle-{_profile.name}", max_examples=_profile.max_examples,
                              derandomize=_profile.derandomize, deadline=None)


def resolve_profile(name: str | None) -> Profile | None:
    """The profile named by the option, else by ``MASKORACLE_PROFILE``, else none (Hypothesis's defaults)."""
    chosen = name or os.environ.get(ENVIRONMENT_VARIABLE) or None
    if chosen is None:
        return None
    if chosen not in PROFILES:
        source = "--profile" if name else ENVIRONMENT_VARIABLE
        raise UsageError(f"{source}: unknown profile {chosen!r} (choose from {', '.join(PROFILES)})")
    return PROFILES[chosen]
