"""One function of an installed package, compiled alone from the package's own source file.

Some packages cannot be imported for one small function: LeRobot's ``lerobot.policies`` imports every policy's
configuration, and through ``lerobot.datasets`` needs ``datasets``, ``pandas``, ``pyarrow`` and a ``torchvision``
built for the installed torch, where ``make_att_2d_masks`` needs only ``torch``. ``installed_function`` finds the
module's file in the installed package (without running any of the package's code), takes the one top-level
``def`` from it, and runs that statement alone with the names the caller gives. The code run is the installed
file's, read at run time; nothing is copied into maskoracle. Tracebacks name the installed file and its lines.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def module_file(module: str) -> Path:
    """The source file of ``module`` (``lerobot.policies.pi0.modeling_pi0``), found from its top-level package's
    folder on ``sys.path``; only the top-level name is looked up, so no package ``__init__`` runs."""
    top, _, rest = module.partition(".")
    spec = importlib.util.find_spec(top)
    if spec is None:
        raise ImportError(f"No module named {top!r}")
    folders = list(spec.submodule_search_locations or [])
    if not rest:
        if spec.origin is None:
            raise ImportError(f"{top!r} has no source file")
        return Path(spec.origin)
    relative = Path(*rest.split("."))
    for folder in folders:
        for candidate in (Path(folder) / relative.with_suffix(".py"), Path(folder) / relative / "__init__.py"):
            if candidate.is_file():
                return candidate
    raise ImportError(f"No module named {module!r} (no {relative.with_suffix('.py')} in {top}'s folder)")


def _loaded_names(node: ast.AST) -> Iterator[str]:
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load):
            yield child.id


def _bound_names(function: ast.FunctionDef) -> set[str]:
    arguments = function.args
    bound = {argument.arg for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}
    bound |= {argument.arg for argument in (arguments.vararg, arguments.kwarg) if argument is not None}
    for child in ast.walk(function):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            bound.add(child.id)
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and child is not function:
            bound.add(child.name)
        elif isinstance(child, ast.alias):
            bound.add((child.asname or child.name).split(".")[0])
    return bound


def installed_function(module: str, name: str, **namespace: Any) -> Callable[..., Any]:
    """The top-level function ``name`` of the installed ``module``, run alone with ``namespace`` as its globals.

    ``ImportError`` (with a one-line reason) if the module's file or the function is not there, or if the function
    reads a global name that ``namespace`` does not give (it would need the rest of its module).
    """
    path = module_file(module)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name]
    if not found:
        raise ImportError(f"{module} ({path}) has no top-level function {name!r}")
    function = found[-1]  # the definition that wins at import, as in the module itself
    missing = sorted({used for used in _loaded_names(function) if used not in _bound_names(function)}
                     - set(namespace) - set(dir(builtins)))
    if missing:
        raise ImportError(f"{module}:{name} uses names of its module that are not given: {', '.join(missing)}")
    globals_: dict[str, Any] = {"__name__": module, "__file__": str(path), "__builtins__": builtins, **namespace}
    exec(compile(ast.Module(body=[function], type_ignores=[]), str(path), "exec"), globals_)
    compiled: Callable[..., Any] = globals_[name]
    return compiled
