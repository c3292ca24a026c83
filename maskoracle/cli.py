"""The ``maskoracle`` command line: parses, calls the Python API, renders. Exit 0 pass, 1 fail, 2 usage."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .adapters import FRAMEWORKS, UsageError
from .adapters.flex import KINDS
from .checking import MAX_TIMEOUT_S
from .oracle import PAD_QUERY_POLICIES, SPECS
from .profiles import PROFILES
from .strategies import ATT_DTYPES, LAYOUTS, PADDINGS

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
PROFILE_NAMES = tuple(PROFILES)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 < value <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_TIMEOUT_S:g} seconds, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def add_check_options(parser: argparse.ArgumentParser) -> None:
    """The options of INTERFACE's table (shared by ``check`` and the commands built on it)."""
    parser.add_argument("--spec", choices=SPECS, default="block_causal", help="the semantics to check against")
    parser.add_argument("--framework", choices=FRAMEWORKS, default="torch", help="the framework of the inputs")
    parser.add_argument("--device", default="cpu", help="device for the inputs (cpu, cuda, cuda:1, ...)")
    parser.add_argument("--layout", choices=LAYOUTS, default="any", help="att family to generate")
    parser.add_argument("--padding", choices=PADDINGS, default="any", help="padding family to generate")
    parser.add_argument("--pad-queries", choices=PAD_QUERY_POLICIES, default="masked",
                        help="masked: padded query rows must be empty; free: they are not compared")
    parser.add_argument("--att-dtype", choices=ATT_DTYPES, default="bool", help="dtype att masks are given in")
    parser.add_argument("--max-examples", type=_positive_int, default=None,
                        help="Hypothesis examples for the equivalence check (default: the active profile's)")
    parser.add_argument("--timeout", type=_timeout, default=10.0,
                        help="seconds allowed for one call of the implementation (default 10)")
    parser.add_argument("--seed", type=_seed, default=None, help="seed for a reproducible run (default random)")
    parser.add_argument("--profile", choices=PROFILE_NAMES, default=None,
                        help="dev, ci (derandomised) or nightly (long campaigns); default $MASKORACLE_PROFILE")
    parser.add_argument("--db", metavar="DIR", default=None,
                        help="example database directory, or 'none' (default $MASKORACLE_DB, else .hypothesis/)")
    # Implementation kinds and what attention does with the mask (issue #3: FlexAttention, additive masks).
    parser.add_argument("--kind", choices=KINDS, default="mask",
                        help="what TARGET returns: mask (default), mask_mod (a FlexAttention mask_mod factory) or "
                             "block_mask (a BlockMask factory)")
    parser.add_argument("--model-dtypes", metavar="DTYPES", default=None,
                        help="dtypes the model runs in, comma separated (float32,bfloat16,float16): an additive "
                             "masked value must survive each; attention_outputs runs in each")
    parser.add_argument("--nan-free", action="store_true",
                        help="fail attention_outputs on NaN in padded query rows too (they feed losses)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="maskoracle", description="Verify attention-mask implementations against an oracle.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    check = commands.add_parser("check", help="check an implementation: exact equivalence and invariants",
                                description="Check TARGET (package.module:function or path/file.py:function).")
    check.add_argument("target", metavar="TARGET")
    add_check_options(check)
    check.add_argument("--json", metavar="PATH", help="write the machine-readable report there")
    check.add_argument("--plain", action="store_true", help="plain text even on a terminal")

    explain = commands.add_parser("explain", help="show the mask of a (pad, att) input as a ✓/✗ table",
                                  description="Render the mask; batch rows separated by commas: --pad 1110,1111.")
    explain.add_argument("--pad", required=True, help="pad rows, 1/T real, 0/F padding, e.g. 111110")
    explain.add_argument("--att", required=True, help="att rows, 1/T starts a new block, e.g. 000111")
    explain.add_argument("--spec", choices=SPECS, default="block_causal")
    explain.add_argument("--vs", choices=SPECS, default=None, help="a second spec to compare with")
    explain.add_argument("--pad-queries", choices=PAD_QUERY_POLICIES, default="masked")
    explain.add_argument("--labels", default=None, help="token names, comma separated (IMG,IMG,LANG,...)")
    explain.add_argument("--json", metavar="PATH")
    explain.add_argument("--plain", action="store_true")

    selftest = commands.add_parser("selftest", help="run the check on the bundled mutant zoo: kill rate, false alarms",
                                   description="Check every zoo entry (seeded); exit 1 unless 100 % killed and "
                                               "no false alarm.")
    selftest.add_argument("--json", metavar="PATH")
    selftest.add_argument("--plain", action="store_true")
    selftest.add_argument("--max-examples", type=_positive_int, default=None)
    selftest.add_argument("--seed", type=_seed, default=0)
    selftest.add_argument("--only", metavar="NAME", action="append", default=None,
                          help="run only these zoo entries (repeatable)")
    selftest.add_argument("--readme", metavar="PATH",
                          help="rewrite the kill-rate table between the selftest markers of this README")

    demo = commands.add_parser("demo", help="check the built-in implementations and show the user's example",
                               description="The main job on embedded defaults.")
    demo.add_argument("--json", metavar="PATH")
    demo.add_argument("--plain", action="store_true")
    demo.add_argument("--max-examples", type=_positive_int, default=50)
    return parser


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


def write_json(path: str, payload: Any) -> None:
    """Write JSON atomically: a reader never sees half a report, and a failed write keeps the old one."""
    target = Path(path)
    temporary: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from . import commands

    try:
        handler = {"check": commands.run_check, "explain": commands.run_explain, "demo": commands.run_demo,
                   "selftest": commands.run_selftest}
        return handler[args.command](args)
    except UsageError as error:
        print(f"maskoracle {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"maskoracle {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `maskoracle check ... | head`: the reader left; say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
