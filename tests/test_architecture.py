"""The package's shape (issue "One check engine"): no import cycle among maskoracle's modules, no reaching into
another module's private names, and an import inside a function only where it keeps an optional framework lazy.

Imports are read with ``ast`` from the source, module-level and in-function alike, so a cycle hidden inside a
function is found too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "maskoracle"


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    target: str  # the imported maskoracle module, dotted
    names: tuple[str, ...]  # the names taken from it (from-imports)
    line: int
    in_function: bool
    comment: str  # the source line's text, comment included


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (PACKAGE.parent / relative).with_suffix(".py").is_file() or \
        (PACKAGE.parent / relative / "__init__.py").is_file()


def _package_of(path: Path) -> str:
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imports_of(path: Path) -> list[Import]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    found: list[Import] = []
    this = module_name(path)

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "maskoracle":
                        found.append(Import(this, alias.name, (), child.lineno, in_function,
                                            lines[child.lineno - 1]))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = _package_of(path).split(".")
                    base = base[:len(base) - (child.level - 1)]
                    module = ".".join([*base, child.module] if child.module else base)
                else:
                    module = child.module or ""
                if module.split(".")[0] != "maskoracle":
                    continue
                names = tuple(alias.name for alias in child.names)
                submodules = [f"{module}.{name}" for name in names if is_module(f"{module}.{name}")]
                for target in submodules or [module]:
                    found.append(Import(this, target, names, child.lineno, in_function,
                                        "\n".join(lines[child.lineno - 2:child.end_lineno or child.lineno])))
            visit(child, nested)

    visit(tree, False)
    return found


def all_imports() -> list[Import]:
    return [found for path in sorted(PACKAGE.rglob("*.py")) for found in imports_of(path)]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (or a module importing itself): Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return components


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert cycles({"a": {"a"}}) == [["a"]]


def test_the_import_reader_sees_relative_and_in_function_imports(tmp_path: Path) -> None:
    found = imports_of(PACKAGE / "cli" / "main.py")
    assert {"maskoracle.cli.check", "maskoracle.cli.design", "maskoracle.errors"} <= {i.target for i in found}
    lazy = [i for i in imports_of(PACKAGE / "zoo" / "__init__.py") if i.in_function]
    assert {i.target for i in lazy} == {"maskoracle.zoo.torch_zoo", "maskoracle.zoo.additive_zoo",
                                        "maskoracle.zoo.numpy_zoo"}


def test_no_import_cycle_among_the_package_modules() -> None:
    edges: dict[str, set[str]] = {}
    for found in all_imports():
        if found.target != found.source:
            edges.setdefault(found.source, set()).add(found.target)
    assert cycles(edges) == []


def test_in_function_imports_only_keep_optional_frameworks_lazy() -> None:
    """An in-function import of the package's own modules must say, in a comment, why it is lazy."""
    unexplained = [f"{found.source}:{found.line} imports {found.target}" for found in all_imports()
                   if found.in_function and "lazily" not in found.comment]
    assert unexplained == []


def test_no_module_imports_another_modules_private_names() -> None:
    private = [f"{found.source}:{found.line} takes {name} from {found.target}" for found in all_imports()
               for name in found.names
               if name.startswith("_") and not name.startswith("__") and found.target != found.source
               and not found.target.split(".")[-1].startswith("_")]
    assert private == []


def test_private_modules_are_imported_only_inside_their_own_package() -> None:
    """``strategies/_internal.py`` is the strategies' machinery: others use ``maskoracle.strategies``."""
    outside = [f"{found.source}:{found.line} imports {found.target}" for found in all_imports()
               if found.target.split(".")[-1].startswith("_")
               and not found.source.startswith(found.target.rpartition(".")[0])]
    assert outside == []


def test_no_function_is_longer_than_80_lines() -> None:
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 80:
                    long.append(f"{module_name(path)}.{node.name}: {length} lines")
    assert long == []
