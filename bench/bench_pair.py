"""Time two commands as whole processes, in turn, and the ratio of each pair.

Usage::

    python bench/bench_pair.py --runs 6 \\
        --a "python -m bubbleup analyze FILE -w \\"exit_reason = 'oom'\\"" --a-env PYTHONPATH=. \\
        --b "python -m bubbleup analyze FILE -w \\"exit_reason = 'oom'\\"" \\
        --b-env PYTHONPATH=/path/to/an/older/checkout

Runs A and B alternately (A B A B ..., after one warm-up run of each), each a fresh process
with its output thrown away, and prints for each the median wall time, CPU time (user +
system) and peak resident memory of the process (``os.wait4``'s accounting), then the
median of the per-pair ratios A/B: on a shared machine whose speed drifts, a ratio of
runs taken side by side holds better than two medians taken minutes apart. Each command
is split as a shell splits words (``shlex``); no shell runs it. ``--a-env``/``--b-env``
add ``NAME=VALUE`` settings to that command's environment (``PYTHONPATH`` to run an older
checkout; ``python -m`` puts the current directory first on ``sys.path``, so to compare
two checkouts run it from a directory outside both, with absolute paths).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import time
from dataclasses import dataclass


@dataclass
class Run:
    """One finished process: wall and CPU seconds, peak resident memory in MiB, exit code."""

    wall: float
    cpu: float
    peak_mib: float
    code: int


def run(argv: list[str], env: dict[str, str]) -> Run:
    """Run ``argv`` once, its output discarded; the kernel's accounting of that process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, usage.ru_maxrss / 1024, proc.returncode)


def environment(settings: list[str]) -> dict[str, str]:
    """This process's environment plus ``NAME=VALUE`` settings."""
    env = dict(os.environ)
    for setting in settings:
        name, _, value = setting.partition("=")
        env[name] = value
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", required=True, help="the command measured")
    parser.add_argument("--b", required=True, help="the command it is compared with")
    parser.add_argument("--a-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--b-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--runs", type=int, default=5, help="counted runs of each")
    opts = parser.parse_args()
    commands = {
        "A": (shlex.split(opts.a), environment(opts.a_env)),
        "B": (shlex.split(opts.b), environment(opts.b_env)),
    }
    for argv, env in commands.values():  # warm-up: page cache, byte-compiled modules
        run(argv, env)
    runs: dict[str, list[Run]] = {"A": [], "B": []}
    for _ in range(opts.runs):
        for name, (argv, env) in commands.items():
            runs[name].append(run(argv, env))
    for name, done in runs.items():
        codes = sorted({r.code for r in done})
        print(
            f"{name}: wall {statistics.median(r.wall for r in done):.3f} s, "
            f"cpu {statistics.median(r.cpu for r in done):.3f} s, "
            f"peak {statistics.median(r.peak_mib for r in done):.0f} MiB "
            f"(walls {', '.join(f'{r.wall:.2f}' for r in done)}; exit codes {codes})"
        )
    pairs = list(zip(runs["A"], runs["B"], strict=True))
    wall = statistics.median(a.wall / b.wall for a, b in pairs)
    cpu = statistics.median(a.cpu / b.cpu for a, b in pairs)
    peak = statistics.median(a.peak_mib / b.peak_mib for a, b in pairs)
    print(f"A/B, median of {len(pairs)} pairs: wall {wall:.3f}, cpu {cpu:.3f}, peak {peak:.3f}")


if __name__ == "__main__":
    main()
