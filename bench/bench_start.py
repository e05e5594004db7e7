"""Time the CLI's start: whole ``bubbleup`` processes that answer without counting.

Example::

    python bench/bench_start.py --runs 12

Runs each command (``--help``, ``analyze --help``, ``explore --help``, ``analyze`` with no
source: a usage error) ``--runs`` times as a fresh process and prints the median wall time
and CPU time (user + system of the child, from ``resource.getrusage``).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = (["--help"], ["analyze", "--help"], ["explore", "--help"], ["analyze"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--bubbleup", default=shutil.which("bubbleup") or "bubbleup")
    opts = parser.parse_args()
    for args in COMMANDS:
        walls, cpus = [], []
        for _ in range(opts.runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([opts.bubbleup, *args], capture_output=True, check=False)
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        line = f"{' '.join(args):16s} wall {statistics.median(walls):.3f} s"
        print(f"{line}  cpu {statistics.median(cpus):.3f} s", file=sys.stdout)


if __name__ == "__main__":
    main()
