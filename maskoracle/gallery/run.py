"""Running the gallery: install (on request) into a cache, find what is installed, check each row, tabulate.

An ``Install`` goes into ``CACHE/NAME-VERSION`` (``pip install --target``, into a temporary folder renamed when every
pip call succeeded, so a failed install leaves nothing half done). Packages the environment already has (numpy,
packaging, ...) are then removed from the folder, so that the folder only adds to the environment and never
replaces what maskoracle and torch run on. The folder goes first on ``sys.path`` while its rows run;
``check()`` hands ``sys.path`` to the worker process that imports the TARGET, and the folder leaves it afterwards.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checking import CheckReport, check
from ..errors import UsageError
from .entries import GalleryEntry, Install

NOT_INSTALLED, INSTALL_FAILED, COULD_NOT_IMPORT = "not installed", "install failed", "could not import"
Pip = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def default_cache() -> Path:
    """``$MASKORACLE_GALLERY_CACHE``, else ``$XDG_CACHE_HOME/maskoracle/gallery`` (``~/.cache/...``)."""
    explicit = os.environ.get("MASKORACLE_GALLERY_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "maskoracle" / "gallery"


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _distribution_name(distribution: importlib.metadata.Distribution) -> str:
    return _normalized(distribution.metadata["Name"] or "")


# --- installing ----------------------------------------------------------------------------------------------

def _run_pip(arguments: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", *arguments], capture_output=True, text=True, check=False)


def _drop_what_the_environment_has(folder: Path, keep: str) -> list[str]:
    """Remove from ``folder`` every distribution (but ``keep``) that the environment already has; their names."""
    have = {_distribution_name(found) for found in importlib.metadata.distributions()}
    dropped = []
    for distribution in importlib.metadata.distributions(path=[str(folder)]):
        name = _distribution_name(distribution)
        if name == _normalized(keep) or name not in have or distribution.files is None:
            continue
        for file in distribution.files:
            path = Path(folder, file).resolve()
            if path.is_relative_to(folder.resolve()) and path.is_file():
                path.unlink()
        dropped.append(name)
    for directory in sorted((path for path in folder.rglob("*") if path.is_dir()), key=lambda p: -len(p.parts)):
        if not any(directory.iterdir()):
            directory.rmdir()
    return dropped


def install(spec: Install, cache: Path, pip: Pip = _run_pip) -> str | None:
    """Install ``spec`` into ``cache/NAME-VERSION`` unless it is there; ``None``, or why it failed (one line)."""
    folder = cache / spec.folder
    if folder.is_dir():
        return None
    try:
        cache.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{spec.folder}.", dir=cache))
    except OSError as error:
        return f"cannot write in {cache}: {error.strerror or error}"
    try:
        for arguments in spec.calls():
            done = pip(["install", "--quiet", "--disable-pip-version-check", "--target", str(partial), *arguments])
            if done.returncode != 0:
                lines = [line for line in (done.stderr or done.stdout or "").splitlines()
                         if line.strip() and not line.startswith("WARNING")]
                return f"pip install {' '.join(arguments)}: {lines[-1] if lines else f'exit {done.returncode}'}"
        _drop_what_the_environment_has(partial, keep=spec.name)
        partial.rename(folder)
    except OSError as error:
        return f"cannot install into {folder}: {error.strerror or error}"
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    importlib.invalidate_caches()
    return None


def installed_version(spec: Install, cache: Path) -> tuple[str | None, str | None]:
    """The version of ``spec.name`` a row runs on and where it comes from: the cache folder (first on the path
    while the row runs), else the environment; ``(None, None)`` when neither has it."""
    folder = cache / spec.folder
    for where, path in (("cache", [str(folder)] if folder.is_dir() else []), ("environment", sys.path)):
        for distribution in importlib.metadata.distributions(path=path) if path else ():
            if _distribution_name(distribution) == _normalized(spec.name):
                return distribution.version, where
    return None, None


@contextmanager
def on_path(folder: Path) -> Iterator[None]:
    """``folder`` first on ``sys.path`` (so also on the worker's) for the duration, if it exists."""
    entry = str(folder.absolute())  # the worker resolves a relative entry against its own working directory
    added = folder.is_dir() and entry not in sys.path
    if added:
        sys.path.insert(0, entry)
        importlib.invalidate_caches()
    try:
        yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)


# --- checking ------------------------------------------------------------------------------------------------

@dataclass
class GalleryResult:
    """The verdict on one row."""

    entry: GalleryEntry
    status: str  # passed, failed, not installed, install failed, could not import
    version: str | None = None
    where: str | None = None  # cache or environment
    detail: str = ""  # failed: the first failed check's message; otherwise the reason
    failed_check: str | None = None
    seconds: float = 0.0
    report: CheckReport | None = None

    @property
    def as_expected(self) -> bool:
        return self.status == self.entry.expect

    def verdict(self) -> str:
        """``passed``, ``failed: CHECK: message``, ``not installed``, ``could not import: reason``, ..."""
        if self.status == "passed":
            text = "passed"
        elif self.status == "failed":
            text = f"failed: {self.failed_check}: {self.detail}"
        else:
            text = f"{self.status}: {self.detail}" if self.detail else self.status
        return text + (" (expected)" if self.status != "passed" and self.as_expected else "")

    def to_json(self) -> dict[str, Any]:
        entry = self.entry
        return {"name": entry.name, "function": entry.function, "package": entry.install.name,
                "version": self.version, "installed_in": self.where, "target": entry.target,
                "options": dict(entry.options), "glue": entry.glue, "status": self.status, "expected": entry.expect,
                "as_expected": self.as_expected, "failed_check": self.failed_check, "detail": self.detail,
                "seconds": round(self.seconds, 2), "report": self.report.to_json() if self.report else None}


def _target_error(message: str) -> str | None:
    """The reason in a ``UsageError`` about the TARGET itself (cannot be imported, no such attribute)."""
    if not message.startswith("TARGET"):
        return None
    return message.split(": ", 1)[1] if "cannot be imported: " in message else message


def run_entry(entry: GalleryEntry, cache: Path, options: Mapping[str, Any]) -> GalleryResult:
    """Check one row with ``options`` (``check()``'s keywords) under the row's own options."""
    version, where = installed_version(entry.install, cache)
    if version is None:
        return GalleryResult(entry, NOT_INSTALLED, detail="run with --install")
    start = time.perf_counter()
    with on_path(cache / entry.install.folder):
        try:
            report = check(entry.target, **{**options, **entry.options})
        except UsageError as error:
            reason = _target_error(str(error))
            if reason is None:
                raise
            return GalleryResult(entry, COULD_NOT_IMPORT, version, where, reason,
                                 seconds=time.perf_counter() - start)
    seconds = time.perf_counter() - start
    if report.passed:
        return GalleryResult(entry, "passed", version, where, seconds=seconds, report=report)
    first = report.failed[0]
    message = (first.message or "").strip().splitlines()
    return GalleryResult(entry, "failed", version, where, message[0] if message else "", first.name, seconds, report)


def unexpected(results: Iterable[GalleryResult]) -> list[GalleryResult]:
    """Rows whose verdict is not the expected one; a row not installed (and not asked to be) is not one of them."""
    return [result for result in results if not result.as_expected and result.status != NOT_INSTALLED]


def run_gallery(entries: Iterable[GalleryEntry], cache: Path, options: Mapping[str, Any], *,
                install_missing: bool = False, pip: Pip = _run_pip,
                progress: Callable[[GalleryResult], None] | None = None) -> list[GalleryResult]:
    """Every row checked (installing each row's packages first with ``install_missing``)."""
    install_errors: dict[Install, str | None] = {}
    results = []
    for entry in entries:
        if install_missing and entry.install not in install_errors:
            install_errors[entry.install] = install(entry.install, cache, pip)
        error = install_errors.get(entry.install)
        result = GalleryResult(entry, INSTALL_FAILED, detail=error) if error else run_entry(entry, cache, options)
        results.append(result)
        if progress is not None:
            progress(result)
    return results
