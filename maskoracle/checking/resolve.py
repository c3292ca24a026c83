"""What a run checks against, resolved once at the edge (``check()``, the pytest plugin) into a typed value.

The ``spec`` and ``layout`` arguments can each be a name, a grouped ``Layout``, a built-in layout's name or
``path/file.py:NAME``. ``resolve_spec`` turns them into one ``ResolvedSpec``; nothing below it loads files or
tells a spec name from a layout name. Two words are kept apart:

- an **att family** (``--layout pi0``): how ``(pad, att)`` inputs are drawn (``maskoracle.strategies``);
- a **grouped layout** (``maskoracle.layouts.Layout``): named segments whose instances are the inputs, checked
  either *compiled* (``fn(pad, att)`` against ``block_causal``) or by its *group rule* (``fn(pad, segment_ids)``
  against ``oracle.groups.group_rule_mask``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..layouts import BUILTIN_LAYOUTS, Layout, load_layout
from ..oracle import SPECS
from ..strategies import LAYOUTS

GROUP_ATT_DTYPES = ("int64", "int32")  # segment ids are integers


@dataclass(frozen=True)
class ResolvedSpec:
    """The oracle a run compares with and where its inputs come from.

    ``rule`` is what the oracle evaluates: a spec name (``block_causal``, ``rowwise``) or, for a group rule,
    the ``Layout`` itself. ``grouped`` is the grouped layout whose instances are drawn (``None``: the att
    family ``family``). ``layout_source`` is how the user named the grouped layout (for the reproduce command).
    """

    rule: Any
    family: str = "any"
    grouped: Layout | None = None
    layout_source: str = ""

    @property
    def group_rule(self) -> bool:
        return isinstance(self.rule, Layout)

    @property
    def name(self) -> str:
        """The report's ``spec``: the spec name, or the layout's name for a group rule."""
        return self.rule.name if isinstance(self.rule, Layout) else str(self.rule)

    @property
    def layout_name(self) -> str:
        """The report's ``layout``: the att family, or the grouped layout as the user named it."""
        if self.grouped is None:
            return self.family
        return self.grouped.name if self.group_rule else (self.layout_source or self.grouped.name)

    def native_att_dtype(self, att_dtype: str) -> str:
        """A group rule feeds segment ids: ``bool`` (the default) means int64 there."""
        if self.group_rule:
            return "int64" if att_dtype == "bool" else att_dtype
        return att_dtype


def _layout_of(value: Any) -> Layout | None:
    """A grouped layout named by ``value``, loaded (``None`` for an att family or a spec name)."""
    if isinstance(value, Layout):
        return value
    if isinstance(value, str) and ":" in value:
        return load_layout(value)
    return None


def resolve_spec(spec: Any, layout: Any) -> ResolvedSpec:
    """``check()``'s ``spec`` and ``layout`` as one ``ResolvedSpec``; ``UsageError`` for a bad combination."""
    spec_layout = load_layout(spec) if isinstance(spec, str) and spec in BUILTIN_LAYOUTS else _layout_of(spec)
    layout_grouped = _layout_of(layout)
    if spec_layout is not None:
        if layout_grouped is not None and layout_grouped != spec_layout:
            raise UsageError("pass the grouped layout once: spec=LAYOUT (group rule) or layout=LAYOUT")
        if layout_grouped is None and layout != "any":
            raise UsageError(f"--layout {layout}: with a grouped spec, inputs come from its own segments")
        return ResolvedSpec(spec_layout, grouped=spec_layout)
    if spec not in SPECS:
        raise UsageError(f"--spec: invalid value {spec!r} (choose from {', '.join(SPECS)} or a Layout)")
    if layout_grouped is not None:
        source = layout if isinstance(layout, str) else layout_grouped.name
        rule = spec if layout_grouped.compiled.expressible else layout_grouped
        return ResolvedSpec(rule, grouped=layout_grouped, layout_source=source)
    if layout not in LAYOUTS:
        raise UsageError(f"--layout: invalid value {layout!r} (choose from {', '.join(LAYOUTS)})")
    return ResolvedSpec(spec, family=layout)
