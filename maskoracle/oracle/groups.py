"""Grouped layouts: a sequence described as named segments, and the group rule that says who sees whom.

A layout is a list of segments in sequence order (image, language, subtask, state, actions, ...). Each has a
length, a padding family, a rule inside the segment (``bidirectional``: every real token of the segment sees
every other; ``causal``: a token sees the real tokens of its segment up to itself) and the names of the other
segments it sees (all of their real tokens; by default every earlier segment). The group rule, for query
``i`` in segment ``S(i)`` and key ``j`` in segment ``S(j)``:

    mask[b, i, j] = pad[b, i] and pad[b, j] and (
        S(j) in sees(S(i))                              if S(i) != S(j)
        S(i).rule == "bidirectional" or j <= i           if S(i) == S(j)
    )

A layout *compiles* to ``(pad, att)`` when some att row makes ``block_causal`` (SPEC §2) equal to the group
rule; ``compile_att`` finds that row or explains why none exists. The att row is forced: a bidirectional
segment is one block (att 0 inside), a causal one a block per token (att 1 inside), and a segment starts a new
block unless the segment before it sees it (only tokens of one block may see a later token). So the layout is
expressible exactly when that row's ``block_causal`` mask equals the group rule on an instance where every
segment has two tokens (two tokens show every kind of pair: across segments, and before/after inside one).

Like the rest of ``oracle/``: no torch, no printing; loops in SPEC's words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .specs import as_rows, block_causal

RULES = ("bidirectional", "causal")
SEGMENT_PADDINGS = ("none", "right", "left", "all")
EARLIER = "earlier"  # ``sees`` value: every segment before this one (the block_causal default)


@dataclass(frozen=True)
class Segment:
    """One named group of tokens.

    length: the realistic size (what ``Layout.instance()`` uses by default).
    min_length, max_length: the sizes random instances draw from (default 1 .. length).
    padding: ``none``; ``right`` (real tokens first, then padding, e.g. language); ``left``; ``all`` (a
        segment that is only padding, such as SmolVLA's prefix padding).
    rule: ``bidirectional`` or ``causal`` inside the segment.
    sees: names of the other segments this one sees, or ``"earlier"`` (every segment before it).
    """

    name: str
    length: int
    rule: str = "bidirectional"
    sees: str | tuple[str, ...] = EARLIER
    padding: str = "none"
    min_length: int = 1
    max_length: int | None = None

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"segment name must be a non-empty string, got {self.name!r}")
        if self.rule not in RULES:
            raise ValueError(f"segment {self.name!r}: rule {self.rule!r} is not one of {', '.join(RULES)}")
        if self.padding not in SEGMENT_PADDINGS:
            raise ValueError(f"segment {self.name!r}: padding {self.padding!r} is not one of "
                             f"{', '.join(SEGMENT_PADDINGS)}")
        if not isinstance(self.sees, str):
            object.__setattr__(self, "sees", tuple(self.sees))
        elif self.sees != EARLIER:
            raise ValueError(f"segment {self.name!r}: sees={self.sees!r}; pass 'earlier' or a list of segment "
                             "names, e.g. sees=['image', 'language']")
        if isinstance(self.length, bool) or not isinstance(self.length, int) or self.length < 0:
            raise ValueError(f"segment {self.name!r}: length must be an int >= 0, got {self.length!r}")
        top = self.length if self.max_length is None else self.max_length
        if not 0 <= self.min_length <= top:
            raise ValueError(f"segment {self.name!r}: need 0 <= min_length <= max_length, got "
                             f"{self.min_length} and {top}")
        if not self.min_length <= self.length <= top:
            raise ValueError(f"segment {self.name!r}: length {self.length} outside min_length..max_length "
                             f"({self.min_length}..{top})")

    @property
    def longest(self) -> int:
        return self.length if self.max_length is None else self.max_length


@dataclass(frozen=True)
class LayoutInstance:
    """One concrete sequence of a layout: ``pad`` and ``segment_ids`` rows (``[L]``), token labels, and the
    ``att`` row of ``block_causal`` where the layout compiles to one (``None`` otherwise)."""

    layout: Layout
    lengths: tuple[int, ...]
    pad: list[bool]
    segment_ids: list[int]
    att: list[bool] | None
    labels: list[str]

    @property
    def length(self) -> int:
        return len(self.pad)


@dataclass(frozen=True)
class Compiled:
    """The outcome of compiling a layout: its att pattern, or why ``(pad, att)`` cannot express it."""

    expressible: bool
    reason: str  # one sentence: why not, or a note on the att pattern found


@dataclass(frozen=True)
class Layout:
    """A sequence as named segments, in order. See the module docstring for the group rule.

    >>> layout = Layout("mine", [Segment("image", 4), Segment("actions", 3, sees=["image"])])
    >>> layout.compiled.expressible, layout.instance().att
    (True, [False, False, False, False, True, False, False])
    """

    name: str
    segments: tuple[Segment, ...]
    description: str = ""
    _compiled: list[Compiled] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(self.segments))
        if not self.segments:
            raise ValueError(f"layout {self.name!r} has no segments")
        names = [segment.name for segment in self.segments]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"layout {self.name!r}: two segments are named {name!r}")
        for segment in self.segments:
            if isinstance(segment.sees, tuple):
                for seen in segment.sees:
                    if seen not in names:
                        raise ValueError(f"layout {self.name!r}: segment {segment.name!r} sees {seen!r}, which "
                                         f"is not a segment (segments: {', '.join(names)})")

    # --- the rule --------------------------------------------------------------------------------------

    def sees(self, query_segment: int, key_segment: int) -> bool:
        """Whether segment ``query_segment`` sees segment ``key_segment`` (two different segments)."""
        seen = self.segments[query_segment].sees
        if seen == EARLIER:
            return key_segment < query_segment
        return self.segments[key_segment].name in seen

    def index(self, name: str) -> int:
        for position, segment in enumerate(self.segments):
            if segment.name == name:
                return position
        raise KeyError(name)

    # --- instances -------------------------------------------------------------------------------------

    def instance(self, lengths: Sequence[int] | None = None, real: Sequence[int] | None = None) -> LayoutInstance:
        """A concrete sequence: segment ``lengths`` (default each segment's ``length``) and how many tokens of
        each are ``real`` (default: all, but none of an ``all``-padding segment). Padding goes where each
        segment's ``padding`` says (right or left of its real tokens)."""
        sizes = [segment.length for segment in self.segments] if lengths is None else [int(n) for n in lengths]
        if len(sizes) != len(self.segments):
            raise ValueError(f"layout {self.name!r} has {len(self.segments)} segments; got {len(sizes)} lengths")
        if real is None:
            counts = [0 if segment.padding == "all" else size for segment, size in zip(self.segments, sizes,
                                                                                      strict=True)]
        else:
            counts = [int(n) for n in real]
        if len(counts) != len(sizes):
            raise ValueError(f"layout {self.name!r}: {len(counts)} real counts for {len(sizes)} segments")
        pad: list[bool] = []
        segment_ids: list[int] = []
        labels: list[str] = []
        for position, (segment, size, count) in enumerate(zip(self.segments, sizes, counts, strict=True)):
            if size < 0 or not 0 <= count <= size:
                raise ValueError(f"segment {segment.name!r}: {count} real tokens of {size}")
            if segment.padding == "none" and count != size:
                raise ValueError(f"segment {segment.name!r} has padding 'none' but {size - count} padded tokens")
            if segment.padding == "all" and count != 0:
                raise ValueError(f"segment {segment.name!r} is all padding but has {count} real tokens")
            if segment.padding == "left":
                row = [False] * (size - count) + [True] * count
            else:
                row = [True] * count + [False] * (size - count)
            pad += row
            segment_ids += [position] * size
            labels += [f"{segment.name}{k}" if size > 1 else segment.name for k in range(size)]
        att = self.att_row(sizes) if self.compiled.expressible else None
        return LayoutInstance(self, tuple(sizes), pad, segment_ids, att, labels)

    def att_row(self, lengths: Sequence[int]) -> list[bool]:
        """The forced att row (see the module docstring); ``block_causal`` of it is the group rule exactly when
        the layout is expressible."""
        att: list[bool] = []
        previous: int | None = None  # the last segment before this one that holds real tokens
        for position, (segment, size) in enumerate(zip(self.segments, lengths, strict=True)):
            if segment.padding == "all":
                # Only padding: nobody sees these tokens whatever their att, so they stay in the block before
                # (att 0), as SmolVLA's padded prefix does.
                att += [False] * size
                continue
            inside = segment.rule == "causal"
            for k in range(size):
                if k > 0:
                    att.append(inside)
                elif previous is None:
                    att.append(inside)  # the first bit never matters (SPEC §2); 1 reads "causal from here"
                else:
                    # A new block unless the segment before sees this one (then they must share a block).
                    att.append(not self.sees(previous, position))
            if size:
                previous = position
        return att

    # --- compiling -------------------------------------------------------------------------------------

    @property
    def compiled(self) -> Compiled:
        if not self._compiled:
            self._compiled.append(_compile(self))
        return self._compiled[0]

    def describe(self) -> str:
        """One line per segment: name, length, padding, rule, what it sees."""
        lines = []
        for position, segment in enumerate(self.segments):
            seen = [other.name for k, other in enumerate(self.segments) if k != position and self.sees(position, k)]
            lines.append(f"{segment.name}: {segment.length} tokens, {segment.rule}, padding {segment.padding}, "
                         f"sees {', '.join(seen) if seen else 'no other segment'}")
        return "\n".join(lines)


def group_rule_mask(pad_masks: Any, segment_ids: Any, layout: Layout, pad_queries: str = "masked") -> np.ndarray:
    """The group rule of ``layout`` (module docstring) as bool ``[B, L, L]``: loops in the rule's words.

    ``segment_ids[b, i]`` is the index in ``layout.segments`` of token ``i``'s segment. Padded queries and
    keys follow SPEC §2 and §4: a padded key is seen by nobody; a padded query sees nothing under ``masked``
    and follows the rule under ``free``.
    """
    pad_rows = as_rows(pad_masks, "pad")
    segment_rows = np.asarray(segment_ids)
    if segment_rows.ndim == 1:
        segment_rows = segment_rows[None, :]
    if segment_rows.shape != (len(pad_rows), len(pad_rows[0]) if pad_rows else 0):
        raise ValueError(f"segment_ids {list(segment_rows.shape)} must have the shape of pad "
                         f"[{len(pad_rows)}, {len(pad_rows[0]) if pad_rows else 0}]")
    if segment_rows.size and (segment_rows.min() < 0 or segment_rows.max() >= len(layout.segments)):
        raise ValueError(f"segment_ids must lie in 0..{len(layout.segments) - 1} (the layout's segments)")
    B = len(pad_rows)
    L = len(pad_rows[0]) if B else 0
    mask = np.zeros((B, L, L), dtype=bool)
    for b in range(B):
        for query in range(L):
            query_is_real = pad_rows[b][query] or pad_queries == "free"
            query_segment = int(segment_rows[b, query])
            for key in range(L):
                key_is_real = pad_rows[b][key]
                key_segment = int(segment_rows[b, key])
                if query_segment == key_segment:
                    allowed = layout.segments[query_segment].rule == "bidirectional" or key <= query
                else:
                    allowed = layout.sees(query_segment, key_segment)
                mask[b, query, key] = query_is_real and key_is_real and allowed
    return mask


def instance_mask(instance: LayoutInstance, pad_queries: str = "masked") -> np.ndarray:
    """The group-rule mask of one instance, ``[1, L, L]``."""
    return group_rule_mask([instance.pad], [instance.segment_ids], instance.layout, pad_queries)


def _compile(layout: Layout) -> Compiled:
    # Two tokens per segment, all real: every kind of pair the rule distinguishes occurs (module docstring).
    lengths = [2] * len(layout.segments)
    segment_ids = [position for position in range(len(layout.segments)) for _ in range(2)]
    pad = [layout.segments[position].padding != "all" for position in segment_ids]
    wanted = group_rule_mask([pad], [segment_ids], layout)[0]
    att = layout.att_row(lengths)
    got = block_causal([pad], [att])[0]
    for query in range(len(pad)):
        for key in range(len(pad)):
            if wanted[query, key] != got[query, key]:
                reason = _structural_reason(layout) or _why_not(layout, segment_ids, query, key,
                                                                bool(wanted[query, key]))
                return Compiled(False, reason)
    return Compiled(True, "block_causal of att " + "".join("1" if bit else "0" for bit in att) +
                    " (two tokens per segment) is the group rule")


def _why_not(layout: Layout, segment_ids: list[int], query: int, key: int, rule_allows: bool) -> str:
    """One sentence on why no att row expresses the layout, from the first cell where the forced one fails."""
    query_name = layout.segments[segment_ids[query]].name
    key_name = layout.segments[segment_ids[key]].name
    same = segment_ids[query] == segment_ids[key]
    if not rule_allows and not same and key < query:
        return (f"{query_name!r} must not see {key_name!r}, which comes before it; under block_causal a token "
                f"sees every real token of every earlier block, so no att row can hide an earlier segment from "
                f"a later one")
    if rule_allows and not same and key > query:
        return (f"{query_name!r} sees {key_name!r}, which comes after it; block_causal lets a token see a later "
                f"token only inside its own block, and that shared block also makes other tokens see each other "
                f"(first differing cell: {query_name} token {query % 2} -> {key_name} token {key % 2})")
    if not rule_allows and not same:
        return (f"{query_name!r} must not see {key_name!r}, but the segments between them that see each other "
                f"put both in one block, and block_causal makes a block bidirectional")
    if same:
        rule = layout.segments[segment_ids[query]].rule
        return (f"{query_name!r} is {rule}, but it shares a block with a segment that sees it; block_causal "
                f"makes a block bidirectional, so a causal segment cannot be seen by an earlier one")
    return f"{query_name!r} must see {key_name!r}, and no att row allows that"


def _structural_reason(layout: Layout) -> str | None:
    """Why no att row works, in terms of segments: the first requirement of block_causal the layout breaks.

    block_causal means: a token sees all of every earlier block, and inside its block every token sees every
    other; a token sees a later token only inside its own block, and blocks are contiguous.
    """
    real = [k for k, segment in enumerate(layout.segments) if segment.padding != "all"]
    names = [segment.name for segment in layout.segments]
    for position, query in enumerate(real):  # 1. nothing earlier may be hidden
        for key in real[:position]:
            if not layout.sees(query, key):
                return (f"{names[query]!r} must not see {names[key]!r}, which comes before it; under block_causal a "
                        f"token sees every real token of every earlier block, so no att row can hide an earlier "
                        f"segment from a later one")
    for position, query in enumerate(real):  # 2. seeing a later segment puts everything between in one block
        for later, key in enumerate(real[position + 1:], start=position + 1):
            if not layout.sees(query, key):
                continue
            between = real[position + 1:later]
            span = [query, *between, key]
            for x, y in ((x, y) for i, x in enumerate(span) for y in span[i + 1:]):
                if layout.sees(x, y):
                    continue
                if x == query:
                    return (f"{names[query]!r} sees {names[key]!r} after it but not {names[y]!r} between them; "
                            f"block_causal lets a token see a later token only inside its own block, and a block "
                            f"is contiguous")
                return (f"{names[query]!r} sees {names[key]!r} after it, so everything from {names[query]!r} to "
                        f"{names[key]!r} must be one block, where every token sees every other; but "
                        f"{names[x]!r} must not see {names[y]!r}")
            for member in span:
                if layout.segments[member].rule == "causal":
                    return (f"{names[query]!r} sees {names[key]!r} after it, so they must share one block; but "
                            f"{names[member]!r} is causal, and block_causal makes a block bidirectional")
    # 3. blocks chain: if a sees b and b sees c (both later), a, b and c share a block and a must see c
    for position, first in enumerate(real[:-1]):
        run = [first]
        for following in real[position + 1:]:
            if not layout.sees(run[-1], following):
                break
            run.append(following)
        for x, y in ((x, y) for i, x in enumerate(run) for y in run[i + 1:]):
            if not layout.sees(x, y):
                chain = " -> ".join(repr(names[k]) for k in run[:run.index(y) + 1])
                return (f"{names[x]!r} must not see {names[y]!r}, but the chain {chain} (each sees the next, "
                        f"later segment) puts them in one block, where every token sees every other")
    return None
