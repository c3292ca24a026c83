"""The one error every layer raises for bad input: a bad option value or an unusable target."""

from __future__ import annotations


class UsageError(ValueError):
    """A bad option or an unusable target: reported in one line, exit status 2."""


def short_error(error: BaseException) -> str:
    """``Type: first line of the message``; never raises, even for an exception whose ``__str__`` does."""
    try:
        text = str(error).strip().splitlines()
    except Exception:
        text = []
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class UnreadableResult(Exception):
    """The implementation returned, but maskoracle could not read what it returned as a mask (a BlockMask of
    another length, a mask_mod FlexAttention cannot evaluate). Raised by maskoracle's own reading of a result,
    so a failure built from it must not read as if the implementation had raised."""
