"""``check()``: the public entry point; it runs the implementation in a worker process or in this one.

``isolation="auto"`` (the default) means a worker process for a TARGET named by a string (the CLI, the pytest
plugin, ``check("pkg.mod:fn")``) and this process for a Python callable, which may be a closure that no other
process can import. ``isolation="process"`` with a callable needs one importable as ``module:qualname``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..errors import UsageError
from ..targets import describe_target, load_target
from .isolation import check_isolated
from .results import CheckReport, CheckResult
from .run import run_in_process


def check(
    fn: Any,
    *,
    target: str | None = None,
    checks: Iterable[str] | None = None,
    progress: Callable[[str, CheckResult | None], None] | None = None,
    examples_progress: Callable[[str, int, int], None] | None = None,
    **options: Any,
) -> CheckReport:
    """Check ``fn(pad_masks, att_masks) -> mask`` against the oracle; return a ``CheckReport``.

    >>> from maskoracle.implementations.numpy import block_causal
    >>> check(block_causal, framework="numpy", max_examples=20, seed=0).passed
    True

    ``fn`` is a callable, or a TARGET string (``package.module:function`` or ``path/file.py:function``).
    ``options`` are those of ``maskoracle check`` (``maskoracle.options.CHECK_OPTIONS``, INTERFACE.md):
    ``spec``, ``framework``, ``device``, ``layout``, ``padding``, ``pad_queries``, ``att_dtype``,
    ``max_examples``, ``timeout``, ``seed``, ``profile`` (``dev``, ``ci``, ``nightly``), ``db`` (the example
    database: a directory, a Redis URL, several comma-separated, or ``"none"``), ``max_shrink_seconds``,
    ``kind``, ``none_means`` (what a ``None`` result stands for: ``"fail"``, ``"causal"``, ``"unmasked"``),
    ``inputs`` (how ``fn`` takes its inputs: ``"pad_att"``, ``"paligemma"``, ``"gemma3"``;
    ``maskoracle.adapters.conventions``), ``model_dtypes``, ``nan_free``, ``exitfirst`` (stop at the first failed
    check), ``isolation`` and ``memory_limit``. ``checks`` restricts the run to named checks (``check_names(spec)``); ``progress(name, result)`` is called before (result ``None``) and
    after each; ``examples_progress(name, passed, planned)`` after each passing example of a random search.
    Raises ``UsageError`` for a bad option value; a misbehaving ``fn`` never raises, it fails checks (a
    ``KeyboardInterrupt`` it raises in this process stops the run, as Ctrl-C would).

    ``spec`` or ``layout`` may be a grouped ``Layout`` (or the name of a built-in one, or ``path/file.py:NAME``):
    see ``checking/plans/layout.py``. ``kind`` is the calling convention of ``fn`` (``maskoracle.kinds``):
    ``mask`` (the default), ``kv_cache``, ``incremental`` (SPEC §5), or a FlexAttention ``mask_mod`` or
    ``block_mask`` factory, materialised and checked like a mask. ``model_dtypes`` (``"float32,bfloat16"`` or
    a list) are the dtypes the model runs in: an additive masked value must survive each, and
    ``attention_outputs`` runs in each; ``nan_free`` fails NaN in padded query rows of attention outputs.
    """
    isolation = options.get("isolation", "auto")
    named = fn if isinstance(fn, str) else None
    if isolation == "process" and named is None:
        named = describe_target(fn)
        try:
            importable = load_target(named) is fn
        except UsageError:
            importable = False
        if not importable:
            raise UsageError(f"isolation='process' runs the implementation in another process, which must import "
                             f"it by name; {named} cannot be imported (a closure or a local function?): pass a "
                             "module:function string, or isolation='in-process'")
    if named is not None and isolation in ("auto", "process"):
        return check_isolated(target or named, checks=checks, progress=progress,
                              examples_progress=examples_progress, **options)
    if named is not None:  # in-process by request
        fn = load_target(named)
    report = run_in_process(fn, options, target or named, checks, progress, examples_progress)
    report.worker = {"isolation": "in-process"}
    return report
