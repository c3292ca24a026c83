"""The project's own tests are reproducible: every randomised check they run is seeded.

- the Hypothesis profile of the tests (``tests/conftest.py``) is derandomised, with no deadline and no database;
- every ``check(...)`` call in ``tests/`` passes ``seed=`` (directly, or through a module-level dict such as
  ``FAST``; ``profile="ci"`` counts, it fixes seed 0), every CLI ``check`` run passes ``--seed`` and every run of
  the pytest plugin ``--mask-seed``. A call whose subject is the drawn seed itself, or that is a usage error
  found before anything random runs, says so in a comment starting ``# unseeded:`` just above it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from hypothesis import settings

TESTS = Path(__file__).parent
EXEMPTION = "# unseeded:"
# Callables that run the CLI (in-process or as a process) or the pytest plugin in the tests.
CLI_RUNNERS = {"main", "run_cli", "run_subprocess", "run", "Popen"}
PLUGIN_RUNNERS = {"run_suites", "run_speed", "runpytest_subprocess", "runpytest", "_pytest_worker"}


def test_the_tests_hypothesis_profile_is_derandomised() -> None:
    current = settings()
    assert current.derandomize, "tests/conftest.py should load the derandomised test profile"
    assert current.database is None and current.deadline is None


def _dict_keys(tree: ast.Module) -> dict[str, set[str]]:
    """``NAME = {...}`` (or ``NAME: T = {...}``) dicts of the file, in any scope, and their constant keys
    (``FAST = {"max_examples": 20, "seed": 5}``). Names are not told apart by scope: a heuristic for tests."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Dict):
            targets = [node.target]
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                found[target.id] = found.get(target.id, set()) | _keys_of(node.value, found)
    return found


def _keys_of(display: ast.Dict, known: dict[str, set[str]]) -> set[str]:
    keys: set[str] = set()
    for key, value in zip(display.keys, display.values, strict=True):
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            keys.add(key.value)
        elif key is None:  # **other inside the display
            keys |= _unpacked_keys(value, known)
    return keys


def _unpacked_keys(value: ast.expr, known: dict[str, set[str]]) -> set[str]:
    if isinstance(value, ast.Name):
        return known.get(value.id, set())
    if isinstance(value, ast.Dict):
        return _keys_of(value, known)
    return set()


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _python_check_is_seeded(call: ast.Call, dicts: dict[str, set[str]]) -> bool:
    for keyword in call.keywords:
        if keyword.arg == "seed":
            return True
        if keyword.arg == "profile" and isinstance(keyword.value, ast.Constant) and keyword.value.value == "ci":
            return True
        if keyword.arg is None and "seed" in _unpacked_keys(keyword.value, dicts):
            return True
    return False


def _strings(node: ast.AST) -> list[str]:
    return [child.value for child in ast.walk(node) if isinstance(child, ast.Constant) and isinstance(child.value, str)]


def _unseeded_calls(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    dicts = _dict_keys(tree)
    problems = []
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        name = _called_name(call)
        strings = _strings(call)
        if name == "check" and not _python_check_is_seeded(call, dicts):
            problem = "check() without seed="
        elif name in CLI_RUNNERS and "check" in strings and "--seed" not in strings:
            problem = "CLI check without --seed"
        elif name in PLUGIN_RUNNERS and "--mask-impl" in strings and "--mask-seed" not in strings:
            problem = "pytest plugin run without --mask-seed"
        else:
            continue
        # An exemption comment on the lines just above the call, or on its own lines.
        around = lines[max(0, call.lineno - 4):(call.end_lineno or call.lineno)]
        if not any(EXEMPTION in line for line in around):
            problems.append(f"{path.name}:{call.lineno}: {problem}")
    return problems


def test_every_randomised_check_in_the_tests_is_seeded() -> None:
    problems = [problem for path in sorted(TESTS.glob("*.py")) for problem in _unseeded_calls(path)]
    assert not problems, "unseeded runs (seed them, or say why not in a '# unseeded:' comment):\n" + "\n".join(problems)


def test_the_audit_finds_an_unseeded_call(tmp_path: Path) -> None:
    """The audit above can fail: it flags each kind of unseeded run, and accepts the seeded forms."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        'FAST = {"max_examples": 5, "seed": 1}\n'
        'check(fn)\n'  # flagged
        'check(fn, seed=0)\n'
        'check(fn, **FAST)\n'
        'check(fn, **{**FAST, "max_examples": 3})\n'
        'check(fn, profile="ci")\n'
        'def run():\n'
        '    common: dict = {"seed": 2}\n'
        '    check(fn, **common)\n'
        'main(["check", "a:b"])\n'  # flagged
        'main(["check", "a:b", "--seed", "1"])\n'
        'run_suites(pytester, "--mask-impl", "a:b")\n'  # flagged
        '# unseeded: the subject is the drawn seed\n'
        'run_suites(pytester, "--mask-impl", "a:b")\n'
    )
    assert _unseeded_calls(sample) == ["sample.py:2: check() without seed=", "sample.py:10: CLI check without --seed",
                                       "sample.py:12: pytest plugin run without --mask-seed"]
