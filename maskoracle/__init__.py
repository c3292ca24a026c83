"""maskoracle: verify attention-mask implementations against a readable oracle.

>>> from maskoracle import check, reference_mask
>>> reference_mask([[1, 1, 0]], [[0, 1, 0]]).astype(int).tolist()
[[[1, 0, 0], [1, 1, 0], [0, 0, 0]]]
"""

from typing import Any

from .errors import UsageError

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """The public names, imported on first use: the worker process (``checking/child.py``) imports this package
    and needs none of them, so its start (and the implementation's first call) is not delayed by them."""
    if name in ("CheckReport", "CheckResult", "Counterexample", "check", "check_names"):
        from . import checking  # lazily: the checking machinery, only for code that uses it

        return getattr(checking, name)
    if name == "reference_mask":
        from .oracle import reference_mask  # lazily: as above

        return reference_mask
    raise AttributeError(f"module 'maskoracle' has no attribute {name!r}")

__all__ = ["CheckReport", "CheckResult", "Counterexample", "UsageError", "check", "check_names", "reference_mask"]
