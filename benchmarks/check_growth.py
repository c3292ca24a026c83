"""The default check's total time, this checkout against an earlier commit, side by side in one run (issue 15).

    python benchmarks/check_growth.py [--before fc53167] [--rounds 5] [--target maskoracle.implementations.torch:block_causal]

The earlier commit's ``maskoracle`` package is exported with ``git archive`` into a temporary folder. Each round
starts one fresh process per side, alternating, so that both sides see the same machine load. Process r runs a
first, cold check (``seed=r``: what one ``maskoracle check`` pays), then ``check(fn, seed=s, db="none")``
in-process for seeds 0..rounds-1, and prints each check's elapsed time and the seconds of every property. The
table gives, per side, the median over all warm seeded checks of the whole check and of its slowest properties,
and the median of the cold first checks.
A benchmark, not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BEFORE = "fc53167"  # the commit before issue 15's batched search landed

# The start of a probe's source: argv[1] is an exported package's folder ("-": this checkout's), imported in place
# of the editable install (whose import hook is dropped).
USE_PACKAGE = r"""
import sys
if sys.argv[1] != "-":
    sys.meta_path[:] = [finder for finder in sys.meta_path if "__editable__" not in getattr(finder, "__module__", "")
                        and "__editable__" not in getattr(type(finder), "__module__", "")]
    sys.path.insert(0, sys.argv[1])
"""

PROBE = USE_PACKAGE + r"""
import json, time
target, seeds, first = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
import importlib
import maskoracle
from maskoracle import check
module, name = target.split(":")
fn = getattr(importlib.import_module(module), name)
started = time.perf_counter()
check(fn, seed=first, db="none")
cold = time.perf_counter() - started
runs = []
for seed in range(seeds):
    report = check(fn, seed=seed, db="none")
    assert report.passed, [c.name for c in report.checks if not c.passed]
    runs.append({"elapsed": report.elapsed_s, "checks": {c.name: c.seconds for c in report.checks}})
print(json.dumps({"file": maskoracle.__file__, "cold": cold, "runs": runs}))
"""


def export(revision: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "maskoracle"], check=True,
                             capture_output=True).stdout
    with tempfile.TemporaryFile() as spool:
        spool.write(archive)
        spool.seek(0)
        with tarfile.open(fileobj=spool) as tar:
            tar.extractall(into, filter="data")
    return into


def probe(package: str, target: str, seeds: int, first: int) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, package, target, str(seeds), str(first)], check=True,
                          capture_output=True, text=True, cwd=tempfile.gettempdir())
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="the earlier commit (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes per side, and seeds per process")
    parser.add_argument("--target", default="maskoracle.implementations.torch:block_causal")
    parser.add_argument("--top", type=int, default=6, help="slowest properties shown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        before_package = str(export(args.before, Path(folder)))
        sides = {f"before ({args.before})": before_package, "now": "-"}
        results: dict[str, list[dict]] = {side: [] for side in sides}
        for round_ in range(args.rounds):
            for side, package in sides.items():
                results[side].append(probe(package, args.target, args.rounds, round_))
    medians = {}
    for side, processes in results.items():
        runs = [run for process in processes for run in process["runs"]]
        names = {name for run in runs for name in run["checks"]}
        medians[side] = {
            "file": processes[0]["file"],
            "cold": statistics.median(process["cold"] for process in processes),
            "elapsed": statistics.median(run["elapsed"] for run in runs),
            "checks": {name: statistics.median(run["checks"].get(name, 0.0) for run in runs) for name in names},
        }
    before, now = medians.values()
    print(f"{args.target}: {args.rounds} processes per side x {args.rounds} seeds, medians\n")
    print(f"| what | {' | '.join(medians)} | now / before |")
    print("|---|---|---|---|")
    print(f"| whole default check (warm) | {before['elapsed']:.3f} s | {now['elapsed']:.3f} s | "
          f"{now['elapsed'] / before['elapsed']:.2f}x |")
    print(f"| first check of a process (cold, seeds 0-{args.rounds - 1}) | {before['cold']:.3f} s | {now['cold']:.3f} s | "
          f"{now['cold'] / before['cold']:.2f}x |")
    slowest = sorted(now["checks"], key=lambda name: -now["checks"][name])[: args.top]
    for name in slowest:
        was = before["checks"].get(name)
        shown = f"{was:.3f} s" if was is not None else "-"
        ratio = f"{now['checks'][name] / was:.2f}x" if was else "-"
        print(f"| `{name}` | {shown} | {now['checks'][name]:.3f} s | {ratio} |")
    for side, median in medians.items():
        print(f"\n{side}: {median['file']}")


if __name__ == "__main__":
    main()
