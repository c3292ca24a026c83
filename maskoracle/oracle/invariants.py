"""Named invariants of SPEC §2, as predicates usable on any mask.

Each invariant looks for one violation and returns it (or ``None``). Some read a single mask; the
*metamorphic* ones compare the masks of related inputs (att with its first bit flipped, a shorter sequence,
one batch row alone), so they take a ``compute(pad, att) -> bool [B, L, L]`` function rather than a mask.
``mask_violation`` wraps a ready-made mask for the single-mask ones.

Only real query rows are read when ``pad_queries="free"`` (SPEC §4): padded rows are then garbage by design.
Like the rest of ``oracle/``, these are loops in SPEC's words; run them on small masks (L up to a few dozen).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .specs import block_ids

Compute = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Violation:
    """One cell (or path) that breaks an invariant, with a sentence that says so."""

    invariant: str
    batch: int
    query: int | None
    key: int | None
    message: str
    path: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Invariant:
    """A named property of correct masks (SPEC §2). ``holds_for`` lists the specs it is true of."""

    name: str
    summary: str
    holds_for: frozenset[str]
    metamorphic: bool
    needs_masked_pad_queries: bool
    find: Callable[[Compute, np.ndarray, np.ndarray, str], Violation | None] = field(repr=False)

    def violation(
        self, compute: Compute, pad: np.ndarray, att: np.ndarray, pad_queries: str = "masked"
    ) -> Violation | None:
        """The first violation of this invariant for input ``(pad, att)``, or ``None`` if it holds."""
        if self.needs_masked_pad_queries and pad_queries != "masked":
            return None
        return self.find(compute, np.asarray(pad, dtype=bool), np.asarray(att, dtype=bool), pad_queries)

    def mask_violation(
        self, mask: np.ndarray, pad: np.ndarray, att: np.ndarray, pad_queries: str = "masked"
    ) -> Violation | None:
        """Like ``violation`` for an already computed mask; only for invariants that read a single mask."""
        if self.metamorphic:
            raise ValueError(f"invariant {self.name!r} compares several masks; call .violation(compute, pad, att)")
        return self.violation(lambda _pad, _att: mask, pad, att, pad_queries)


def _query_rows_read(pad: np.ndarray, b: int, pad_queries: str) -> list[int]:
    """The query rows an invariant may read: all of them, or only the real ones under ``free``."""
    L = pad.shape[1]
    return [i for i in range(L) if pad_queries == "masked" or pad[b, i]]


def _first_difference(
    name: str, what: str, expected: np.ndarray, actual: np.ndarray, pad: np.ndarray, pad_queries: str
) -> Violation | None:
    for b in range(expected.shape[0]):
        for query in _query_rows_read(pad, b, pad_queries):
            for key in range(expected.shape[2]):
                if bool(expected[b, query, key]) != bool(actual[b, query, key]):
                    return Violation(
                        name, b, query, key,
                        f"{what}: cell (b={b}, query={query}, key={key}) is {bool(actual[b, query, key])}, "
                        f"was {bool(expected[b, query, key])}",
                    )
    return None


def _padded_keys_never_attended(compute: Compute, pad, att, pad_queries) -> Violation | None:
    mask = compute(pad, att)
    for b in range(pad.shape[0]):
        for query in _query_rows_read(pad, b, pad_queries):
            for key in range(pad.shape[1]):
                if not pad[b, key] and mask[b, query, key]:
                    return Violation("padded_keys_never_attended", b, query, key,
                                     f"query {query} attends padded key {key} (batch {b})")
    return None


def _padded_queries_empty(compute: Compute, pad, att, pad_queries) -> Violation | None:
    mask = compute(pad, att)
    for b in range(pad.shape[0]):
        for query in range(pad.shape[1]):
            if pad[b, query]:
                continue
            for key in range(pad.shape[1]):
                if mask[b, query, key]:
                    return Violation("padded_queries_empty", b, query, key,
                                     f"padded query {query} attends key {key} (batch {b}); with pad-queries "
                                     "'masked' its row must be all False")
    return None


def _real_query_sees_itself(compute: Compute, pad, att, pad_queries) -> Violation | None:
    mask = compute(pad, att)
    for b in range(pad.shape[0]):
        for token in range(pad.shape[1]):
            if pad[b, token] and not mask[b, token, token]:
                return Violation("real_query_sees_itself", b, token, token,
                                 f"real token {token} does not attend itself (batch {b})")
    return None


def _full_block_rows(compute: Compute, pad, att, pad_queries) -> Violation | None:
    mask = compute(pad, att)
    blocks = block_ids(att.tolist())
    for b in range(pad.shape[0]):
        for query in range(pad.shape[1]):
            for key in range(pad.shape[1]):
                same_block = blocks[b][query] == blocks[b][key]
                if pad[b, query] and pad[b, key] and same_block and not mask[b, query, key]:
                    return Violation("full_block_rows", b, query, key,
                                     f"tokens {query} and {key} are real and in the same block "
                                     f"({blocks[b][query]}), but query {query} does not see key {key} (batch {b})")
    return None


def _all_zero_att_bidirectional(compute: Compute, pad, att, pad_queries) -> Violation | None:
    mask = compute(pad, np.zeros_like(att))
    for b in range(pad.shape[0]):
        for query in range(pad.shape[1]):
            for key in range(pad.shape[1]):
                if pad[b, query] and pad[b, key] and not mask[b, query, key]:
                    return Violation("all_zero_att_bidirectional", b, query, key,
                                     f"with att all 0, real query {query} does not see real key {key} (batch {b})")
    return None


def _all_one_att_causal(compute: Compute, pad, att, pad_queries) -> Violation | None:
    mask = compute(pad, np.ones_like(att))
    for b in range(pad.shape[0]):
        for query in range(pad.shape[1]):
            for key in range(pad.shape[1]):
                if pad[b, query] and pad[b, key] and bool(mask[b, query, key]) != (key <= query):
                    return Violation("all_one_att_causal", b, query, key,
                                     f"with att all 1 (pure causal), cell (query {query}, key {key}) is "
                                     f"{bool(mask[b, query, key])} (batch {b}); expected the lower triangle")
    return None


def _first_att_bit_irrelevant(compute: Compute, pad, att, pad_queries) -> Violation | None:
    if att.shape[1] == 0:
        return None
    flipped = att.copy()
    flipped[:, 0] = ~flipped[:, 0]
    return _first_difference("first_att_bit_irrelevant", "flipping att[:, 0] changed the mask",
                             compute(pad, att), compute(pad, flipped), pad, pad_queries)


def _appending_preserves_prefix(compute: Compute, pad, att, pad_queries) -> Violation | None:
    full = compute(pad, att)
    for length in range(1, pad.shape[1]):
        prefix = compute(pad[:, :length], att[:, :length])
        found = _first_difference("appending_preserves_prefix",
                                  f"the first {length} tokens alone and with the rest appended differ",
                                  prefix, full[:, :length, :length], pad[:, :length], pad_queries)
        if found:
            return found
    return None


def _batch_rows_independent(compute: Compute, pad, att, pad_queries) -> Violation | None:
    together = compute(pad, att)
    for b in range(pad.shape[0]):
        alone = compute(pad[b:b + 1], att[b:b + 1])
        found = _first_difference("batch_rows_independent",
                                  f"batch row {b} computed alone and inside the batch differ",
                                  alone, together[b:b + 1], pad[b:b + 1], pad_queries)
        if found:
            return Violation(found.invariant, b, found.query, found.key, found.message)
    return None


def _no_multilayer_leak(compute: Compute, pad, att, pad_queries) -> Violation | None:
    # "May attend" among real tokens must be transitive: if reader sees via and via sees source, stacking two
    # layers lets reader read source, so one layer must already allow it.
    mask = compute(pad, att)
    for b in range(pad.shape[0]):
        real = [t for t in range(pad.shape[1]) if pad[b, t]]
        for reader in real:
            for source in real:
                if mask[b, reader, source]:
                    continue
                for via in real:
                    if mask[b, reader, via] and mask[b, via, source]:
                        return Violation(
                            "no_multilayer_leak", b, reader, source,
                            f"token {reader} may not read token {source}, but reads it after two layers "
                            f"through token {via} (path {source} -> {via} -> {reader}, batch {b})",
                            path=(reader, via, source),
                        )
    return None


_BOTH = frozenset({"block_causal", "rowwise"})
_BLOCK_CAUSAL = frozenset({"block_causal"})

INVARIANTS: dict[str, Invariant] = {
    inv.name: inv
    for inv in (
        Invariant("padded_keys_never_attended", "no query attends a padded key", _BOTH, False, False,
                  _padded_keys_never_attended),
        Invariant("padded_queries_empty", "a padded query attends nothing, not even itself", _BOTH, False, True,
                  _padded_queries_empty),
        Invariant("real_query_sees_itself", "every real token attends itself", _BOTH, False, False,
                  _real_query_sees_itself),
        Invariant("full_block_rows", "real tokens of one block all see each other (bidirectional rows full)",
                  _BLOCK_CAUSAL, False, False, _full_block_rows),
        Invariant("all_zero_att_bidirectional", "att all 0 gives full bidirectional attention among real tokens",
                  _BOTH, True, False, _all_zero_att_bidirectional),
        Invariant("all_one_att_causal", "att all 1 gives the lower triangle among real tokens", _BOTH, True, False,
                  _all_one_att_causal),
        Invariant("first_att_bit_irrelevant", "att[:, 0] never changes the mask", _BLOCK_CAUSAL, True, False,
                  _first_att_bit_irrelevant),
        Invariant("appending_preserves_prefix", "appending tokens never changes the mask among earlier tokens",
                  _BOTH, True, False, _appending_preserves_prefix),
        Invariant("batch_rows_independent", "each batch row's mask depends on that row alone", _BOTH, True, False,
                  _batch_rows_independent),
        Invariant("no_multilayer_leak", "'may attend' is transitive among real tokens: no leak through layers",
                  _BLOCK_CAUSAL, False, False, _no_multilayer_leak),
    )
}


def invariants_for(spec: str) -> list[Invariant]:
    """The invariants that hold for ``spec``, in a fixed order."""
    return [inv for inv in INVARIANTS.values() if spec in inv.holds_for]
