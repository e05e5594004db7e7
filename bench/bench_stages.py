"""Where the time of one ``analyze`` goes, stage by stage, against a bare scan of the file.

Usage::

    python bench/bench_stages.py bench/data/events_2m_41.parquet [--where "outcome = 'error'"]
        [--repeat 3]

Runs ``bubbleup.analyze`` ``--repeat`` times in this process (the pipeline's modules
imported first: a CLI run imports them once), with timers around the engine's stages
(``measure`` and the statistics' ``sample`` inside it; ``count``, split into the Parquet
codes path and the polars queries for the attributes with very many values, each its
``count_each``, which run at the same time; ``count_patterns``; ``count_values``; the
scoring in ``_finish``), and alternates each run with an in-process polars streaming scan
of every column (``select(pl.all().null_count())``), the anchor of
issue 15's "at most 4x a bare scan". Prints, for the median run, wall and CPU seconds
(``time.process_time``: every thread of the process) per stage and the whole run, and the
ratio of the median wall to the median scan.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import polars as pl

import bubbleup
import bubbleup.pipeline.score  # scipy.special, imported before timing
from bubbleup.engines import PolarsEngine

Times = dict[str, list[float]]


def wrap(owner: Any, name: str, label: str, times: Times) -> None:
    """Replace ``owner.name`` by a timed version adding (wall, cpu) to ``times[label]``."""
    original: Callable[..., Any] = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            times.setdefault(label, [0.0, 0.0])
            times[label][0] += time.perf_counter() - wall
            times[label][1] += time.process_time() - cpu

    setattr(owner, name, timed)


LABELS = (
    "measure (totals, statistics)",
    "  of which: the statistics' samples",
    "count",
    "  of which: from Parquet codes",
    "  of which: polars queries (many-valued)",
    "combinations (count_patterns)",
    "outcome values (count_values)",
    "scoring and explaining (_finish)",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path")
    parser.add_argument("--where", default="outcome = 'error'")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    times: Times = {}
    analyze_module = importlib.import_module("bubbleup.pipeline.analyze")
    parquet = importlib.import_module("bubbleup.engines.parquet")
    counting = importlib.import_module("bubbleup.pipeline.count")
    owners = [PolarsEngine, parquet, PolarsEngine, parquet, counting, PolarsEngine, PolarsEngine]
    owners.append(analyze_module)
    names = ["measure", "sample", "count", "count_each", "count_each", "count_patterns"]
    names.append("count_values")
    names.append("_finish")
    for owner, name, label in zip(owners, names, LABELS, strict=True):
        wrap(owner, name, label, times)

    runs: list[tuple[float, float, dict[str, tuple[float, float]]]] = []
    scans: list[float] = []
    top = ""
    for _ in range(args.repeat):
        start = time.perf_counter()
        pl.scan_parquet(args.path).select(pl.all().null_count()).collect(engine="streaming")
        scans.append(time.perf_counter() - start)
        times.clear()
        wall, cpu = time.perf_counter(), time.process_time()
        result = bubbleup.analyze(args.path, where=args.where)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        runs.append((wall, cpu, {k: (v[0], v[1]) for k, v in times.items()}))
        top = str(result.explanations["label"][0]) if result.explanations.height else "(none)"

    runs.sort(key=lambda r: r[0])
    wall, cpu, stages = runs[len(runs) // 2]
    scan = statistics.median(scans)
    load = os.getloadavg()[0]
    print(f"{args.path}: {args.repeat} runs, load average {load:.1f}; top answer: {top}")
    print(f"{'stage (median run)':45s} {'wall s':>8s} {'cpu s':>8s}")
    for label in LABELS:  # in the order of the pipeline, parts under their stage
        if label in stages:
            w, c = stages[label]
            print(f"{label:45s} {w:8.2f} {c:8.2f}")
    print(f"{'whole analyze':45s} {wall:8.2f} {cpu:8.2f}")
    print(f"walls of every run: {', '.join(f'{r[0]:.2f}' for r in runs)}")
    print(f"bare polars scan (median of {len(scans)}): {scan:.2f} s")
    print(f"analyze / scan: {wall / scan:.2f}x (issue 15's target: at most 4x)")


if __name__ == "__main__":
    main()
