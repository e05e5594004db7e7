"""How often does a random selection come back with something "significant"?

Under the null (the selection is a coin flip, unrelated to every attribute) bubbleup should
report a significant explanation in at most ``alpha`` of the runs. The test suite checks 60
runs; this script runs many more, on several datasets, and says which kind of explanation
(single value, range, conjunction) was wrongly significant, by selection size.

Example::

    python bench/calibration.py --runs 400
    python bench/calibration.py --runs 100 --rows 1200000 --datasets 1 --ids 400000 --file

``--file`` writes each dataset to a Parquet file (with an ``account`` column of ``--ids``
distinct values when given) and analyses the file: above a million events the column
statistics come from a sample, which is where the size of the Benjamini-Hochberg family
used to be underestimated. Each run's selection is then a pseudo-random function of the
row number (``--where`` on an ``id`` column), independent of every attribute.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bubbleup
from tests.conftest import make_events

SHARES = (0.01, 0.05, 0.2, 0.5)


def kind_of(items: list[dict]) -> str:
    if len(items) > 1:
        return "conjunction"
    if items[0]["op"] not in ("<=", ">", "between"):
        return "value"
    return "time range" if items[0]["attribute"] == "ts" else "range"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=400)
    ap.add_argument("--rows", type=int, default=6000)
    ap.add_argument("--datasets", type=int, default=4)
    ap.add_argument("--no-weights", action="store_true", help="events without sample rates")
    ap.add_argument("--ids", type=int, default=0, help="add a column with this many values")
    ap.add_argument("--file", action="store_true", help="analyse Parquet files, not frames")
    args = ap.parse_args()
    frames = [
        make_events(args.rows, seed=100 + d, planted=False, weights=not args.no_weights)
        for d in range(args.datasets)
    ]
    # a time column over two days: time ranges are candidates too (and the duration's
    # ranges, although its name makes it an outcome by convention: --context)
    start = np.datetime64("2026-11-19T00:00:00", "us")
    frames = [
        f.with_columns(
            ts=pl.Series(
                start
                + np.random.default_rng(200 + d)
                .integers(0, 2 * 86400, f.height)
                .astype("timedelta64[s]")
            ).dt.replace_time_zone("UTC")
        )
        for d, f in enumerate(frames)
    ]
    if args.ids:
        rng = np.random.default_rng(7)
        frames = [
            f.with_columns(
                account=pl.Series(np.char.add("a", rng.integers(0, args.ids, f.height).astype(str)))
            )
            for f in frames
        ]
    folder = tempfile.TemporaryDirectory(prefix="bubbleup-calibration-")
    paths = []
    if args.file:
        for d, frame in enumerate(frames):
            paths.append(f"{folder.name}/events-{d}.parquet")
            frame.with_row_index("id").write_parquet(paths[-1], row_group_size=100_000)
    hits: Counter[float] = Counter()
    runs: Counter[float] = Counter()
    kinds: Counter[str] = Counter()
    started = time.perf_counter()
    for seed in range(args.runs):
        rng = np.random.default_rng(10_000 + seed)
        share = SHARES[seed % len(SHARES)]
        frame = frames[seed % len(frames)]
        if args.file:  # a pseudo-random share of the row numbers (Knuth's multiplicative hash)
            where = f"(id * 2654435761 + {seed * 40503}) % 1000000 < {int(share * 1_000_000)}"
            result = bubbleup.analyze(
                paths[seed % len(paths)], where=where, exclude=["outcome"], context=["duration_ms"]
            )
        else:
            picked = frame.with_columns(picked=pl.Series(rng.random(frame.height) < share))
            result = bubbleup.analyze(
                picked, where="picked", exclude=["outcome"], context=["duration_ms"]
            )
        runs[share] += 1
        significant = result.explanations.filter(pl.col("significant"))
        if significant.height:
            hits[share] += 1
            for items in significant["items"].to_list():
                kinds[kind_of(items)] += 1
    total = sum(hits.values())
    kind = "unweighted" if args.no_weights else "sampled (sample_rate 1, 5 or 10)"
    print(
        f"{args.runs} random selections on {args.datasets} datasets of {args.rows} {kind} "
        f"events, alpha 0.05 ({time.perf_counter() - started:.0f} s)"
    )
    print("| selection share | runs | runs with a significant explanation | rate |")
    print("|---|---|---|---|")
    for share in SHARES:
        print(f"| {share:g} | {runs[share]} | {hits[share]} | {hits[share] / runs[share]:.1%} |")
    print(f"| all | {args.runs} | {total} | {total / args.runs:.1%} |")
    z = 1.96 * np.sqrt(0.05 * 0.95 / args.runs)
    print(f"(a true rate of 5% gives {0.05 - z:.1%} to {0.05 + z:.1%} in 95% of studies this size)")
    print("wrongly significant explanations by kind:", dict(kinds))


if __name__ == "__main__":
    main()
