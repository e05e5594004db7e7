"""Time of ``bubbleup analyze`` on 2,000 events as the number of columns grows.

Each run is a fresh ``python -m bubbleup analyze FILE --where "outcome = 'error'" -f json``
process; the file has ``outcome``, one planted column (``c_planted = 'bad'`` on 90% of the
errors and 5% of the rest) and N-1 random columns: two in three text with 2 to 12 values,
one in three numbers with many values (binned into ranges). Files are
written to ``bench/data/`` (gitignored).

Examples::

    python bench/bench_wide.py 1000 5000 10000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
ROWS = 2000


def wide_events(columns: int, rows: int = ROWS, seed: int = 1) -> pl.DataFrame:
    """``rows`` events: ``outcome``, ``c_planted`` and ``columns - 1`` random columns."""
    rng = np.random.default_rng(seed)
    error = rng.random(rows) < 0.1
    planted = np.where(rng.random(rows) < np.where(error, 0.9, 0.05), "bad", "good")
    data: dict[str, object] = {"outcome": np.where(error, "error", "ok"), "c_planted": planted}
    for i in range(columns - 1):
        if i % 3 == 2:  # numbers with many values: binned into ranges (quantiles)
            data[f"n{i:05d}"] = np.round(rng.lognormal(5, 1, rows), 2)
        else:
            data[f"c{i:05d}"] = np.char.add("v", rng.integers(0, 2 + i % 11, rows).astype(str))
    return pl.DataFrame(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("columns", type=int, nargs="+")
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    for n in args.columns:
        path = DATA / f"wide_{n}_v2.parquet"
        if not path.exists():
            wide_events(n).write_parquet(path)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "bubbleup", "analyze", str(path), "--where",
             "outcome = 'error'", "-f", "json"],
            capture_output=True, text=True, env={**os.environ}, check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        top = "?"
        if done.returncode == 0:
            import json

            top = json.loads(done.stdout)["explanations"][0]["label"]
        print(f"{n:>6} columns x {ROWS} rows: {seconds:6.1f} s  exit {done.returncode}  top: {top}")


if __name__ == "__main__":
    main()
