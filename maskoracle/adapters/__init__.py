"""Adapters: build inputs in the user's framework, call the implementation, decode what it returns.

Framework code lives here and in ``maskoracle.implementations``; both import their framework lazily so the
core works with only numpy installed.
"""

from .base import FRAMEWORKS, Adapter, UsageError, get_adapter
from .calling import CallTimeout, call_with_timeout
from .decode import BadResult, decode_mask

__all__ = [
    "FRAMEWORKS",
    "Adapter",
    "BadResult",
    "CallTimeout",
    "UsageError",
    "call_with_timeout",
    "decode_mask",
    "get_adapter",
]
