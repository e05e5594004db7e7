"""Time and peak memory of ``bubbleup.analyze`` as rows and columns grow.

Each measurement runs in a fresh Python process, which reports its wall time, the time of
each stage (from the progress callback) and its peak resident memory (``ru_maxrss``, plus
the peak of the Spark JVM for ``--engine spark``). Data files are generated on first use
with ``bench/gen_scale.py`` into ``bench/data/`` (gitignored).

Examples::

    python bench/bench_scale.py rows                 # 1M, 10M, 100M rows x 40 columns
    python bench/bench_scale.py cols                 # 1M rows x 50, 100, 200, 400 columns
    python bench/bench_scale.py file bench/data/scale_100m_40.parquet
    python bench/bench_scale.py file bench/data/scale_10m_40.parquet --engine spark

Results are appended as JSON lines to ``bench/data/results.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
WHERE = "outcome = 'error'"


def data_file(rows: int, cols: int) -> Path:
    """The generated file for ``rows`` x ``cols``, made if missing."""
    label = f"{rows // 1_000_000}m" if rows >= 1_000_000 else f"{rows // 1000}k"
    path = DATA / f"scale_{label}_{cols}.parquet"
    if not path.exists():
        subprocess.run(
            [sys.executable, str(HERE / "gen_scale.py"), "--rows", str(rows), "--cols",
             str(cols), "--output", str(path)],
            check=True,
        )
    return path


def _tree_kib(root: int, field: str) -> int:
    """Sum of a /proc status field (VmRSS, VmHWM) over ``root``'s descendants, in KiB."""
    me = root
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0, list(children.get(me, []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def child(path: str, engine: str, where: str, max_order: int, master: str | None) -> None:
    """Run one analysis and print one JSON line with the figures."""
    import threading

    import polars as pl

    import bubbleup

    stages: dict[str, float] = {}
    stage_peaks: dict[str, int] = {}
    start = time.perf_counter()
    last: list[Any] = [start, "start"]
    current = ["start", 0]  # stage, peak RSS in KiB (sampled every 50 ms)

    def sample() -> None:
        page = os.sysconf("SC_PAGE_SIZE") // 1024
        while True:
            rss = int(Path("/proc/self/statm").read_text().split()[1]) * page
            current[1] = max(int(current[1]), rss)
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()

    def say(message: str) -> None:
        now = time.perf_counter()
        key = last[1].split(" ")[0] if last[1].startswith("counting") else last[1]
        if last[1].startswith("counting combinations"):
            key = "combinations"
        stages[key] = stages.get(key, 0.0) + now - last[0]
        stage_peaks[key] = max(stage_peaks.get(key, 0), int(current[1]) // 1024)
        current[1] = 0
        last[:] = [now, message]

    extra = {} if engine == "polars" else {"engine": engine, "spark_master": master}
    result = bubbleup.analyze(path, where=where, max_order=max_order, progress=say, **extra)
    say("end")
    seconds = time.perf_counter() - start
    rows = pl.scan_parquet(path).select(pl.len()).collect().item()
    cols = len(pl.read_parquet_schema(path)) - 2
    python_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    jvm_kib = _tree_kib(os.getpid(), "VmHWM") if engine == "spark" else 0
    print(json.dumps({
        "file": Path(path).name,
        "engine": engine if engine == "polars" else f"spark {master or 'local[*]'}",
        "rows": rows,
        "columns": cols,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "peak_rss_mib": round((python_kib + jvm_kib) / 1024),
        "jvm_peak_rss_mib": round(jvm_kib / 1024) if engine == "spark" else None,
        "stages": {k: round(v, 2) for k, v in stages.items() if v >= 0.005},
        "stage_peak_rss_mib": {k: v for k, v in stage_peaks.items() if stages.get(k, 0) >= 0.005},
        "top": result.explanations["label"][0],
        "load_average": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }), flush=True)


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(path: Path, *, engine: str = "polars", where: str = WHERE, max_order: int = 3,
            master: str | None = None, max_rss_gib: float = 12) -> dict[str, object]:
    """Run :func:`child` in a fresh process and return its figures."""
    args = [sys.executable, __file__, "--child", str(path), "--engine", engine, "--where",
            where, "--max-order", str(max_order)]
    if master:
        args += ["--spark-master", master]
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:  # a watchdog: never let a run take the machine down
        rss = _rss_kib(proc.pid) + _tree_kib(proc.pid, "VmRSS")
        peak = max(peak, rss)
        if rss > max_rss_gib * 2**20:
            proc.kill()
            proc.wait()
            print(f"{path.name}: killed above {max_rss_gib} GiB after "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
            return {"file": path.name, "killed_above_gib": max_rss_gib}
        time.sleep(0.2)
    stdout, stderr = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"failed: {' '.join(args)}\n{stderr}")
    figures: dict[str, object] = json.loads(stdout.strip().splitlines()[-1])
    figures["watchdog_peak_rss_mib"] = round(peak / 1024)
    figures["load_average_before"] = load
    figures["machine"] = f"{platform.machine()}, {os.cpu_count()} cpus"
    DATA.mkdir(exist_ok=True)
    with (DATA / "results.jsonl").open("a") as fh:
        fh.write(json.dumps(figures) + "\n")
    peaks = figures["stage_peak_rss_mib"]
    stages = ", ".join(
        f"{k} {v:.1f}s/{peaks.get(k, 0):,}MiB"  # type: ignore[attr-defined]
        for k, v in figures["stages"].items()  # type: ignore[attr-defined]
        if k != "loading"
    )
    print(f"{figures['file']:<28} {figures['engine']:<18} {figures['rows']:>12,} rows "
          f"{figures['columns']:>4} cols {figures['seconds']:>8.1f} s "
          f"{figures['rows_per_second']:>12,} rows/s {figures['peak_rss_mib']:>7,} MiB peak  "
          f"({stages}; load {load:.1f})", flush=True)
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", nargs="?", choices=["rows", "cols", "file"], default="rows")
    ap.add_argument("path", nargs="?")
    ap.add_argument("--child", metavar="PATH")
    ap.add_argument("--engine", default="polars", choices=["polars", "spark"])
    ap.add_argument("--spark-master")
    ap.add_argument("--where", default=WHERE)
    ap.add_argument("--max-order", type=int, default=3)
    ap.add_argument("--rows", default="1_000_000,10_000_000,100_000_000")
    ap.add_argument("--cols", default="50,100,200,400")
    ap.add_argument("--max-rss-gib", type=float, default=12,
                    help="kill a run whose memory goes above this (default 12)")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.engine, args.where, args.max_order, args.spark_master)
        return
    options = {"engine": args.engine, "where": args.where, "max_order": args.max_order,
               "master": args.spark_master, "max_rss_gib": args.max_rss_gib}
    if args.what == "file":
        measure(Path(args.path), **options)  # type: ignore[arg-type]
    elif args.what == "rows":
        for rows in (int(r.replace("_", "")) for r in args.rows.split(",")):
            measure(data_file(rows, 40), **options)  # type: ignore[arg-type]
    else:
        for cols in (int(c) for c in args.cols.split(",")):
            measure(data_file(1_000_000, cols), **options)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
