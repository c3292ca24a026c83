"""Built-in mask implementations: fast NumPy and PyTorch ``block_causal``, a baseline, additive conversion.

Each module imports its framework at import time, so import the one you need:
``maskoracle.implementations.numpy`` needs only numpy; ``maskoracle.implementations.torch`` needs PyTorch.
``native_status()`` says how the CPU built-ins write rows (the C writer, or NumPy and why).
"""

from ._native import native_status

__all__ = ["native_status"]
