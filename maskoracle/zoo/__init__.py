"""Implementations with known verdicts, for measuring the suite's power (``torch_zoo``)."""
