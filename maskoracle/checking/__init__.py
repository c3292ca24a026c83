"""Running checks: ``check()`` and the machinery under it.

| module | what it holds |
|---|---|
| ``api.py`` | ``check()``: the implementation in a worker process (``isolation.py``, ``child.py``) or in this one |
| ``run.py`` | a run in one process: options checked, spec resolved, plan picked, one loop with the stop rules |
| ``resolve.py`` | ``resolve_spec``: ``spec``/``layout`` arguments as one typed ``ResolvedSpec`` |
| ``units.py`` | ``Check`` (a named unit) and ``Context`` (what a check is handed) |
| ``plans/`` | the checks of each plan: ``mask``, ``contract``, ``attention``, ``layout``, ``kv_cache`` |
| ``engine.py`` | how one check runs: fixed inputs or a Hypothesis property, shrinking, fewest batch rows |
| ``runner.py`` | build inputs, call, decode, compare with the oracle (``Runner``, ``SplitRunner``) |
| ``calling.py`` | the one call path: time limit, exceptions as ``Failure``/``Aborted`` |
| ``decode.py`` | the one decoding path: bool or additive ``[B, (1,) Q, K]`` -> bool |
| ``results.py`` | ``CheckResult``, ``CheckReport``, ``Counterexample``: the JSON report as objects |
| ``attention_math.py`` | attention through eager and SDPA with a mask (torch, imported lazily) |
"""

from typing import Any


def __getattr__(name: str) -> Any:
    """``check`` and friends, imported on first use (the worker process imports this package for ``child.py``
    and needs none of them)."""
    if name == "check":
        from .api import check  # lazily: see the function's docstring

        return check
    if name == "check_names":
        from .run import check_names  # lazily: as above

        return check_names
    if name in ("CheckReport", "CheckResult", "Counterexample"):
        from . import results  # lazily: as above

        return getattr(results, name)
    raise AttributeError(f"module 'maskoracle.checking' has no attribute {name!r}")

__all__ = ["CheckReport", "CheckResult", "Counterexample", "check", "check_names"]
