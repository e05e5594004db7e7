"""Time ``bubbleup explore``: a new box after the first load, on 1M and 10M events.

Example::

    python bench/bench_explore.py --rows 1_000_000 10_000_000

For each size it writes a Parquet file of wide events over six hours (``ts``,
``duration_ms`` and 20 attributes; hosts ``h-bad`` slow down after 14:00) to
``bench/data/``, then

- loads it once (``Explorer``: the events collected into a polars DataFrame),
- asks for a first view, then for ``--boxes`` new boxes (each a new selection, so no
  cached answer), each the heatmap + ``bubbleup.analyze`` on the kept frame, as the page
  does after a drag;
- for comparison, the same boxes as ``bubbleup.analyze(path, ...)``: re-reading the
  Parquet file with its fast path each time.

Figures go to stdout as a Markdown table (median / max seconds per box): the app's view
(heatmap + ``analyze`` on the kept frame), the heatmap of the box alone, and ``analyze``
alone on the kept frame and on the Parquet file (re-read with its fast path each time).

``--sampled`` writes the same events with a ``sample_rate`` column (1 or 20) and ``ts``
as milliseconds since 1970 (``explore_<rows>_sampled.parquet``): the heatmap then counts
weighted events and the app reads the times from numbers, as it does for such sources.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bubbleup  # noqa: E402
from bubbleup.interfaces.explore.state import Explorer, View  # noqa: E402

START = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


def generate(rows: int, path: Path, *, seed: int = 1, sampled: bool = False) -> None:
    """Write ``rows`` events with a planted slow band (host ``h-bad`` after 14:00);
    ``sampled``: with sample rates, and times as epoch milliseconds."""
    rng = np.random.default_rng(seed)
    chunk = 1_000_000
    frames = []
    for k in range(0, rows, chunk):
        n = min(chunk, rows - k)
        seconds = np.sort(rng.uniform(0, 6 * 3600, n))
        host = rng.choice([f"h-{i:02d}" for i in range(30)] + ["h-bad"], n)
        slow = (host == "h-bad") & (seconds > 4 * 3600)
        duration = rng.lognormal(5, 0.8, n) * np.where(slow, 40, 1)
        cols: dict[str, object] = {
            "ts": pl.Series(seconds * 1e6).cast(pl.Int64).cast(pl.Duration("us")) + pl.lit(START),
            "duration_ms": duration.round().astype(np.int64),
            "host": host,
            "route": rng.choice([f"/api/r{i}" for i in range(40)], n),
            "region": rng.choice(["us", "eu", "ap", "sa"], n),
            "status": rng.choice([200, 201, 404, 500], n, p=[0.8, 0.1, 0.07, 0.03]),
            "cache": rng.random(n) < 0.4,
            "customer": np.char.add("c", rng.integers(0, 100_000, n).astype(str)),
            "bytes": rng.lognormal(8, 2, n).round().astype(np.int64),
        }
        for i in range(6):
            cols[f"tag_{i}"] = rng.choice([f"t{i}-{j}" for j in range(3 + 4 * i)], n)
        for i in range(5):
            cols[f"num_{i}"] = rng.integers(0, 8 + 10 * i, n)
        frame = pl.select(
            **{k2: (v if isinstance(v, pl.Expr) else pl.Series(k2, v)) for k2, v in cols.items()}
        )
        if sampled:
            rate = pl.Series("sample_rate", rng.choice([1, 20], n, p=[0.7, 0.3]))
            frame = frame.with_columns(pl.col("ts").dt.epoch("ms"), rate)
        frames.append(frame)
    pl.concat(frames).write_parquet(path, row_group_size=250_000)


BOXES = [
    "duration_ms > 2000 AND ts >= CAST('2026-11-20 14:00:00+00:00' AS TIMESTAMPTZ)",
    "duration_ms BETWEEN 3000 AND 100000 AND ts BETWEEN CAST('2026-11-20 14:30:00+00:00' "
    "AS TIMESTAMPTZ) AND CAST('2026-11-20 16:00:00+00:00' AS TIMESTAMPTZ)",
    "duration_ms > 1000",
    "duration_ms BETWEEN 500 AND 900",
    "status = 500",
]


def bench(rows: int, boxes: int, *, sampled: bool = False) -> dict[str, object]:
    name = f"explore_{rows}_sampled.parquet" if sampled else f"explore_{rows}.parquet"
    path = ROOT / "bench" / "data" / name
    path.parent.mkdir(exist_ok=True)
    if not path.exists():
        t = time.perf_counter()
        generate(rows, path, sampled=sampled)
        print(f"# generated {path.name} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    t = time.perf_counter()
    ex = Explorer(str(path))
    load = time.perf_counter() - t
    t = time.perf_counter()
    first = ex.view(View(BOXES[0]))
    first_s = time.perf_counter() - t
    assert first["explanations"][0]["label"] == "host = 'h-bad'", first["explanations"][0]
    app, heat, memory, reread = [], [], [], []
    for where in BOXES[1 : boxes + 1]:
        t = time.perf_counter()
        ex.view(View(where))
        app.append(time.perf_counter() - t)
        t = time.perf_counter()
        ex.heatmap(View(where))  # the grid is kept: this is the mask and the bincount
        heat.append(time.perf_counter() - t)
        t = time.perf_counter()
        bubbleup.analyze(ex.frame, where=where)
        memory.append(time.perf_counter() - t)
        t = time.perf_counter()
        bubbleup.analyze(str(path), where=where)
        reread.append(time.perf_counter() - t)
    return {
        "rows": rows,
        "load": load,
        "first": first_s,
        "app": app,
        "heat": heat,
        "memory": memory,
        "reread": reread,
        "mb": ex.frame.estimated_size() / 1e6,
    }


def _fig(times: list[float]) -> str:
    return f"{statistics.median(times):.2f} / {max(times):.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--boxes", type=int, default=4)
    parser.add_argument(
        "--sampled", action="store_true", help="with sample rates and epoch-millisecond times"
    )
    args = parser.parse_args()
    print(
        "| events | frame | load | first view | new box in the app | its heatmap "
        "| analyze on the kept frame | analyze re-reading Parquet |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for rows in args.rows:
        r = bench(rows, args.boxes, sampled=args.sampled)
        print(
            f"| {rows:,} | {r['mb']:,.0f} MB | {r['load']:.2f} s | {r['first']:.2f} s "
            f"| {_fig(r['app'])} | {_fig(r['heat'])} | {_fig(r['memory'])} "
            f"| {_fig(r['reread'])} |",
            flush=True,
        )
    print(f"\nload average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
