"""Cost of combinations: ``bubbleup.analyze`` with ``max_order`` 1, 2 and 3 on the same file.

Each run is a fresh subprocess; it prints wall seconds, CPU seconds (user + system, which
is less sensitive to other load on the machine than wall time), peak RSS and the top
explanation. Usage::

    python bench/bench_combos.py bench/data/events_10m_50.parquet --where "outcome = 'error'"
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = """
import json, resource, sys, time
import bubbleup
path, where, order = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.perf_counter()
r = bubbleup.analyze(path, where=where, max_order=order)
wall = time.perf_counter() - t0
u = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"order": order, "wall_s": wall, "cpu_s": u.ru_utime + u.ru_stime,
                  "peak_mb": u.ru_maxrss / 1024, "top": r.explanations["label"][0],
                  "explanations": r.explanations.height, "tested": r.parameters["tested"]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--where", default="outcome = 'error'")
    parser.add_argument("--orders", default="1,3")
    args = parser.parse_args()
    rows = []
    for order in [int(x) for x in args.orders.split(",")]:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, args.path, args.where, str(order)],
            capture_output=True, text=True, check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"file: {args.path}  (nproc {os.cpu_count()}, load {os.getloadavg()[0]:.1f})")
    print(f"{'max_order':>9} {'wall s':>8} {'cpu s':>8} {'peak MB':>8} {'ratio cpu':>9}  top")
    base = rows[0]["cpu_s"]
    for r in rows:
        print(f"{r['order']:>9} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} {r['peak_mb']:>8.0f} "
              f"{r['cpu_s'] / base:>9.2f}  {r['top']}")


if __name__ == "__main__":
    main()
