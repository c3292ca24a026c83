"""What every command shares: exit codes, the one-line usage error, bit-row parsing and JSON writing."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ..errors import UsageError

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def parse_bit_rows(text: str, option: str) -> list[list[bool]]:
    """``"1110,1111"`` -> rows of bools; T/F accepted for 1/0. ``UsageError`` names the bad character."""
    rows = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise UsageError(f"{option}: empty row in {text!r}; write rows like 111110,111100")
        row = []
        for position, character in enumerate(part):
            if character in "1Tt":
                row.append(True)
            elif character in "0Ff":
                row.append(False)
            else:
                raise UsageError(f"{option}: {character!r} at position {position} of {part!r}; use 1/0 or T/F")
        rows.append(row)
    if len({len(row) for row in rows}) != 1:
        raise UsageError(f"{option}: rows have different lengths ({', '.join(str(len(r)) for r in rows)})")
    return rows


def json_path(path: str | None, option: str = "--json") -> Path | None:
    """Where ``--json`` writes, checked before the run starts: an empty path, a folder, or a place that cannot
    be written is a usage error now, not after a long run. A symbolic link is followed (the link stays).
    The path is made absolute, so an implementation that changes the working directory cannot move it."""
    if path is None:
        return None
    if not path.strip():
        raise UsageError(f"{option}: empty path; give a file name such as report.json")
    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise UsageError(f"{option} {path}: is a directory; give a file name")
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: cannot write in {folder}")
    return target


def write_json(path: str | Path, payload: Any) -> None:
    """Write JSON atomically: a reader never sees half a report, and a failed write keeps the old one. The file
    gets the permissions a new file gets here (the umask's), a symbolic link is followed, not replaced."""
    target = Path(os.path.realpath(path))
    temporary: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(handle, 0o666 & ~umask)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(payload, stream, indent=2, ensure_ascii=False)
            stream.write("\n")
        os.replace(temporary, target)
        temporary = None
    except OSError as error:
        raise UsageError(f"--json {path}: cannot write: {error.strerror or error}") from None
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)


def pad_att_from_args(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """``--pad``/``--att`` as bool ``[B, L]`` arrays (explain, leaks); a missing or mismatched one is a usage error."""
    if args.pad is None or args.att is None:
        raise UsageError("give --pad and --att (e.g. --pad 111110 --att 000111), or --layout NAME")
    pad = np.array(parse_bit_rows(args.pad, "--pad"), dtype=bool)
    att = np.array(parse_bit_rows(args.att, "--att"), dtype=bool)
    if pad.shape != att.shape:
        raise UsageError(f"--pad is [B, L] = {list(pad.shape)} but --att is {list(att.shape)}; they must match")
    return pad, att
