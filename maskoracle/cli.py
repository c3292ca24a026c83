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
from .checking import MAX_TIMEOUT_S
from .kinds import KINDS
from .layouts import layout_argument as _layout_family
from .layouts import spec_argument as _spec_or_layout
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
    parser.add_argument("--spec", type=_spec_or_layout, default="block_causal", metavar="SPEC",
                        help="block_causal, rowwise, or a grouped layout's rule: a built-in layout name or "
                             "path/file.py:LAYOUT")
    parser.add_argument("--framework", choices=FRAMEWORKS, default="torch", help="the framework of the inputs")
    parser.add_argument("--device", default="cpu", help="device for the inputs (cpu, cuda, cuda:1, ...)")
    parser.add_argument("--layout", type=_layout_family, default="any", metavar="LAYOUT",
                        help=f"att family to generate ({', '.join(LAYOUTS)}) or a grouped layout, path/file.py:LAYOUT")
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
    parser.add_argument("--db", metavar="DB", default=None,
                        help="example database: a directory, redis://HOST:PORT/N, several comma-separated, or "
                             "'none' (default $MASKORACLE_DB, else .hypothesis/)")
    # Implementation kinds (maskoracle.kinds): the calling convention of TARGET.
    parser.add_argument("--kind", choices=KINDS, default="mask",
                        help="mask: fn(pad, att) -> [B, L, L]; kv_cache: fn(prefix_pad, suffix_pad, suffix_att) -> "
                             "[B, S, P+S]; incremental: fn(pad, att) -> [B, 1, T], the last token's row; mask_mod: a "
                             "FlexAttention mask_mod factory; block_mask: a BlockMask factory")
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
    explain.add_argument("--pad", help="pad rows, 1/T real, 0/F padding, e.g. 111110 (required unless --layout)")
    explain.add_argument("--att", help="att rows, 1/T starts a new block, e.g. 000111 (required unless --layout)")
    explain.add_argument("--spec", choices=SPECS, default="block_causal")
    explain.add_argument("--vs", choices=SPECS, default=None, help="a second spec to compare with")
    explain.add_argument("--pad-queries", choices=PAD_QUERY_POLICIES, default="masked")
    explain.add_argument("--labels", default=None, help="token names, comma separated (IMG,IMG,LANG,...)")
    explain.add_argument("--json", metavar="PATH")
    explain.add_argument("--plain", action="store_true")
    explain.add_argument("--png", metavar="PATH", help="also draw the mask (and --vs) as a PNG (needs matplotlib)")
    explain.add_argument("--layout", metavar="LAYOUT", help="show an instance of a grouped layout instead of --pad/--att:"
                         " a built-in name or path/file.py:LAYOUT")
    explain.add_argument("--lengths", help="with --layout: segment lengths, e.g. 2,2,2,2 (default 2 each)")
    explain.add_argument("--real", help="with --layout: real tokens per segment (default all)")

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
    add_design_commands(commands)

    # Speed (issue #5): correctness-gated timings and their report.
    bench = commands.add_parser(
        "bench", help="correctness-gated timings over a size grid, against the write bound measured alongside",
        description="Check each TARGET (seeded equivalence), then time it over a size grid against a fresh "
                    "allocation of its output written once (the bound). A TARGET that fails the check is not "
                    "timed and the exit status is 1. TARGET may end in @numpy or @torch to name its framework.")
    bench.add_argument("targets", metavar="TARGET", nargs="*", help="package.module:function[@framework]")
    bench.add_argument("--builtins", action="store_true",
                       help="time the built-in implementations and their baselines (what reports/ shows)")
    bench.add_argument("--framework", choices=("torch", "numpy"), default="torch",
                       help="framework of TARGETs without an @framework suffix (default torch)")
    bench.add_argument("--device", default="cpu", help="device for the inputs (cpu, cuda, ...)")
    bench.add_argument("--sizes", default=None, metavar="BxL,...",
                       help="size grid, e.g. 8x1024,2x4096; 'full' for the published grid "
                            "(default 8x256,8x512,8x1024,2x2048,2x4096)")
    bench.add_argument("--workload", default="pi05_subtask",
                       choices=("pi05_subtask", "causal", "bidirectional", "random"),
                       help="the (pad, att) layout timed (default pi05_subtask)")
    bench.add_argument("--min-time", type=_timeout, default=0.2,
                       help="seconds of timed rounds per target and size, at least 5 rounds (default 0.2)")
    bench.add_argument("--threads", type=_positive_int, default=None,
                       help="torch.set_num_threads for the run (default: torch's own choice)")
    bench.add_argument("--gate-examples", type=_positive_int, default=30,
                       help="Hypothesis examples of the gate's equivalence check (default 30)")
    bench.add_argument("--json", metavar="PATH", help="write the results there (input of maskoracle report)")
    bench.add_argument("--report", metavar="DIR", help="also write the Markdown/HTML report into DIR")
    bench.add_argument("--readme", metavar="PATH",
                       help="with --report: put the headline plot and table between the speed markers of PATH")
    bench.add_argument("--plain", action="store_true")

    report = commands.add_parser(
        "report", help="Markdown + self-contained HTML report with plots from bench JSON files",
        description="Render BENCH.json files (from maskoracle bench --json, or pytest-benchmark's "
                    "--benchmark-json) as DIR/README.md with PNG plots and DIR/report.html. With --baseline, "
                    "flag regressions beyond the run-to-run noise measured in both runs (exit 1 if any).")
    report.add_argument("inputs", metavar="BENCH.json", nargs="+")
    report.add_argument("-o", "--output", metavar="DIR", required=True, help="directory for the report")
    report.add_argument("--baseline", metavar="BENCH.json", help="an earlier run to compare with")
    report.add_argument("--title", default="maskoracle speed report")
    report.add_argument("--readme", metavar="PATH",
                        help="put the headline plot and table between the speed markers of this README")
    report.add_argument("--json", metavar="PATH", help="write the comparison and the files written there")
    report.add_argument("--plain", action="store_true")
    return parser


def add_design_commands(commands: Any) -> None:
    """``leaks`` and ``diff``: the layout-design commands (``commands_design.py``)."""
    leaks = commands.add_parser(
        "leaks", help="multi-layer reachability: every path by which a token reads what one layer forbids it",
        description="What each real token can read after K layers, and every leak (a pair readable after K layers "
                    "but masked in one), shortest path first. Exit 1 when there is a leak.")
    leaks.add_argument("--pad", help="pad rows, e.g. 111110 (batch rows separated by commas)")
    leaks.add_argument("--att", help="att rows, e.g. 000111")
    leaks.add_argument("--spec", choices=SPECS, default=None, help="the semantics (default block_causal; with "
                       "--layout, the layout's own group rule)")
    leaks.add_argument("--layout", metavar="LAYOUT", help="analyse a grouped layout instead: a built-in name "
                       "(pi0, pi05, pi05_subtask, smolvla, fast, pi05_subtask_hidden) or path/file.py:LAYOUT")
    leaks.add_argument("--lengths", help="with --layout: segment lengths, e.g. 2,2,2,2 (default 2 each)")
    leaks.add_argument("--real", help="with --layout: real tokens per segment (default all)")
    leaks.add_argument("--layers", type=_positive_int, default=None, help="K, the number of layers (default: L, "
                       "every path)")
    leaks.add_argument("--pad-queries", choices=PAD_QUERY_POLICIES, default="masked")
    leaks.add_argument("--labels", default=None, help="token names, comma separated (IMG,IMG,LANG,...)")
    leaks.add_argument("--limit", type=_positive_int, default=20, help="leaks listed on the terminal (default 20)")
    leaks.add_argument("--json", metavar="PATH")
    leaks.add_argument("--png", metavar="PATH", help="draw one layer and K layers, leaks marked (needs matplotlib)")
    leaks.add_argument("--plain", action="store_true")

    diff = commands.add_parser(
        "diff", help="the smallest inputs on which two specs or TARGETs differ",
        description="A and B are each a spec (block_causal, rowwise) or a TARGET (module:function or "
                    "path/file.py:function). Exit 1 when they differ, 0 when no difference is found.")
    diff.add_argument("a", metavar="A")
    diff.add_argument("b", metavar="B")
    diff.add_argument("--framework", choices=FRAMEWORKS, default="torch")
    diff.add_argument("--device", default="cpu")
    diff.add_argument("--layout", choices=LAYOUTS, default="any", help="att family for the random search")
    diff.add_argument("--padding", choices=PADDINGS, default="any")
    diff.add_argument("--pad-queries", choices=PAD_QUERY_POLICIES, default="masked")
    diff.add_argument("--att-dtype", choices=ATT_DTYPES, default="bool")
    diff.add_argument("--exhaustive-length", type=int, default=6, help="try every input up to this length first")
    diff.add_argument("--max-examples", type=_positive_int, default=200, help="random batches after that")
    diff.add_argument("--seed", type=_seed, default=0)
    diff.add_argument("--timeout", type=_timeout, default=10.0, help="seconds allowed for one call (default 10)")
    diff.add_argument("--json", metavar="PATH")
    diff.add_argument("--png", metavar="PATH", help="draw both masks, differing cells marked (needs matplotlib)")
    diff.add_argument("--plain", action="store_true")


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
        from . import commands_design, speed_commands

        handler = {"check": commands.run_check, "explain": commands.run_explain, "demo": commands.run_demo,
                   "selftest": commands.run_selftest,
                   "leaks": commands_design.run_leaks, "diff": commands_design.run_diff,
                   "bench": speed_commands.run_bench, "report": speed_commands.run_report}
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
