"""The one error every layer raises for bad input: a bad option value or an unusable target."""

from __future__ import annotations


class UsageError(ValueError):
    """A bad option or an unusable target: reported in one line, exit status 2."""
