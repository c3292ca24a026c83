"""Resolving a TARGET string (``package.module:function`` or ``path/to/file.py:function``) to a callable."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from .errors import UsageError, short_error


def describe_target(fn: Any) -> str:
    """``module:qualname`` of a callable, as reports name a target given as a Python object."""
    module = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{module}:{name}"


def load_target(target: str) -> Any:
    """The callable named by ``target``; ``UsageError`` with a one-line reason if it cannot be had.

    After the colon a dotted attribute path is allowed (``mymod:Masks.build``).
    """
    module_part, colon, attribute = target.rpartition(":")
    if not colon or not module_part or not attribute:
        raise UsageError(f"TARGET {target!r} must look like package.module:function or path/to/file.py:function")
    module = import_module(module_part, target)
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise UsageError(f"TARGET {target!r}: {getattr(value, '__name__', module_part)!s} has no attribute {part!r}")
        value = getattr(value, part)
    if not callable(value):
        raise UsageError(f"TARGET {target!r} is not callable (it is of type {type(value).__name__})")
    return value


def import_module(module_part: str, target: str) -> Any:
    """The module of a TARGET (``package.module`` or ``path/to/file.py``); ``UsageError`` naming ``target``."""
    try:
        if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
            return _import_file(Path(module_part), target)
        # Like `python -m`, let a module in the working directory be found.
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        return importlib.import_module(module_part)
    except UsageError:
        raise
    except BaseException as error:  # the user's module may raise anything, SystemExit included
        raise UsageError(f"TARGET {target!r} cannot be imported: {short_error(error)}") from None


def _import_file(path: Path, target: str) -> Any:
    if not path.is_file():
        raise UsageError(f"TARGET {target!r}: no such file {str(path)!r}")
    name = "maskoracle_target_" + path.stem.replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"TARGET {target!r}: {str(path)!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    # The file's own directory first, so its sibling imports work.
    sys.path.insert(0, str(path.resolve().parent))
    spec.loader.exec_module(module)
    return module
