"""Mask pictures (PNG heatmaps) for ``explain``, ``diff`` and ``leaks``: matplotlib, imported lazily.

One picture holds one or more panels side by side, each an ``[L, L]`` mask (query rows, key columns):
allowed cells dark blue, masked cells white, padded rows and columns grey, and the *marked* cells (the cells
where two masks differ, or the cells a leak opens) red. Token names label the axes up to 40 tokens; beyond
that the axes carry segment names (consecutive labels with the same stem, ``SUB0 SUB1`` -> ``SUB``) with
lines at the segment boundaries, so a picture stays readable at ``L`` of a few hundred.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError

TOKEN_LABELS_UP_TO = 40
ALLOWED = (0.17, 0.42, 0.69)  # blue
MASKED = (1.0, 1.0, 1.0)
PADDED = (0.85, 0.85, 0.85)
MARKED = (0.9, 0.2, 0.2)


@dataclass
class Panel:
    """One heatmap: ``mask`` ``[L, L]`` bool, ``marked`` ``[L, L]`` bool (or ``None``) drawn red."""

    title: str
    mask: np.ndarray
    marked: np.ndarray | None = None
    marked_meaning: str = "differs"
    notes: list[str] = field(default_factory=list)


def segments_from_labels(labels: Sequence[str]) -> list[tuple[str, int, int]]:
    """``(name, first, last)`` runs of consecutive labels with one stem (trailing digits dropped).

    >>> segments_from_labels(["IMG", "IMG", "LANG", "SUB0", "SUB1", "PAD"])
    [('IMG', 0, 1), ('LANG', 2, 2), ('SUB', 3, 4), ('PAD', 5, 5)]
    """
    runs: list[tuple[str, int, int]] = []
    for position, label in enumerate(labels):
        stem = re.sub(r"\d+$", "", label) or label
        if runs and runs[-1][0] == stem and runs[-1][2] == position - 1:
            runs[-1] = (stem, runs[-1][1], position)
        else:
            runs.append((stem, position, position))
    return runs


def _matplotlib() -> tuple[Any, Any]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError("--png needs matplotlib: pip install 'maskoracle[report]'") from None
    return Figure, FigureCanvasAgg


def save_mask_png(path: str | Path, panels: Sequence[Panel], pad: Any, *, labels: Sequence[str] | None = None,
                  title: str | None = None) -> Path:
    """Draw ``panels`` (all of one ``L``) with ``pad`` (``[L]``) and optional token ``labels``; write a PNG.

    Raises ``UsageError`` when matplotlib is missing or the file cannot be written.
    """
    Figure, FigureCanvasAgg = _matplotlib()
    from matplotlib.patches import Patch, Rectangle

    pad_row = np.asarray(pad, dtype=bool).reshape(-1)
    L = pad_row.shape[0]
    names = list(labels) if labels is not None else [str(k) for k in range(L)]
    if len(names) != L:
        raise ValueError(f"{len(names)} labels for {L} tokens")
    side = float(min(9.0, max(3.2, 0.32 * L + 1.6)))
    figure = Figure(figsize=(side * len(panels) + 0.4 * (len(panels) - 1), side + 1.0), dpi=150 if L > 60 else 120)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    any_marked = False
    for axis, panel in zip(axes, panels, strict=True):
        mask = np.asarray(panel.mask, dtype=bool)
        image = np.empty((L, L, 3))
        image[:] = MASKED
        padded = ~pad_row[:, None] | ~pad_row[None, :]
        image[padded] = PADDED
        image[mask] = ALLOWED
        marked = np.zeros((L, L), dtype=bool) if panel.marked is None else np.asarray(panel.marked, dtype=bool)
        any_marked |= bool(marked.any())
        if L > TOKEN_LABELS_UP_TO:
            image[marked] = MARKED  # cells too small for an outline: fill them
        axis.imshow(image, interpolation="nearest", extent=(-0.5, L - 0.5, L - 0.5, -0.5))
        if L > TOKEN_LABELS_UP_TO and 0 < int(marked.sum()) <= 200:
            # A few filled cells are a pixel each at this size: ring them so the eye finds them.
            queries, keys = np.nonzero(marked)
            axis.scatter(keys, queries, s=160, facecolors="none", edgecolors=[MARKED], linewidths=1.5,
                         clip_on=False)
        _label_axes(axis, L, names, labels, marked, Rectangle)
        axis.xaxis.tick_top()
        axis.xaxis.set_label_position("top")
        axis.set_xlabel("key (attended to)", fontsize=9)
        axis.set_ylabel("query (attends)", fontsize=9)
        axis.set_title(panel.title + ("\n" + "; ".join(panel.notes) if panel.notes else ""), fontsize=10, pad=12)
    legend = [Patch(facecolor=ALLOWED, label="may attend"), Patch(facecolor=MASKED, edgecolor="grey", label="masked"),
              Patch(facecolor=PADDED, label="padded row / column")]
    if any_marked:
        meanings = sorted({panel.marked_meaning for panel in panels if panel.marked is not None})
        legend.append(Patch(facecolor=MARKED if L > TOKEN_LABELS_UP_TO else "none", edgecolor=MARKED,
                            linewidth=2, label=" / ".join(meanings)))
    figure.legend(handles=legend, loc="lower center", ncol=len(legend), fontsize=8, frameon=False)
    if title:
        width_in = figure.get_size_inches()[0]
        wrapped = textwrap.fill(title, width=max(30, int(width_in * 11)))
        figure.suptitle(wrapped, fontsize=11)
    top = 1 - (0.05 * (wrapped.count("\n") + 1) if title else 0)
    figure.tight_layout(rect=(0, 0.05, 1, top))
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(target)
    except ValueError as error:  # matplotlib knows no such format: --png out.xyz
        raise UsageError(f"--png {path}: {_one_line_of(error)}; use a .png file name") from None
    except OSError as error:
        raise UsageError(f"--png {path}: cannot write: {error.strerror or error}") from None
    return target


def _label_axes(axis: Any, L: int, names: list[str], labels: Sequence[str] | None, marked: np.ndarray,
                rectangle: Any) -> None:
    """Ticks by token (short masks, marked cells outlined), every few tokens, or by named segment."""
    if L <= TOKEN_LABELS_UP_TO:
        for query, key in np.argwhere(marked):
            axis.add_patch(rectangle((key - 0.5, query - 0.5), 1, 1, fill=False, edgecolor=MARKED,
                                     linewidth=2.5))
        axis.set_xticks(range(L))
        axis.set_yticks(range(L))
        axis.set_xticklabels(names, rotation=90, fontsize=8)
        axis.set_yticklabels(names, fontsize=8)
        axis.set_xticks(np.arange(-0.5, L, 1), minor=True)
        axis.set_yticks(np.arange(-0.5, L, 1), minor=True)
        axis.grid(which="minor", color=(0.75, 0.75, 0.75), linewidth=0.5)
        axis.tick_params(which="minor", length=0)
    elif labels is None:
        step = max(1, int(np.ceil(L / 10 / 5) * 5))  # about ten numbered ticks, at multiples of 5
        axis.set_xticks(range(0, L, step))
        axis.set_yticks(range(0, L, step))
        axis.tick_params(labelsize=7)
    else:
        runs = segments_from_labels(names)
        centres = [(first + last) / 2 for _, first, last in runs]
        axis.set_xticks(centres)
        axis.set_yticks(centres)
        axis.set_xticklabels([f"{name}\n{first}-{last}" if last > first else f"{name}\n{first}"
                              for name, first, last in runs], fontsize=7, rotation=90)
        axis.set_yticklabels([f"{name} {first}-{last}" if last > first else f"{name} {first}"
                              for name, first, last in runs], fontsize=7)
        for _, first, _last in runs[1:]:
            axis.axhline(first - 0.5, color=(0.4, 0.4, 0.4), linewidth=0.6)
            axis.axvline(first - 0.5, color=(0.4, 0.4, 0.4), linewidth=0.6)


def _one_line_of(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
