"""Adapters: numpy ``[B, L]`` inputs built in the user's framework, and results read back as numpy.

Framework code lives here and in ``maskoracle.implementations``; both import their framework lazily (inside the
adapter's constructor) so the core works with only numpy installed.
"""

from ..errors import UsageError
from .base import FRAMEWORKS, Adapter, NumpyAdapter, TorchAdapter
from .jax_adapter import JaxAdapter

_ADAPTERS: dict[str, type[Adapter]] = {"numpy": NumpyAdapter, "torch": TorchAdapter, "jax": JaxAdapter}


def get_adapter(framework: str, device: str = "cpu") -> Adapter:
    """The adapter for ``framework``; a ``UsageError`` names what to install or pass instead."""
    if framework not in _ADAPTERS:
        raise UsageError(f"unknown framework {framework!r}; choose one of: {', '.join(FRAMEWORKS)}")
    return _ADAPTERS[framework](device)


__all__ = ["FRAMEWORKS", "Adapter", "UsageError", "get_adapter"]
