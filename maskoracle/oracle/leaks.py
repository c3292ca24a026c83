"""Multi-layer reachability of a mask, and the leaks it opens (SPEC §2 last facts, §3).

One attention layer lets query ``i`` read key ``j`` when ``mask[b, i, j]``. Stacking ``K`` layers lets token
``i`` read token ``j`` when there is a path ``i = t0, t1, ..., tn = j`` with ``n <= K`` and every step
``mask[b, t(m), t(m+1)]`` true: ``t(n-1)`` reads ``tn`` in one layer, ``t(n-2)`` reads ``t(n-1)`` in a later
one, and so on up to ``i`` (a token always keeps what it read, through the residual stream). A **leak** is a pair of real tokens
``(reader, source)`` where ``reader`` can read ``source`` after ``K`` layers but ``mask[b, reader, source]``
is False: one layer forbids what the stack allows.

Paths are written reader first, as INTERFACE's JSON does: ``[reader, via, ..., source]``; information flows
the other way (``source -> via -> reader``). Each leak carries one *shortest* path, and among those the one
whose tokens come first in sequence order; leaks are listed shortest path first. Only real tokens take part:
a padded key is read by nobody, and a padded query's row is not a reader (under ``pad_queries="free"`` it is
garbage by design).

Under ``block_causal`` the relation is transitive among real tokens, so no leak exists for any ``K``; under
the user's ``rowwise`` rule the example of SPEC §3 leaks ``SUB1 -> IMG0 -> SUB0`` (path ``[3, 0, 4]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Leak:
    """``reader`` reads ``source`` after ``len(path) - 1`` layers, through ``path[1:-1]``; one layer forbids it."""

    batch: int
    reader: int
    source: int
    path: tuple[int, ...]  # reader, via ..., source
    shortest_paths: int = 1  # how many distinct paths of this length there are

    @property
    def layers(self) -> int:
        return len(self.path) - 1


def readable_keys(mask: np.ndarray, pad: np.ndarray) -> list[list[int]]:
    """For each token of one batch entry, the real keys it reads in one layer, in sequence order."""
    return [[int(key) for key in np.flatnonzero(np.asarray(row, dtype=bool) & pad)] for row in mask]


def shortest_paths(mask: np.ndarray, pad: np.ndarray, reader: int, layers: int,
                   readable: list[list[int]] | None = None,
                   counts: dict[int, int] | None = None) -> dict[int, tuple[int, ...]]:
    """Breadth-first search from ``reader`` in one batch entry's mask ``[L, L]``: every real token it reads
    within ``layers`` steps, with a shortest path ``(reader, ..., token)`` (keys tried in sequence order).

    ``counts``, if given, is filled with the number of distinct shortest paths to each token."""
    if readable is None:
        readable = readable_keys(mask, pad)
    if counts is None:
        counts = {}
    # Breadth first, one layer per round; the reader itself is reached like any token, by a path of at
    # least one step (it reads itself if it attends itself, or reads something that read it).
    paths: dict[int, tuple[int, ...]] = {}
    frontier: list[tuple[tuple[int, ...], int]] = [((reader,), 1)]  # (path, shortest paths to its end)
    for _ in range(layers):
        reached_now: list[int] = []
        reached_set: set[int] = set()
        for path, ways in frontier:
            for key in readable[path[-1]]:  # in sequence order, so the first path found is the earliest
                if key not in paths:
                    paths[key] = (*path, key)
                    counts[key] = ways
                    reached_now.append(key)
                    reached_set.add(key)
                elif key in reached_set:
                    counts[key] += ways  # another shortest path of the same length
        if not reached_now:
            break
        frontier = [(paths[key], counts[key]) for key in reached_now]
    return paths


def reachability(mask: np.ndarray, pad: np.ndarray, layers: int) -> np.ndarray:
    """Bool ``[B, L, L]``: ``reach[b, i, j]`` when real token ``i`` can read real token ``j`` after ``layers``
    layers (a path of at most ``layers`` allowed steps)."""
    mask = np.asarray(mask, dtype=bool)
    pad = np.asarray(pad, dtype=bool)
    _validate(mask, pad, layers)
    B, L, _ = mask.shape
    reach = np.zeros((B, L, L), dtype=bool)
    for b in range(B):
        readable = readable_keys(mask[b], pad[b])
        for reader in range(L):
            if not pad[b, reader]:
                continue
            for source in shortest_paths(mask[b], pad[b], reader, layers, readable):
                reach[b, reader, source] = True
    return reach


def find_leaks(mask: np.ndarray, pad: np.ndarray, layers: int = 2) -> list[Leak]:
    """Every ``(reader, source)`` pair of real tokens readable after ``layers`` layers but forbidden by one,
    each with a shortest path; shortest paths first, then by batch, reader and source.

    >>> from maskoracle.oracle import reference_mask
    >>> pad, att = [[1, 1, 1, 1, 1, 0]], [[0, 0, 0, 1, 1, 1]]
    >>> [leak.path for leak in find_leaks(reference_mask(pad, att, "rowwise"), pad)][:1]
    [(3, 0, 4)]
    """
    mask = np.asarray(mask, dtype=bool)
    pad = np.asarray(pad, dtype=bool)
    _validate(mask, pad, layers)
    B, L, _ = mask.shape
    leaks = []
    for b in range(B):
        readable = readable_keys(mask[b], pad[b])
        for reader in range(L):
            if not pad[b, reader]:
                continue
            counts: dict[int, int] = {}
            for source, path in shortest_paths(mask[b], pad[b], reader, layers, readable, counts).items():
                if not mask[b, reader, source]:
                    leaks.append(Leak(b, reader, source, path, counts[source]))
    return sorted(leaks, key=lambda leak: (len(leak.path), leak.batch, leak.reader, leak.source))


def _validate(mask: np.ndarray, pad: np.ndarray, layers: int) -> None:
    if mask.ndim != 3 or mask.shape[1] != mask.shape[2]:
        raise ValueError(f"mask must be [B, L, L], got {list(mask.shape)}")
    if pad.shape != mask.shape[:2]:
        raise ValueError(f"pad {list(pad.shape)} must be [B, L] = {list(mask.shape[:2])}")
    if isinstance(layers, bool) or not isinstance(layers, int | np.integer) or layers < 1:
        raise ValueError(f"layers must be an int >= 1, got {layers!r}")
