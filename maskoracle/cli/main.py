"""The ``maskoracle`` command line: parses, calls the Python API, renders. Exit 0 pass, 1 fail, 2 usage.

Each command lives with its kin: ``check.py`` (check, selftest, demo), ``design.py`` (explain, leaks, diff),
``speed.py`` (bench, report), ``gallery.py`` (gallery); ``io.py`` holds what they share.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..errors import UsageError
from . import check, design, gallery, speed
from .io import EXIT_FAILED, EXIT_USAGE, Parser


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="maskoracle", description="Verify attention-mask implementations against an oracle.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    check.add_commands(commands)
    design.add_commands(commands)
    speed.add_commands(commands)
    gallery.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
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
