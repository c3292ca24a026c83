"""``maskoracle gallery``: real public mask functions (transformers, LeRobot) checked, one table row each."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..gallery import GALLERY, GalleryEntry, GalleryResult, default_cache, run_gallery, unexpected
from ..options import OPTIONS_BY_NAME
from ..reports.gallery import markdown_table, replace_readme_table, summary
from ..reports.terminal import Output
from .io import EXIT_FAILED, EXIT_PASSED, json_path, write_json

# The check options a gallery run passes to every row (each row adds its convention's own); their flags, types
# and help come from maskoracle.options. The seed defaults to 0 here: the gallery's table is reproducible.
CHECK_OPTION_NAMES = ("max_examples", "seed", "timeout", "max_shrink_seconds", "memory_limit")
DEFAULTS = {"seed": 0}


def gallery_entries() -> tuple[GalleryEntry, ...]:
    """The rows ``maskoracle gallery`` runs (a function, so tests can hand it stand-ins)."""
    return GALLERY


def _short_path(path: Path) -> str:
    home = str(Path.home())
    text = str(path)
    return "~" + text[len(home):] if text == home or text.startswith(home + "/") else text


def check_command(entry: GalleryEntry, cache: Path) -> str:
    """The one ``maskoracle check`` command that checks ``entry``, its package's cache folder on the path."""
    folder = _short_path(cache / entry.install.folder)
    path = folder if folder.startswith("~") else shlex.quote(folder)
    return f"PYTHONPATH={path} maskoracle check {entry.target} {entry.options_text()}".rstrip()


def _selected(only: list[str] | None) -> tuple[GalleryEntry, ...]:
    entries = gallery_entries()
    if not only:
        return entries
    known = {entry.name for entry in entries}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise UsageError(f"--only: no gallery row named {unknown[0]!r} (rows: {', '.join(sorted(known))})")
    return tuple(entry for entry in entries if entry.name in only)


def _progress_line(out: Output) -> Any:
    def show(result: GalleryResult) -> None:
        version = result.version or "-"
        seconds = f"{result.seconds:6.1f} s" if result.status in ("passed", "failed") else " " * 8
        out.line(f"  {result.entry.name:<28} {result.entry.install.name} {version:<10} {seconds}  {result.verdict()}")
    return show


def run_gallery_command(args: argparse.Namespace) -> int:
    out = Output(plain=True if args.plain else None)
    entries = _selected(args.only)
    cache = Path(args.cache_dir).expanduser() if args.cache_dir else default_cache()
    if cache.exists() and not cache.is_dir():
        raise UsageError(f"--cache-dir {cache}: not a directory")
    if args.list:
        for entry in entries:
            out.line(f"{entry.name}: {entry.function} ({entry.install.folder})")
            out.line(f"    {check_command(entry, cache)}")
        return EXIT_PASSED
    report_path = json_path(args.json)
    if args.readme and not Path(args.readme).is_file():
        raise UsageError(f"--readme {args.readme}: no such file")
    options = {name: getattr(args, name) for name in CHECK_OPTION_NAMES}
    out.line(f"maskoracle gallery: {len(entries)} row{'s' if len(entries) != 1 else ''}, cache {cache}" + ("" if args.install else
             " (add --install to install what is missing)"))
    results = run_gallery(entries, cache, options, install_missing=args.install, progress=_progress_line(out))
    table = markdown_table(results)
    out.line()
    out.line(table)
    out.line()
    failed = unexpected(results)
    out.line(summary(results), style="bold red" if failed else "bold green")
    if report_path is not None:
        write_json(report_path, {"cache": str(cache), "options": options, "passed": not failed,
                                 "rows": [result.to_json() for result in results]})
    if args.readme:
        path = Path(args.readme)
        try:
            path.write_text(replace_readme_table(path.read_text(encoding="utf-8"), table), encoding="utf-8")
        except ValueError as error:
            raise UsageError(f"--readme {args.readme}: {error}") from None
    return EXIT_FAILED if failed else EXIT_PASSED


def _add_check_option(parser: argparse.ArgumentParser, name: str) -> None:
    """A check option as ``maskoracle check`` declares it (``maskoracle.options``), with the gallery's default."""
    option = OPTIONS_BY_NAME[name]
    keywords = option.argument_keywords()
    if name in DEFAULTS:
        keywords.update(default=DEFAULTS[name], help=f"{option.help}; in the gallery the default is {DEFAULTS[name]}")
    parser.add_argument(option.flag(), **keywords)


def add_commands(commands: Any) -> None:
    """``gallery``."""
    gallery = commands.add_parser(
        "gallery", help="check real public mask functions (transformers, LeRobot): one table row each",
        description="Check the real mask functions of pinned public packages with the convention each needs. "
                    "Packages are installed only with --install, into a cache folder per package "
                    "(CACHE/NAME-VERSION), never into this environment. Exit 0 when every verdict is the "
                    "expected one (a row not installed counts as neither), 1 otherwise, 2 on a usage error.")
    gallery.add_argument("--install", action="store_true",
                         help="pip install the rows' packages that are missing (downloads)")
    gallery.add_argument("--cache-dir", metavar="PATH", default=None,
                         help="where packages are installed (default $MASKORACLE_GALLERY_CACHE, else "
                              "~/.cache/maskoracle/gallery)")
    gallery.add_argument("--only", metavar="NAME", action="append", default=None,
                         help="run only these rows (repeatable; --list shows them)")
    gallery.add_argument("--list", action="store_true",
                         help="list the rows and the maskoracle check command of each, and stop")
    for name in CHECK_OPTION_NAMES:
        _add_check_option(gallery, name)
    gallery.add_argument("--json", metavar="PATH", help="write every row's verdict and check report there")
    gallery.add_argument("--readme", metavar="PATH",
                         help="rewrite the table between the gallery markers of this README")
    gallery.add_argument("--plain", action="store_true", help="plain text even on a terminal")
    gallery.set_defaults(handler=run_gallery_command)
