"""Benchmark bubbleup.analyze against hand-written DuckDB and polars baselines.

Example::

    python bench/bench_core.py bench/data/events_10m_50.parquet --repeat 1

Each measurement runs in a fresh Python subprocess (``--child``), so that its
peak RSS is its own: the child's ``ru_maxrss`` (getrusage RUSAGE_SELF) read at
the end of the timed section, i.e. the process's peak up to then, including
the interpreter and imports. (The parent also gets the whole child's peak via
``os.wait4``, which additionally covers the untimed result checks.) Wall and
CPU seconds are measured inside the child around the work only (not
interpreter start-up or imports). The file is read once before the runs so
that the OS page cache is warm for every method.

Methods:

* ``bubbleup``: ``bubbleup.analyze(path, where="outcome = 'error'")``, its modules imported
  before timing.
* ``duckdb``: one ``GROUP BY`` per attribute column with conditional sums of
  ``sample_rate``, all ``UNION ALL``'d into one query, fetched as Arrow.
* ``duckdb_gsets``: the same counts as one ``GROUP BY GROUPING SETS ((a), (b), ...)``
  (one column per attribute, null outside its set); the best of ``duckdb`` and this one
  is DuckDB's best hand-written count.
* ``polars_scan``: streaming scan of the same columns with a trivial
  reduction (``null_count``): roughly the cost of reading the data.
* ``polars_groupby``: the polars equivalent of ``duckdb`` (one ``group_by``
  per column, ``pl.collect_all(..., engine="streaming")``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

METHODS = ["bubbleup", "duckdb", "duckdb_gsets", "polars_scan", "polars_groupby"]
#: the default methods: bubbleup and its three anchors (see the ratios printed at the end)
DEFAULT_METHODS = ["bubbleup", "polars_scan", "duckdb", "duckdb_gsets"]
WHERE = "outcome = 'error'"
OUTCOME = "outcome"
WEIGHT = "sample_rate"
RESULT_PREFIX = "BENCH_RESULT "


# --------------------------------------------------------------------------
# Child side: one measurement.
# --------------------------------------------------------------------------


def attribute_columns(path: str) -> list[str]:
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    return [c for c in names if c not in (OUTCOME, WEIGHT)]


def _sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


#: the weighted counts of both sides, as a hand-written count would sum them
SIDES_SQL = (
    f"sum(CASE WHEN {OUTCOME} = 'error' THEN {WEIGHT} ELSE 0 END) AS sel, "
    f"sum(CASE WHEN {OUTCOME} = 'error' THEN 0 ELSE {WEIGHT} END) AS base"
)


def duckdb_query(path: str, columns: list[str]) -> str:
    src = f"read_parquet({_sql_str(path)})"
    parts = [
        f"SELECT {_sql_str(c)} AS attribute, CAST({_sql_ident(c)} AS VARCHAR) AS value, "
        f"{SIDES_SQL} FROM {src} GROUP BY {_sql_ident(c)}"
        for c in columns
    ]
    return "\nUNION ALL\n".join(parts)


def duckdb_grouping_sets_query(path: str, columns: list[str]) -> str:
    src = f"read_parquet({_sql_str(path)})"
    cols = ", ".join(_sql_ident(c) for c in columns)
    sets = ", ".join(f"({_sql_ident(c)})" for c in columns)
    return f"SELECT {cols}, {SIDES_SQL} FROM {src} GROUP BY GROUPING SETS ({sets})"


class Timed:
    """Wall and CPU seconds, and the peak RSS so far, around the timed section."""

    def __init__(self) -> None:
        self.wall_s = float("nan")
        self.cpu_s = float("nan")
        self.peak_rss_mb = float("nan")

    def __enter__(self) -> Timed:
        self._ru0 = resource.getrusage(resource.RUSAGE_SELF)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._t0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        ru0 = self._ru0
        self.cpu_s = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        self.peak_rss_mb = ru1.ru_maxrss / 1024  # KiB on Linux


# The baselines' outputs are raw counts; to show that they contain the planted
# cause, rank (attribute, value) rows by selection share minus baseline share.
# This runs after the timed section (and after the peak RSS is recorded).
SHARE_DIFF_SQL = """
WITH tot AS (SELECT attribute, sum(sel) AS s, sum(base) AS b FROM res GROUP BY attribute)
SELECT res.attribute, res.value, res.sel / tot.s - res.base / tot.b AS d
FROM res JOIN tot USING (attribute) ORDER BY d DESC LIMIT 3
"""


def run_bubbleup(path: str) -> tuple[Timed, dict[str, Any]]:
    import importlib

    import bubbleup

    # imports before timing, as for the other methods: bubbleup loads its pipeline (polars,
    # pyarrow, numpy, scipy.special) on the first analysis; the CLI's whole process, imports
    # included, is timed by bench_pair.py in bench/README.md
    for module in ("pipeline.analyze", "engines", "engines.parquet", "pipeline.explain"):
        importlib.import_module(f"bubbleup.{module}")
    with Timed() as t:
        r = bubbleup.analyze(path, where=WHERE)
    ex = r.explanations
    info: dict[str, Any] = {
        "result_rows": ex.height,
        "explanation_columns": ex.columns,
    }
    # One line per top-3 explanation: the first column's value, then the label
    # (or items) and the headline statistics when present.
    lines: list[str] = []
    for row in ex.head(3).iter_rows(named=True):
        first = ex.columns[0]
        parts = [f"{first}={row[first]}"]
        for col in ("label", "items"):
            if col in row and col != first:
                parts.append(str(row[col]))
                break
        for col in ("selection_share", "baseline_share", "lift", "q_value"):
            if col in row and isinstance(row[col], int | float):
                parts.append(f"{col}={row[col]:.4g}")
        lines.append(" | ".join(parts))
    info["top3"] = lines
    with contextlib.suppress(TypeError, AttributeError):
        info["attributes_rows"] = len(r.attributes)
    return t, info


def _run_duckdb_query(
    path: str, query_of: Callable[[str, list[str]], str]
) -> tuple[Timed, Any, dict[str, Any]]:
    """Time DuckDB's answer to ``query_of(path, attribute columns)``: the timing, the
    connection (holding the answer as ``res``) and the run's facts."""
    import duckdb

    query = query_of(path, attribute_columns(path))
    con = duckdb.connect()
    with Timed() as t:
        res = con.sql(query).to_arrow_table()
    con.register("res", res)
    info: dict[str, Any] = {
        "result_rows": res.num_rows,
        "threads": con.sql("SELECT current_setting('threads')").fetchall()[0][0],
    }
    return t, con, info


def run_duckdb(path: str) -> tuple[Timed, dict[str, Any]]:
    t, con, info = _run_duckdb_query(path, duckdb_query)
    top = con.sql(SHARE_DIFF_SQL).fetchall()
    return t, {**info, "top_by_share_diff": [f"{a}={v} (+{d:.3f})" for a, v, d in top]}


def run_duckdb_gsets(path: str) -> tuple[Timed, dict[str, Any]]:
    t, _, info = _run_duckdb_query(path, duckdb_grouping_sets_query)
    return t, info


def run_polars_scan(path: str) -> tuple[Timed, dict[str, Any]]:
    import polars as pl

    columns = [*attribute_columns(path), OUTCOME, WEIGHT]
    with Timed() as t:
        out = (
            pl.scan_parquet(path)
            .select(columns)
            .select(pl.all().null_count())
            .collect(engine="streaming")
        )
    return t, {"result_rows": out.height, "total_nulls": int(out.sum_horizontal()[0])}


def run_polars_groupby(path: str) -> tuple[Timed, dict[str, Any]]:
    import polars as pl

    columns = attribute_columns(path)
    is_sel = pl.col(OUTCOME) == "error"
    w = pl.col(WEIGHT)
    with Timed() as t:
        lf = pl.scan_parquet(path)
        frames = [
            lf.group_by(c)
            .agg(
                sel=pl.when(is_sel).then(w).otherwise(0).sum(),
                base=pl.when(is_sel).then(0).otherwise(w).sum(),
            )
            .select(
                pl.lit(c).alias("attribute"),
                pl.col(c).cast(pl.String).alias("value"),
                "sel",
                "base",
            )
            for c in columns
        ]
        res = pl.concat(pl.collect_all(frames, engine="streaming"))
    top = pl.SQLContext(res=res).execute(SHARE_DIFF_SQL, eager=True).rows()
    info: dict[str, Any] = {
        "result_rows": res.height,
        "top_by_share_diff": [f"{a}={v} (+{d:.3f})" for a, v, d in top],
    }
    return t, info


RUNNERS = {
    "bubbleup": run_bubbleup,
    "duckdb": run_duckdb,
    "duckdb_gsets": run_duckdb_gsets,
    "polars_scan": run_polars_scan,
    "polars_groupby": run_polars_groupby,
}


def _rss_mb_now() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child_main(method: str, path: str) -> int:
    # Import the method's libraries before timing, so that the measurement is
    # the work only; record RSS after imports for reference.
    if method == "bubbleup":
        import bubbleup
        import bubbleup.pipeline.score  # noqa: F401  (scipy.stats: imported on first use)
    elif method.startswith("duckdb"):
        import duckdb  # noqa: F401
        import pyarrow  # noqa: F401
    else:
        import polars  # noqa: F401
    rss_import = _rss_mb_now()
    t, info = RUNNERS[method](path)
    out = {
        "method": method,
        "wall_s": t.wall_s,
        "cpu_s": t.cpu_s,
        "peak_rss_mb": t.peak_rss_mb,
        "rss_after_import_mb": rss_import,
        "info": info,
    }
    sys.stdout.flush()
    print(RESULT_PREFIX + json.dumps(out, default=str), flush=True)
    return 0


# --------------------------------------------------------------------------
# Parent side: orchestrate, measure peak RSS per child, report.
# --------------------------------------------------------------------------


@dataclass
class Measurement:
    method: str
    ok: bool
    wall_s: float = float("nan")
    cpu_s: float = float("nan")
    peak_rss_mb: float = float("nan")  # at the end of the timed section
    process_peak_rss_mb: float = float("nan")  # whole child (os.wait4)
    rss_after_import_mb: float = float("nan")
    info: dict[str, Any] | None = None
    error: str = ""


def _rss_mb_of(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_child(method: str, path: str, timeout: float, max_rss_mb: float) -> Measurement:
    """Run one measurement in a fresh interpreter.

    A watchdog kills the child after ``timeout`` seconds or if its RSS exceeds
    ``max_rss_mb`` (the machine is shared; better a failed run than the OOM
    killer picking someone else's process).
    """
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", method, path]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    done = threading.Event()
    killed_because: list[str] = []

    def _watchdog() -> None:
        deadline = time.monotonic() + timeout
        while not done.wait(0.1):
            if time.monotonic() > deadline:
                killed_because.append(f"timeout after {timeout:g}s")
            elif (rss := _rss_mb_of(proc.pid)) > max_rss_mb:
                killed_because.append(
                    f"killed at RSS {rss:,.0f} MB > {max_rss_mb:,.0f} MB "
                    f"after {time.perf_counter() - started:.0f}s"
                )
            else:
                continue
            proc.kill()  # the child is not reaped before done is set: pid is ours
            return

    watchdog = threading.Thread(target=_watchdog, daemon=True)
    watchdog.start()
    try:
        assert proc.stdout is not None
        stdout = proc.stdout.read()  # stderr is inherited, so no deadlock
    finally:
        done.set()
        watchdog.join()
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak = rusage.ru_maxrss / 1024  # KiB on Linux
    result = None
    for line in stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
        elif line.strip():
            print(f"    [{method}] {line}")
    if result is None:
        why = killed_because[0] if killed_because else f"exit code {proc.returncode}"
        return Measurement(method, ok=False, process_peak_rss_mb=peak, error=why)
    return Measurement(
        method,
        ok=True,
        wall_s=result["wall_s"],
        cpu_s=result["cpu_s"],
        peak_rss_mb=result["peak_rss_mb"],
        process_peak_rss_mb=peak,
        rss_after_import_mb=result["rss_after_import_mb"],
        info=result["info"],
    )


def warm_page_cache(path: str) -> float:
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.read(16 << 20):
            pass
    return time.perf_counter() - t0


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def bubbleup_source_digest() -> str:
    """Short hash of the bubbleup package's .py files (the code is in flux)."""
    import hashlib
    from importlib.util import find_spec

    try:
        spec = find_spec("bubbleup")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return "not found"
    root = Path(next(iter(spec.submodule_search_locations)))
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def machine_info() -> dict[str, str]:
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "polars": _version("polars"),
        "duckdb": _version("duckdb"),
        "pyarrow": _version("pyarrow"),
        "bubbleup": _version("bubbleup"),
        "bubbleup_src_sha256": bubbleup_source_digest(),
        "POLARS_MAX_THREADS": os.environ.get("POLARS_MAX_THREADS", "(default)"),
        "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def file_info(path: str) -> tuple[int, int, int, float]:
    import pyarrow.parquet as pq

    md = pq.ParquetFile(path).metadata
    n_attr = len([c for c in md.schema.names if c not in (OUTCOME, WEIGHT)])
    return md.num_rows, n_attr, md.num_row_groups, os.path.getsize(path) / 1e6


def _fmt(x: float, spec: str) -> str:
    return "n/a" if x != x else format(x, spec)  # NaN check


def summarize(method: str, runs: list[Measurement]) -> tuple[Measurement, float]:
    """Best wall among successful runs (and the median), max peak RSS."""
    ok = [m for m in runs if m.ok]
    if not ok:
        return runs[-1], float("nan")
    best = min(ok, key=lambda m: m.wall_s)
    best.peak_rss_mb = max(m.peak_rss_mb for m in ok)
    best.process_peak_rss_mb = max(m.process_peak_rss_mb for m in ok)
    return best, statistics.median(m.wall_s for m in ok)


def targets(results: dict[str, tuple[Measurement, float]], rows: int, n_attr: int) -> str:
    """The two ratios issue 15 sets: bubbleup against the bare scan (at most 4x) and
    against DuckDB's best hand-written count (at most 0.3x), on median walls."""
    med = {k: v[1] for k, v in results.items() if v[0].ok}
    lines = [f"targets at {rows:,} x {n_attr} (median wall s):"]
    bub = med.get("bubbleup", float("nan"))
    scan = med.get("polars_scan", float("nan"))
    duck = [med[k] for k in ("duckdb", "duckdb_gsets") if k in med]
    best = min(duck) if duck else float("nan")
    lines.append(
        f"  bubbleup {_fmt(bub, '.2f')} / polars_scan {_fmt(scan, '.2f')} = "
        f"{_fmt(bub / scan, '.2f')}x (target <= 4)"
    )
    lines.append(
        f"  bubbleup {_fmt(bub, '.2f')} / duckdb best {_fmt(best, '.2f')} = "
        f"{_fmt(bub / best, '.2f')}x (target <= 0.3)"
    )
    cpu = {k: v[0].cpu_s for k, v in results.items() if v[0].ok}
    duck_cpu = [cpu[k] for k in ("duckdb", "duckdb_gsets") if k in cpu]
    b_cpu, s_cpu = cpu.get("bubbleup", float("nan")), cpu.get("polars_scan", float("nan"))
    d_cpu = min(duck_cpu) if duck_cpu else float("nan")
    lines.append(
        f"  cpu s of the best runs (steadier when the machine is shared): bubbleup "
        f"{_fmt(b_cpu, '.1f')}, polars_scan {_fmt(s_cpu, '.1f')} ({_fmt(b_cpu / s_cpu, '.2f')}x), "
        f"duckdb best {_fmt(d_cpu, '.1f')} ({_fmt(b_cpu / d_cpu, '.2f')}x)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path", nargs="?")
    ap.add_argument("--repeat", type=int, default=1, help="runs per method (best is reported)")
    ap.add_argument(
        "--methods",
        default=",".join(DEFAULT_METHODS),
        help=f"comma-separated subset of {METHODS}",
    )
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    ap.add_argument(
        "--max-rss-gb",
        type=float,
        default=16.0,
        help="kill a run whose RSS exceeds this (GB, default 16)",
    )
    ap.add_argument("--json", type=Path, default=None, help="also write results as JSON here")
    ap.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.path is None:
        ap.error("path is required")
    path = str(Path(args.path).resolve())
    if args.child:
        return child_main(args.child, path)

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad:
        ap.error(f"unknown methods {bad}")

    info = machine_info()
    rows, n_attr, n_rg, size_mb = file_info(path)
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    print(
        f"file: {args.path}: {rows:,} rows x {n_attr} attribute columns "
        f"(+{OUTCOME}, {WEIGHT}), {n_rg} row groups, {size_mb:,.0f} MB"
    )
    print(f"warm page cache: read file in {warm_page_cache(path):.1f}s")

    # rounds of every method in turn, so that a change of load hits all methods alike
    all_runs: dict[str, list[Measurement]] = {method: [] for method in methods}
    for i in range(args.repeat):
        for method in methods:
            print(f"  running {method} ({i + 1}/{args.repeat}) ...", flush=True)
            m = run_child(method, path, args.timeout, args.max_rss_gb * 1024)
            status = (
                f"{m.wall_s:.2f}s wall, {m.cpu_s:.1f}s cpu, peak RSS {m.peak_rss_mb:,.0f} MB "
                f"(whole child incl. untimed checks {m.process_peak_rss_mb:,.0f} MB)"
                if m.ok
                else f"FAILED ({m.error})"
            )
            print(f"    -> {status}", flush=True)
            all_runs[method].append(m)
    results = {method: summarize(method, runs) for method, runs in all_runs.items()}

    ref = results.get("bubbleup")
    ref_wall = ref[0].wall_s if ref and ref[0].ok else float("nan")
    ref_rss = ref[0].peak_rss_mb if ref and ref[0].ok else float("nan")

    print()
    header = (
        "| method | wall s (best) | wall s (median) | cpu s | rows/s | peak RSS MB "
        "| RSS after imports MB | wall / bubbleup | RSS / bubbleup |"
    )
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    for method, (m, med) in results.items():
        if not m.ok:
            rss = _fmt(m.process_peak_rss_mb, ",.0f")
            print(f"| {method} | FAILED ({m.error}) | | | | {rss} | | | |")
            continue
        rps = rows / m.wall_s if m.wall_s > 0 else float("nan")
        print(
            f"| {method} | {m.wall_s:.2f} | {med:.2f} | {m.cpu_s:.1f} | {_fmt(rps, ',.0f')} "
            f"| {m.peak_rss_mb:,.0f} | {m.rss_after_import_mb:,.0f} "
            f"| {_fmt(m.wall_s / ref_wall, '.2f')} | {_fmt(m.peak_rss_mb / ref_rss, '.2f')} |"
        )
    print()
    for method, (m, _) in results.items():
        if not m.ok or not m.info:
            continue
        if method == "bubbleup":
            print("bubbleup top 3 explanations:")
            for line in m.info.get("top3", []):
                print(f"    {line}")
            print(
                f"  {m.info.get('result_rows')} explanations; "
                f"columns {m.info.get('explanation_columns')}"
            )
        elif "top_by_share_diff" in m.info:
            print(
                f"{method}: {m.info['result_rows']:,} result rows; top by share difference "
                f"(checked after timing): {m.info['top_by_share_diff']}"
            )
        else:
            print(f"{method}: {m.info}")
    if ref is None or not ref[0].ok:
        print("\nbubbleup: not measured (see above); ratios are n/a.")
    else:
        print()
        print(targets(results, rows, n_attr))
    print("\nnote: figures are approximate (2-core machine shared with other work).")

    if args.json:
        payload = {
            "machine": info,
            "file": {
                "path": args.path,
                "rows": rows,
                "attribute_columns": n_attr,
                "row_groups": n_rg,
                "size_mb": size_mb,
            },
            "results": {k: {**vars(m), "wall_s_median": med} for k, (m, med) in results.items()},
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
