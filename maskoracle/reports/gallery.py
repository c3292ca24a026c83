"""The gallery's table: one row per real function, in Markdown (the README's) and as a verdict summary."""

from __future__ import annotations

from collections.abc import Sequence

from ..gallery.run import GalleryResult, unexpected
from .markers import replace_between

README_START = "<!-- gallery:start -->"
README_END = "<!-- gallery:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _version(result: GalleryResult) -> str:
    if result.version is None:
        return result.entry.install.version + " (pinned)"
    return result.version + (" (environment)" if result.where == "environment" else "")


def markdown_table(results: Sequence[GalleryResult]) -> str:
    """| row | function | version | convention / options | verdict | seconds |, one line per result; then the
    rows' notes."""
    lines = ["| row | function | version | convention / options | verdict | seconds |",
             "| --- | --- | --- | --- | --- | ---: |"]
    for result in results:
        entry = result.entry
        options = entry.options_text() or "(defaults)"
        seconds = f"{result.seconds:.1f}" if result.status in ("passed", "failed") else ""
        lines.append(f"| `{entry.name}` | `{_cell(entry.function)}` | {_version(result)} | `{_cell(options)}` | "
                     f"{_cell(result.verdict())} | {seconds} |")
    notes = [f"- `{result.entry.name}`: {result.entry.note}" for result in results if result.entry.note]
    return "\n".join(lines + ([""] + notes if notes else []))


def summary(results: Sequence[GalleryResult]) -> str:
    """``14 rows: 11 passed, 1 failed (expected), ...; every verdict as expected``."""
    counts: dict[str, int] = {}
    for result in results:
        key = result.status + (" (expected)" if result.status != "passed" and result.as_expected else "")
        counts[key] = counts.get(key, 0) + 1
    wrong = [result.entry.name for result in unexpected(results)]
    checked = any(result.status != "not installed" for result in results)
    tail = f"unexpected: {', '.join(wrong)}" if wrong else \
        "every verdict as expected" if checked else "nothing checked (add --install)"
    return f"{len(results)} row{'s' if len(results) != 1 else ''}: " + ", ".join(f"{count} {status}" for status, count in counts.items()) + f"; {tail}"


def replace_readme_table(readme: str, table: str) -> str:
    """``readme`` with the text between the gallery markers replaced by ``table``."""
    try:
        return replace_between(readme, README_START, README_END, table + "\n")
    except ValueError:
        raise ValueError(f"the README has no {README_START} ... {README_END} markers") from None
