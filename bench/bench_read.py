"""Reading events: bubbleup's loader against polars' own readers on the same files.

For each format (NDJSON with a nested object, CSV; optionally gzip-compressed) it writes N
wide events once (bench/data/, kept between runs), then times, each in a fresh Python
process so that peak memory is that run's own:

- ``polars``: ``pl.read_ndjson(path)`` / ``pl.read_csv(path)`` (what a user would write);
- ``polars_dates`` (CSV only): ``pl.read_csv(path, try_parse_dates=True)``, polars' own
  way to get timestamps as times, which bubbleup also does (after reading);
- ``bubbleup``: ``bubbleup.pipeline.load.load(path).frame.collect()``: the same reader plus the
  content check, ISO dates and times parsed, nested objects flattened to dotted names and
  the schema union.

Usage::

    python bench/bench_read.py --rows 1000000 --repeat 3
    python bench/bench_read.py --rows 10000000 --repeat 1 --formats ndjson,csv

It prints one Markdown row per format and reader: seconds (best of ``--repeat``; the runs
alternate between the two readers), the ratio to polars, the peak resident memory of the
process and every run's time, with the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def make_events(n: int, seed: int = 1) -> pl.DataFrame:
    """Wide events: 20 columns of strings, integers, floats, booleans and a timestamp."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2026-11-19T00:00:00", "ms")
    ts = start + np.sort(rng.integers(0, 2 * 86_400_000, size=n)).astype("timedelta64[ms]")
    return pl.DataFrame(
        {
            "ts": pl.Series(ts).dt.replace_time_zone("UTC"),
            "request_id": pl.Series(rng.integers(0, 2**62, size=n)).cast(pl.String),
            "service": rng.choice([f"svc-{i}" for i in range(40)], size=n),
            "route": rng.choice([f"/api/v1/r{i}" for i in range(200)], size=n),
            "method": rng.choice(["GET", "POST", "PUT", "DELETE"], size=n),
            "status": rng.choice([200, 201, 204, 400, 404, 500, 503], size=n),
            "duration_ms": np.round(rng.lognormal(4, 1, size=n), 3),
            "bytes": rng.integers(0, 1_000_000, size=n),
            "region": rng.choice(["us-east-1", "eu-west-1", "ap-south-1"], size=n),
            "az": rng.choice(list("abcdef"), size=n),
            "version": rng.choice(["1.4.0", "1.4.1", "1.5.0"], size=n),
            "customer": pl.Series(rng.integers(0, 50_000, size=n)).cast(pl.String),
            "plan": rng.choice(["free", "team", "enterprise"], size=n),
            "cache_hit": rng.random(n) < 0.7,
            "retries": rng.integers(0, 4, size=n),
            "cpu_ms": np.round(rng.gamma(2, 20, size=n), 2),
            "user_agent": rng.choice([f"client/{i}.0" for i in range(30)], size=n),
            "k8s_pod": rng.choice([f"pod-{i}" for i in range(500)], size=n),
            "sample_rate": rng.choice([1, 10, 100], size=n),
        }
    )


def write_files(rows: int, formats: list[str]) -> dict[str, Path]:
    """Write (once) the events as NDJSON (with a nested http object) and CSV."""
    DATA.mkdir(parents=True, exist_ok=True)
    paths = {f: DATA / f"read_{rows}.{f}" for f in formats}
    missing = [f for f, p in paths.items() if not p.exists()]
    if not missing:
        return paths
    frame = make_events(rows)
    for fmt in missing:
        path = paths[fmt]
        tmp = path.with_suffix(path.suffix + ".tmp")
        t0 = time.perf_counter()
        if fmt == "ndjson":
            frame.with_columns(
                http=pl.struct(method="method", route="route", status="status")
            ).drop("method", "route", "status").write_ndjson(tmp)
        elif fmt == "csv":
            frame.write_csv(tmp)
        elif fmt in ("ndjson.gz", "csv.gz"):
            plain = paths.get(fmt[:-3]) or DATA / f"read_{rows}.{fmt[:-3]}"
            if not plain.exists():
                write_files(rows, [fmt[:-3]])
            with plain.open("rb") as src, gzip.open(tmp, "wb", compresslevel=6) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(tmp, path)
        print(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB) in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return paths


def _child(reader: str, fmt: str, path: str) -> None:
    """Run one read in this process and print seconds, rows, columns and peak RSS as JSON."""
    from bubbleup.pipeline.load import load  # imported before the clock starts, for both readers

    t0 = time.perf_counter()
    if reader == "polars":
        frame = pl.read_ndjson(path) if fmt.startswith("ndjson") else pl.read_csv(path)
    elif reader == "polars_dates":
        frame = pl.read_csv(path, try_parse_dates=True)
    else:
        frame = load(path).frame.collect()
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB on Linux
    print(json.dumps({"seconds": seconds, "rows": frame.height, "columns": frame.width,
                      "peak_mib": peak}))


def _run(reader: str, fmt: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", reader, fmt, str(path)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout)


def measure(fmt: str, path: Path, repeat: int) -> dict[str, dict[str, float]]:
    """Best time and largest peak memory of each reader; runs alternate between readers so
    that a busy machine slows both alike."""
    runs: dict[str, list[dict[str, float]]] = {"polars": [], "bubbleup": []}
    if fmt.startswith("csv"):
        runs["polars_dates"] = []
    for _ in range(repeat):
        for reader, done in runs.items():
            done.append(_run(reader, fmt, path))
    out = {}
    for reader, done in runs.items():
        best = dict(min(done, key=lambda r: r["seconds"]))
        best["peak_mib"] = max(r["peak_mib"] for r in done)
        best["all"] = [round(r["seconds"], 2) for r in done]  # type: ignore[assignment]
        out[reader] = best
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--formats", default="ndjson,csv",
                        help="comma-separated: ndjson, csv, ndjson.gz, csv.gz")
    parser.add_argument("--child", nargs=3, metavar=("READER", "FORMAT", "PATH"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    paths = write_files(args.rows, formats)
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"| format | rows | file | reader | seconds (best of {args.repeat}) | vs polars "
          "| peak RSS | every run (s) |")
    print("|---|---:|---:|---|---:|---:|---:|---|")
    for fmt in formats:
        path = paths[fmt]
        size = f"{path.stat().st_size / 1e9:.2f} GB"
        res = measure(fmt, path, args.repeat)
        base = res["polars"]
        assert all(r["rows"] == args.rows for r in res.values()), res
        for name, r in res.items():
            print(f"| {fmt} | {args.rows:,} | {size} | {name} | {r['seconds']:.2f} | "
                  f"{r['seconds'] / base['seconds']:.2f}x | {r['peak_mib'] / 1024:.2f} GiB | "
                  f"{', '.join(map(str, r['all']))} |", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
