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

from .api import check
from .results import CheckReport, CheckResult, Counterexample
from .run import check_names

__all__ = ["CheckReport", "CheckResult", "Counterexample", "check", "check_names"]
