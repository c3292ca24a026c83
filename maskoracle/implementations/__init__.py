"""Built-in mask implementations: fast NumPy and PyTorch ``block_causal``, a baseline, additive conversion.

Each module imports its framework at import time, so import the one you need:
``maskoracle.implementations.numpy`` needs only numpy; ``maskoracle.implementations.torch`` needs PyTorch.
"""
