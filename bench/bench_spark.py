"""Spark local against polars on the same events: when does Spark pay off?

Each run is a fresh process (see ``bench_scale.py``): Spark's figure includes starting the
JVM and the session, shown apart. Files come from ``bench/gen_scale.py``.

Examples::

    python bench/bench_spark.py                      # 1M and 10M rows x 40 columns
    python bench/bench_spark.py --rows 10_000_000 --master 'local[2]'
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import data_file, measure


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="1_000_000,10_000_000")
    ap.add_argument("--cols", type=int, default=40)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--max-order", type=int, default=3)
    args = ap.parse_args()
    rows_list = [int(r.replace("_", "")) for r in args.rows.split(",")]
    table = []
    for rows in rows_list:
        path = data_file(rows, args.cols)
        polars = measure(path, engine="polars", max_order=args.max_order)
        spark = measure(path, engine="spark", master=args.master, max_order=args.max_order)
        start = spark["stages"].get("starting Spark", 0.0)  # type: ignore[attr-defined]
        table.append((rows, polars, spark, start))
    print()
    print("| events | polars | Spark " + args.master + " (session start) | polars peak | "
          "Spark peak (JVM + Python) | same top explanation |")
    print("| ---: | ---: | ---: | ---: | ---: | --- |")
    for rows, polars, spark, start in table:
        print(f"| {rows:,} | {polars['seconds']:.1f} s | {spark['seconds']:.1f} s ({start:.1f} s) "
              f"| {polars['peak_rss_mib']:,} MiB | {spark['peak_rss_mib']:,} MiB | "
              f"{'yes' if polars['top'] == spark['top'] else 'NO'} |")


if __name__ == "__main__":
    main()
