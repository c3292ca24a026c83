"""A run in this process: validate the options, resolve the spec, pick the plan, and run its checks in one loop.

Data flows one way (STYLE.md): strategies -> adapter -> the implementation -> decode -> compare with the
oracle and the invariants -> ``CheckReport``. The plans (``checking/plans/``) say which checks run on which
inputs; ``engine.py`` says how one runs; presentation lives in ``maskoracle.reports``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..adapters import get_adapter
from ..adapters.conventions import INPUT_CONVENTIONS
from ..adapters.flex import require_flex, wrap_kind
from ..errors import UsageError
from ..kinds import FLEX_KINDS, MASK_LIKE_KINDS, SPLIT_KINDS
from ..options import CHECK_OPTIONS, check_options, report_options, resolved_default
from ..profiles import Profile, resolve_profile
from ..strategies import LAYOUT_PADDINGS
from ..targets import describe_target
from .engine import run_settings
from .plans import plan_for
from .plans.kv_cache import DecodingInputs, KvCacheInputs
from .plans.layout import LayoutInputs
from .plans.mask import MaskInputs
from .resolve import GROUP_ATT_DTYPES, ResolvedSpec, resolve_spec
from .results import CheckReport, CheckResult
from .runner import MaskFn, Runner, SplitRunner
from .units import Check, Context, Inputs


@dataclass
class Prepared:
    """A run's checked options, resolved spec and plan: everything decided before the implementation is seen."""

    values: dict[str, Any]
    spec: ResolvedSpec
    plan: tuple[Check, ...]
    wanted: set[str] | None
    profile: Profile | None

    @property
    def names(self) -> list[str]:
        return [unit.name for unit in self.plan if self.wanted is None or unit.name in self.wanted]


def prepare(options: dict[str, Any], checks: Iterable[str] | None = None, *, framework_here: bool = True) -> Prepared:
    """Validate ``options`` (``maskoracle.options``), resolve the spec and pick the plan; ``UsageError`` for
    anything wrong, before any code of the implementation runs. ``framework_here=False`` leaves the framework's
    own checks (device, att dtype) to the worker process, so that this one never imports torch or JAX."""
    values = check_options(options)
    values["pad_queries"] = values["pad_queries"] or resolved_default("pad_queries", values)
    _convention_layout(values)
    spec = resolve_spec(values["spec"], values["layout"])
    values["att_dtype"] = spec.native_att_dtype(values["att_dtype"])
    _check_combination(spec, values)
    plan = plan_for(spec, values["kind"])
    names = [unit.name for unit in plan]
    wanted = set(checks) if checks is not None else None
    unknown = (wanted or set()) - set(names)
    if unknown:
        raise UsageError(f"unknown check {sorted(unknown)[0]!r}; choose from {', '.join(names)}")
    profile = resolve_profile(values["profile"])
    if framework_here:
        adapter = get_adapter(values["framework"], values["device"])
        # An att dtype the framework cannot build is a usage error, found before any check runs.
        adapter.inputs(np.ones((1, 1), dtype=bool), np.ones((1, 1), dtype=bool), values["att_dtype"])
    return Prepared(values, spec, plan, wanted, profile)


Progress = Callable[[str, CheckResult | None], None]  # (check name, None before / its result after)
ExamplesProgress = Callable[[str, int, int], None]  # (check name, examples passed, examples planned)


def run_in_process(fn: MaskFn, options: dict[str, Any], target: str | None = None,
                   checks: Iterable[str] | None = None, progress: Progress | None = None,
                   examples_progress: ExamplesProgress | None = None) -> CheckReport:
    """The checks of the plan, in order, with the stop rules, in this process; ``fn`` is the implementation, or
    a ``RemoteFunction`` that calls it in a worker process (``isolation.py``)."""
    prepared = prepare(options, checks)
    values, spec, profile = prepared.values, prepared.spec, prepared.profile
    adapter = get_adapter(values["framework"], values["device"])
    target = target or describe_target(fn)
    run = run_settings(profile, values, database_key(target, spec, values), examples_progress)
    values.update(seed=run.seed, max_examples=run.max_examples, profile=profile.name if profile else None)
    runner = _runner(fn, spec, values, adapter)
    context = Context(runner, values, spec, run, fn, _inputs(spec, values))
    report = CheckReport(target=target, spec=spec.name, options=report_options_of(spec, values))
    started = time.perf_counter()
    stopped: str | None = None
    for unit in prepared.plan:
        if prepared.wanted is not None and unit.name not in prepared.wanted:
            continue
        if progress:
            progress(unit.name, None)
        result = _skipped(unit, f"not run: {stopped}") if stopped else _run_one(unit, context)
        stopped = stopped or _stop_reason(unit.name, result, values["exitfirst"])
        report.checks.append(result)
        if progress:
            progress(unit.name, result)
    report.elapsed_s = time.perf_counter() - started
    return report


def check_names(spec: Any = "block_causal", kind: str = "mask", layout: Any = "any") -> list[str]:
    """The names of the checks ``check()`` runs for ``spec``, ``kind`` (and a grouped ``layout``), in order."""
    return [unit.name for unit in plan_for(resolve_spec(spec, layout), kind)]


# --- the edge: options that must agree with each other ---------------------------------------------------------

def _convention_layout(values: dict[str, Any]) -> None:
    """An ``--inputs`` convention that carries no att (``transformers``) expresses one layout: it becomes the
    layout, and another one is a usage error; one that cannot serve the split kinds refuses them."""
    convention = INPUT_CONVENTIONS[values["inputs"]]
    if values["kind"] in SPLIT_KINDS and not convention.is_default and not convention.splits:
        raise UsageError(f"--inputs {convention.name} applies to --kind mask; --kind {values['kind']} takes "
                         "pad_att or transformers")
    if convention.layout is None or values["layout"] == convention.layout:
        return
    if values["layout"] != "any":
        raise UsageError(f"--inputs {convention.name} passes no att: it expresses --layout {convention.layout} only, "
                         f"not --layout {values['layout']}")
    values["layout"] = convention.layout


def _check_combination(spec: ResolvedSpec, values: dict[str, Any]) -> None:
    kind = values["kind"]
    for option in CHECK_OPTIONS:
        if kind not in option.kinds and values[option.name] != option.default:
            raise UsageError(f"{option.flag()} applies to --kind {', '.join(option.kinds)}, not --kind {kind}")
    if kind in FLEX_KINDS:
        require_flex(kind, values["framework"])
    if values["inputs"] != "pad_att":
        if spec.grouped is not None:
            raise UsageError(f"--inputs {values['inputs']}: a grouped layout is checked as fn(pad, att); drop --inputs")
        if values["att_dtype"] != "bool":
            raise UsageError(f"--inputs {values['inputs']} passes integer attention_mask and token_type_ids; drop "
                             f"--att-dtype {values['att_dtype']}")
    if spec.grouped is not None:
        if kind != "mask":
            raise UsageError(f"--kind {kind}: a grouped layout is checked as fn(pad, att) -> mask; drop --kind")
        if values["padding"] not in LAYOUT_PADDINGS:
            raise UsageError(f"--padding {values['padding']}: a grouped layout draws each segment's own padding; "
                             "use any or none")
        if spec.group_rule and values["att_dtype"] not in GROUP_ATT_DTYPES:
            raise UsageError(f"--att-dtype {values['att_dtype']}: a group-rule spec feeds segment ids; use int64 or "
                             "int32")
    elif kind not in MASK_LIKE_KINDS and spec.rule != "block_causal":
        raise UsageError(f"--kind {kind} is checked against SPEC §5, which builds on block_causal; drop --spec "
                         f"{spec.rule}")


def database_key(target: str, spec: ResolvedSpec, values: dict[str, Any]) -> str:
    """What tells this target's and options' saved examples from every other's in the example database."""
    common = f"{values['framework']}/{values['padding']}/{values['pad_queries']}/{values['att_dtype']}"
    if spec.grouped is not None:
        rule = f"group rule of layout {spec.grouped.name!r}" if spec.group_rule else spec.rule
        return f"maskoracle/{target}/layout/{spec.grouped.name}/{rule}/{common}"
    key = f"maskoracle/{target}/{spec.rule}/{values['framework']}/{spec.family}/{values['padding']}/" \
          f"{values['pad_queries']}/{values['att_dtype']}"
    return key if values["kind"] == "mask" else f"{key}/{values['kind']}"


def report_options_of(spec: ResolvedSpec, values: dict[str, Any]) -> dict[str, Any]:
    """The JSON report's ``options`` of a run (grouped layouts add their mode and segments)."""
    options = report_options({**values, "layout": spec.layout_name})
    if spec.grouped is not None:
        options.update(group_rule=spec.group_rule, segments=[segment.name for segment in spec.grouped.segments])
    return options


def _runner(fn: MaskFn, spec: ResolvedSpec, values: dict[str, Any], adapter: Any) -> Runner | SplitRunner:
    kind = values["kind"]
    convention = INPUT_CONVENTIONS[values["inputs"]]
    if kind in SPLIT_KINDS:
        if convention.splits:
            fn = convention.wrap_split(fn, adapter, kind)
        return SplitRunner(kind, fn, adapter, values["att_dtype"], values["timeout"], values["pad_queries"],
                           values["none_means"])
    if not getattr(fn, "materialised", False):  # a worker's implementation: the worker applies the kind
        fn = wrap_kind(fn, kind)
    fn = convention.wrap(fn, adapter)
    return Runner(fn, adapter, spec.rule, values["pad_queries"], values["att_dtype"],
                  values["timeout"], values["none_means"])


def _inputs(spec: ResolvedSpec, values: dict[str, Any]) -> Inputs:
    if spec.grouped is not None:
        return LayoutInputs(spec.grouped, values["padding"], spec.group_rule)
    if values["kind"] == "kv_cache":
        return KvCacheInputs(spec.family, values["padding"])
    if values["kind"] == "incremental":
        return DecodingInputs(spec.family, values["padding"])
    return MaskInputs(spec.family, values["padding"], INPUT_CONVENTIONS[values["inputs"]])


# --- the loop's stop rules -----------------------------------------------------------------------------------

def _skipped(unit: Check, reason: str) -> CheckResult:
    return CheckResult(unit.name, "skipped", message=reason, description=unit.description)


def _run_one(unit: Check, context: Context) -> CheckResult:
    result = unit(context)
    note = context.inputs.note
    if note and result.counterexample is not None and not result.counterexample.note:
        result.counterexample.note = note
    return result


def _stop_reason(name: str, result: CheckResult, exitfirst: bool = False) -> str | None:
    """Why no later check can run after this result: a timeout, SystemExit, an unreadable result, or (with
    ``--exitfirst``) any failure."""
    if result.status != "failed":
        return None
    if result.message.startswith("timed out"):
        return f"the implementation timed out in {name}"
    if result.message.startswith("raised SystemExit"):
        return f"the implementation raised SystemExit in {name}"
    if result.message.startswith("the implementation's worker process"):
        return f"{result.message.split(' during a call', 1)[0].split(';', 1)[0]} in {name}"
    if name == "output_format":
        return "output_format failed, so no other result can be read"
    if exitfirst:
        return f"--exitfirst, and {name} failed"
    return None
