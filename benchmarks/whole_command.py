"""The whole ``maskoracle check TARGET --seed 0 --db none`` command per framework, before issue 15 and now.

    python benchmarks/whole_command.py [--before fc53167] [--rounds 3] [--only torch]

Three ways, one after another in each round so that they see the same machine load: ``before`` (the earlier
commit's package, exported by ``git archive``; in-process, as it was), ``now`` (the implementation in a worker
process, the default) and ``now, in-process`` (``--isolation in-process``). Wall-clock seconds of the whole
process, interpreter start and imports included; medians over the rounds, and the exit status of each. A
benchmark, not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from check_growth import DEFAULT_BEFORE, USE_PACKAGE, export

TARGETS = {
    "torch": ["maskoracle.implementations.torch:block_causal"],
    "jax": ["maskoracle.implementations.jax:block_causal", "--framework", "jax"],
    "mask_mod": ["maskoracle.implementations.flex:block_causal_mask_mod", "--kind", "mask_mod"],
    "block_mask": ["maskoracle.implementations.flex:block_causal_block_mask", "--kind", "block_mask"],
}

RUN = USE_PACKAGE + r"""
from maskoracle.cli import main
sys.exit(main(sys.argv[2:]))
"""


def run(package: str, arguments: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUN, package, "check", *arguments, "--seed", "0", "--db", "none",
                           "--plain"], capture_output=True, text=True, cwd=tempfile.gettempdir())
    return time.perf_counter() - started, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=DEFAULT_BEFORE)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", action="append", choices=list(TARGETS), help="these targets only (repeatable)")
    args = parser.parse_args()
    targets = {name: TARGETS[name] for name in args.only or TARGETS}
    ways = {"before": ([], True), "now": ([], False), "now, in-process": (["--isolation", "in-process"], False)}
    seconds: dict[tuple[str, str], list[float]] = {}
    codes: dict[tuple[str, str], set[int]] = {}
    with tempfile.TemporaryDirectory() as folder:
        before = str(export(args.before, Path(folder)))
        for _ in range(args.rounds):
            for name, arguments in targets.items():
                for way, (extra, old) in ways.items():
                    elapsed, code = run(before if old else "-", arguments + extra)
                    seconds.setdefault((name, way), []).append(elapsed)
                    codes.setdefault((name, way), set()).add(code)
    print(f"whole command, median of {args.rounds} rounds (exit status in brackets when not 0)\n")
    print(f"| TARGET | {' | '.join(ways)} |")
    print(f"|---|{'---|' * len(ways)}")
    for name, arguments in targets.items():
        cells = []
        for way in ways:
            bad = sorted(codes[(name, way)] - {0})
            cells.append(f"{statistics.median(seconds[(name, way)]):.1f} s" + (f" (exit {bad})" if bad else ""))
        print(f"| `{' '.join(arguments)}` | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
