"""What time as context, outcomes and restatements cost (issue "Causes, not symptoms").

Takes a Parquet file made by ``bench/generate.py``, writes a copy with two more columns,
``ts`` (event time over two days, zoned) and ``latency_ms`` (a number whose name makes it
an outcome by convention), then times ``bubbleup.analyze`` in this process on it:

- ``before``: both left out (``exclude=["ts", "latency_ms"]``): what bubbleup did before
  time became context and before outcomes existed;
- ``time``: ``ts`` as context (time ranges), ``latency_ms`` left out;
- ``all``: ``ts`` as context and ``latency_ms`` as an outcome (its quantiles need one
  more pass over that column); the restatement check runs in every variant (it reads the
  small counts table only).

Example::

    python bench/generate.py --rows 10_000_000 --cols 50 --seed 1 \\
        --output bench/data/events_10m_50.parquet
    python bench/bench_causes.py bench/data/events_10m_50.parquet --repeat 2
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bubbleup


def with_time(source: Path) -> Path:
    """The copy with ``ts`` and ``latency_ms``, row group by row group (bounded memory)."""
    target = source.with_name(source.stem + "_causes.parquet")
    if target.exists() and target.stat().st_mtime > source.stat().st_mtime:
        return target
    reader = pq.ParquetFile(source)
    rng = np.random.default_rng(7)
    start = np.datetime64("2026-11-19T00:00:00", "us")
    writer = None
    tmp = target.with_suffix(".tmp")
    for i in range(reader.num_row_groups):
        table = reader.read_row_group(i)
        n = table.num_rows
        seconds = rng.integers(0, 2 * 86400, size=n).astype("timedelta64[s]")
        ts = pa.array(start + seconds, type=pa.timestamp("us")).cast(pa.timestamp("us", "UTC"))
        latency = pa.array(np.round(rng.lognormal(5, 1, size=n), 1))
        table = table.append_column("ts", ts).append_column("latency_ms", latency)
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
        writer.write_table(table)
    assert writer is not None
    writer.close()
    tmp.rename(target)
    return target


VARIANTS = {
    "before": {"exclude": ["ts", "latency_ms"]},
    "time": {"exclude": ["latency_ms"]},
    "all": {},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--where", default="outcome = 'error'")
    args = ap.parse_args()
    path = with_time(args.source)
    rows = pq.ParquetFile(path).metadata.num_rows
    print(f"{path} ({rows:,} events)")
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        for name, options in VARIANTS.items():
            started = time.perf_counter()
            result = bubbleup.analyze(path, where=args.where, **options)
            seconds = time.perf_counter() - started
            best[name] = min(best.get(name, seconds), seconds)
            kinds = result.attributes["kind"].to_list()
            print(
                f"  {name:<7} {seconds:6.2f} s  attributes {len(kinds)} "
                f"(time {kinds.count('time')}), outcomes {result.outcomes.height}, "
                f"restatements {result.restatements.height}, "
                f"first: {result.explanations['label'][0][:60]}"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    for name in ("time", "all"):
        print(f"{name} / before: {best[name] / best['before']:.3f}")
    print(f"peak RSS of the process: {peak:.2f} GB")


if __name__ == "__main__":
    main()
