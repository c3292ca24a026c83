"""Implementations with known verdicts, for measuring the suite's power (``maskoracle selftest``).

``ZOO`` lists every entry: deliberate bugs (``equivalent=False``: the suite must kill them) and implementations
that are right by another route (``equivalent=True``: any failure is a false alarm). Each entry names the
``check()`` options it is run with, so a bug that only shows under an option (``att_dtype="bfloat16"``) is
checked the way a user would meet it.
"""

from __future__ import annotations

from .entry import ZooEntry


def zoo_entries() -> list[ZooEntry]:
    """Every entry, bugs first; imports torch (most entries are PyTorch ports)."""
    # lazily: these modules import torch, an optional extra
    from . import additive_zoo, numpy_zoo, torch_zoo

    return [*torch_zoo.ENTRIES, *additive_zoo.ENTRIES, *numpy_zoo.ENTRIES]


__all__ = ["ZooEntry", "zoo_entries"]
