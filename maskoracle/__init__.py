"""maskoracle: verify attention-mask implementations against a readable oracle.

>>> from maskoracle import check, reference_mask
>>> reference_mask([[1, 1, 0]], [[0, 1, 0]]).astype(int).tolist()
[[[1, 0, 0], [1, 1, 0], [0, 0, 0]]]
"""

from .checking import CheckReport, CheckResult, Counterexample, check, check_names
from .errors import UsageError
from .oracle import reference_mask

__version__ = "0.1.0"

__all__ = ["CheckReport", "CheckResult", "Counterexample", "UsageError", "check", "check_names", "reference_mask"]
