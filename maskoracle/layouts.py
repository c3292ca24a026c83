"""Grouped layouts: the real models of SPEC §8 as named segments, and how to write your own.

>>> from maskoracle.layouts import Layout, Segment
>>> mine = Layout("mine", [
...     Segment("image", 256, sees=("language",)),  # one bidirectional prefix block
...     Segment("language", 48, padding="right"),
...     Segment("subtask", 20, rule="causal", padding="right"),
...     Segment("actions", 50, sees=["image", "language"]),   # actions must not see the subtask tokens
... ])
>>> mine.compiled.expressible
False
>>> print(mine.compiled.reason)  # doctest: +ELLIPSIS
'actions' must not see 'subtask', which comes before it; ...

A layout that compiles to ``(pad, att)`` is checked with ``check(fn, layout=mine)``: ``fn(pad_masks,
att_masks)`` as usual, on random instances of the layout. One that does not is checked with
``check(fn, spec=mine)``: ``fn(pad_masks, segment_ids)`` against the group rule (``segment_ids[b, i]`` is
the index of token ``i``'s segment in ``mine.segments``). ``maskoracle leaks --layout ...`` shows what leaks.

The segment sizes are the realistic ones of ``strategies.realistic_examples`` (three 224 px images of 256
tokens for pi0/pi0.5, 64 tokens per image for SmolVLA, language budgets of 48 and 200, 50 actions).
"""

from __future__ import annotations

from pathlib import Path

from .errors import UsageError
from .oracle.groups import Layout, LayoutInstance, Segment
from .targets import import_module

__all__ = ["BUILTIN_LAYOUTS", "Layout", "LayoutInstance", "Segment", "load_layout"]

PI0 = Layout("pi0", (
    Segment("image", 768, sees=("language",)),  # one bidirectional prefix block
    Segment("language", 48, padding="right"),
    Segment("state", 1),
    Segment("actions", 50),
), "pi0: images and language bidirectional (language right-padded), a state token, then 50 actions "
   "[1, 0, 0, ...] that see everything before them and each other")

PI05 = Layout("pi05", (
    Segment("image", 768, sees=("language",)),  # one bidirectional prefix block
    Segment("language", 200, padding="right"),
    Segment("actions", 50),
), "pi0.5: images and language bidirectional, then the action block; no state token")

PI05_SUBTASK = Layout("pi05_subtask", (
    Segment("image", 768, sees=("language",)),  # one bidirectional prefix block
    Segment("language", 200, padding="right"),
    Segment("subtask", 20, rule="causal", padding="right"),
    Segment("actions", 50),
), "pi0.5 with subtask tokens (the user's case): subtask tokens decoded causally after the prompt; the "
   "prefix does not see them")

SMOLVLA = Layout("smolvla", (
    Segment("image", 192, sees=("language",)),  # one bidirectional prefix block
    Segment("language", 48, padding="right"),
    Segment("state", 1),
    Segment("prefix_padding", 0, padding="all", min_length=0, max_length=4),
    Segment("actions", 50, rule="causal"),
), "SmolVLA: images, language, then the state at the end of the prefix, which is right-padded as a whole; "
   "actions causal")

PI0_FAST = Layout("fast", (
    Segment("image", 768, sees=("language",)),  # one bidirectional prefix block
    Segment("language", 48, padding="right"),
    Segment("actions", 180, rule="causal", padding="right"),
), "pi0-FAST: images and language bidirectional, then FAST action tokens decoded causally")

PI05_SUBTASK_HIDDEN = Layout("pi05_subtask_hidden", (
    Segment("image", 768, sees=("language",)),  # one bidirectional prefix block
    Segment("language", 200, padding="right"),
    Segment("subtask", 20, rule="causal", padding="right"),
    Segment("actions", 50, sees=("image", "language")),
), "pi0.5 with subtask tokens that the actions must not see: no (pad, att) expresses it, so it is a "
   "group-rule spec")

BUILTIN_LAYOUTS: dict[str, Layout] = {
    layout.name: layout for layout in (PI0, PI05, PI05_SUBTASK, SMOLVLA, PI0_FAST, PI05_SUBTASK_HIDDEN)
}


def load_layout(text: str) -> Layout:
    """A built-in layout by name, or ``path/to/file.py:NAME`` / ``package.module:NAME`` naming a ``Layout``.

    Raises ``UsageError`` with a one-line reason otherwise.
    """
    if text in BUILTIN_LAYOUTS:
        return BUILTIN_LAYOUTS[text]
    if text in _LOADED:  # a file is imported once per process, however often check() names it
        return _LOADED[text]
    module_part, colon, attribute = text.rpartition(":")
    if not colon or not module_part or not attribute:
        raise UsageError(f"layout {text!r}: name a built-in ({', '.join(BUILTIN_LAYOUTS)}) or a Layout object "
                         "as path/to/file.py:NAME")
    try:
        module = import_module(module_part, text)
    except UsageError as error:
        raise UsageError(str(error).replace("TARGET", "layout", 1)) from None
    value: object = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise UsageError(f"layout {text!r}: {Path(module_part).name} has no attribute {part!r}")
        value = getattr(value, part)
    if not isinstance(value, Layout):
        raise UsageError(f"layout {text!r} is a {type(value).__name__}, not a maskoracle Layout")
    _LOADED[text] = value
    return value


_LOADED: dict[str, Layout] = {}
