"""Text formats at scale: bubbleup on NDJSON, NDJSON.gz, CSV and OTLP JSON against Parquet.

For ``--rows`` events x ``--cols`` attributes (the events of ``gen_scale.py``) it writes, once
(bench/data/, kept between runs), a Parquet file and the same events as NDJSON, NDJSON.gz,
CSV and (``--otlp``) OTLP JSON spans (100 spans per export request, every attribute a span
attribute). Then each of these runs in a fresh process, so that its peak memory is its own:

- ``bubbleup analyze FILE --where "outcome = 'error'" --format json``, first with an empty
  text cache (``cold``: the file is converted in a streaming pass, then analysed) and again
  (``warm``: the cached copy is reused);
- the same on the Parquet file (the anchor for ``warm``);
- polars' own streaming read of every column of the file
  (``scan_*(path).select(pl.all().null_count())``, the anchor for ``cold`` with Parquet:
  ``cold / (parquet + polars)``). For OTLP JSON that read is
  ``pl.scan_ndjson(path).select(pl.all().null_count())`` on the OTLP file itself (one
  nested ``resourceSpans`` column, parsed whole by polars' streaming engine), and the row
  gives a second anchor beside it: polars' read of the same events as NDJSON (the NDJSON
  file is written for it); below the table, spans per second and the cold time as a
  multiple of the NDJSON file's (when ``ndjson`` is measured in the same run);
- the CLI start: ``bubbleup --help`` and ``--version``.

Usage::

    python bench/bench_text.py --rows 1000000 --otlp
    python bench/bench_text.py --convert-otlp bench/data/text_1000000_40.otlp.json --lines 500
    python bench/bench_text.py --rows 10000000 --formats ndjson,ndjson.gz,csv

It prints one Markdown row per file: wall seconds, peak resident memory (MiB), events (or
spans) per second and the ratios, with the machine's 1-minute load average when the row's
runs ended (the machine is shared: wall times stretch with the load, CPU times much less).
Peak memory is given twice: the peak RSS (it counts the pages of a plain text file that
polars maps, page cache the kernel can take back) and the peak anonymous RSS (sampled every
0.1 s), the memory the process holds.
Delete bench/data/ when done: the files of 10M events take several GB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

import polars as pl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
WHERE = "outcome = 'error'"


def _anon(pid: int) -> int:
    """The process's anonymous resident memory in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _timed(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float, float]:
    """Wall seconds, CPU seconds (user + system), peak RSS and peak anonymous RSS (MiB) of
    one child process.

    Peak RSS counts the pages of files the process maps (polars maps a plain text file
    whole, so a 7 GB NDJSON shows up to 7 GB of such pages: page cache the kernel can take
    back); the anonymous peak (sampled every 0.1 s) is the memory the process itself holds.
    On a shared, loaded machine the CPU time is the steadier figure.
    """
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
        anon = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            anon = max(anon, _anon(proc.pid))
            time.sleep(0.1)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            sys.exit(f"failed: {' '.join(args)}\n{err.read().decode()[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024, anon / 1024


def _cat(*parts: str | pl.Expr) -> pl.Expr:
    """Text and expressions joined (null when an expression is null)."""
    return pl.concat_str([pl.lit(p) if isinstance(p, str) else p.cast(pl.String) for p in parts])


def _otlp(parquet: Path, out: Path, step: int = 500_000) -> None:
    """The events as OTLP JSON spans, 100 per export request line (vectorised in polars),
    ``step`` events at a time (the whole 10M-event file as text does not fit in memory)."""
    total = pl.scan_parquet(parquet).select(pl.len()).collect().item()
    with open(out, "w") as fh:
        for offset in range(0, total, step):
            _otlp_lines(parquet, fh, offset, step)


def _otlp_lines(parquet: Path, fh: TextIO, offset: int, length: int) -> None:
    frame = pl.scan_parquet(parquet)
    attrs = []
    for name, dtype in frame.collect_schema().items():
        col = pl.col(name)
        if dtype == pl.Boolean:
            value = _cat('{"boolValue":', col, "}")
        elif dtype.is_integer():
            value = _cat('{"intValue":"', col, '"}')
        elif dtype.is_float():
            value = _cat('{"doubleValue":', col, "}")
        else:
            value = _cat('{"stringValue":"', col, '"}')
        attrs.append(_cat(f'{{"key":"{name}","value":', value, "}"))
    start = 1_764_000_000_000_000_000
    i = pl.col("_i")
    span = _cat(
        '{"traceId":"', i.cast(pl.String).str.pad_start(32, "0"),
        '","spanId":"', i.cast(pl.String).str.pad_start(16, "0"),
        '","name":"work","kind":2,"startTimeUnixNano":"', i * 1_000_000 + start,
        '","endTimeUnixNano":"', i * 1_000_000 + start + 500_000,
        '","attributes":[', pl.concat_str(attrs, separator=",", ignore_nulls=True), "]}",
    )  # fmt: skip
    head = '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":'
    head += '{"stringValue":"bench"}}]},"scopeSpans":[{"scope":{"name":"bench"},"spans":['
    lines = (
        frame.slice(offset, length)
        .with_row_index("_i", offset=offset)
        .select(span.alias("span"), (i // 100).alias("_g"))
        .group_by("_g", maintain_order=True)
        .agg(pl.col("span").str.join(","))
        .select(_cat(head, pl.col("span"), "]}]}]}").alias("line"))
        .collect()
    )
    fh.write("\n".join(lines["line"].to_list()) + "\n")


def _files(rows: int, cols: int, formats: list[str]) -> dict[str, Path]:
    DATA.mkdir(exist_ok=True)
    stem = DATA / f"text_{rows}_{cols}"
    files = {"parquet": stem.with_suffix(".parquet")}
    if not files["parquet"].exists():
        subprocess.run(
            [sys.executable, str(HERE / "gen_scale.py"), "--rows", str(rows), "--cols",
             str(cols), "--output", str(files["parquet"])],
            check=True,
        )  # fmt: skip
    scan = pl.scan_parquet(files["parquet"])
    for fmt in formats:
        path = Path(f"{stem}.{fmt}" if fmt != "otlp" else f"{stem}.otlp.json")
        files[fmt] = path
        if path.exists():
            continue
        print(f"writing {path.name}", file=sys.stderr)
        if fmt == "ndjson":
            scan.sink_ndjson(path)
        elif fmt == "ndjson.gz":
            scan.sink_ndjson(path, compression="gzip", compression_level=1)
        elif fmt == "csv":
            scan.sink_csv(path)
        elif fmt == "otlp":
            _otlp(files["parquet"], path)
    return files


def _polars_read(path: Path, fmt: str) -> list[str]:
    reader = {"csv": "scan_csv", "parquet": "scan_parquet"}.get(fmt, "scan_ndjson")
    code = (
        f"import polars as pl; pl.{reader}({str(path)!r})"
        ".select(pl.all().null_count()).collect(engine='streaming')"
    )
    return [sys.executable, "-c", code]


def _convert_otlp(path: Path, lines: int | None) -> None:
    """The OTLP conversion alone (``otlp._convert``, in this process) on a file or on its
    first ``lines`` export requests: CPU seconds (user + system), wall, spans per second and
    the peak anonymous RSS (sampled every 50 ms)."""
    import resource
    import threading

    from bubbleup.io import otlp
    from bubbleup.io.paths import FileKind

    peak = 0

    def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, _anon(os.getpid()))
            time.sleep(0.05)

    with tempfile.TemporaryDirectory(prefix="bench-otlp-") as tmp:
        if lines is not None:
            with open(path, "rb") as src, open(Path(tmp) / "head.json", "wb") as dst:
                dst.writelines(line for _, line in zip(range(lines), src, strict=False))
            path = Path(tmp) / "head.json"
        threading.Thread(target=sample, daemon=True).start()
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        otlp._convert(FileKind(str(path), "otlp", None), Path(tmp) / "out.parquet",
                      skip_bad_lines=False)  # fmt: skip
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        spans = pl.scan_parquet(Path(tmp) / "out.parquet").select(pl.len()).collect().item()
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    print(f"{path.name if lines is None else f'first {lines:,} lines'}: {spans:,} spans, "
          f"{user + system:.2f} CPU s ({user:.2f} user + {system:.2f} system), {wall:.2f} s "
          f"wall, {spans / wall:,.0f} spans/s ({spans / (user + system):,.0f} per CPU s), "
          f"peak anonymous {peak / 1024:.0f} MiB, load {os.getloadavg()[0]:.1f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=lambda s: int(s.replace("_", "")))
    ap.add_argument("--cols", type=int, default=40)
    ap.add_argument("--formats", default="ndjson,ndjson.gz,csv")
    ap.add_argument("--otlp", action="store_true", help="also OTLP JSON spans")
    ap.add_argument("--convert-otlp", type=Path, help="only time the OTLP conversion of FILE")
    ap.add_argument("--lines", type=int, help="with --convert-otlp: its first LINES lines")
    args = ap.parse_args()
    if args.convert_otlp:
        _convert_otlp(args.convert_otlp, args.lines)
        return
    if args.rows is None:
        ap.error("--rows is required (unless --convert-otlp)")
    formats = [f for f in args.formats.split(",") if f] + (["otlp"] if args.otlp else [])
    # OTLP is anchored on its own file and on the same events as NDJSON: write both
    files = _files(args.rows, args.cols, [*formats, *(["ndjson"] if args.otlp else [])])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cli = [sys.executable, "-m", "bubbleup"]
    print(f"load before: {os.getloadavg()}")
    starts = {}
    for flag in ("--help", "--version"):
        runs = [_timed([*cli, flag], env) for _ in range(7)]
        starts[flag] = (sorted(r[0] for r in runs)[3], sorted(r[1] for r in runs)[3])
    print("CLI start (median of 7, wall and CPU): "
          + ", ".join(f"{k} {w:.3f} s ({c:.3f} s)" for k, (w, c) in starts.items()))  # fmt: skip
    analyze = [*cli, "analyze"]
    options = ["--where", WHERE, "--format", "json"]
    pq_wall, pq_cpu, pq_peak, pq_anon = _timed([*analyze, str(files["parquet"]), *options], env)
    print()
    print(f"events: {args.rows:,} x {args.cols} attributes; Parquet analyze {pq_wall:.1f} s "
          f"wall, {pq_cpu:.1f} s CPU, peak {pq_peak:.0f} MiB "
          f"({pq_anon:.0f} anonymous)")  # fmt: skip
    print()
    print("| format | size MB | cold s (CPU s) | cold peak MiB (anonymous) | warm s (CPU s) "
          "| warm peak MiB (anonymous) "
          "| polars read s (CPU s) | events/s (cold, wall; CPU) | cold / (parquet + polars), "
          "wall (CPU) | warm / parquet, wall (CPU) | load |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    reads: dict[str, tuple[float, float]] = {}
    colds: dict[str, tuple[float, float]] = {}
    for fmt in formats:
        path = files[fmt]
        with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache:
            cached = dict(env, BUBBLEUP_CACHE_DIR=cache)
            cold, cold_cpu, cold_peak, cold_anon = _timed([*analyze, str(path), *options], cached)
            warm, warm_cpu, warm_peak, warm_anon = _timed([*analyze, str(path), *options], cached)
        colds[fmt] = (cold, cold_cpu)
        read, read_cpu, _, _ = _timed(_polars_read(path, fmt))
        reads[fmt] = (read, read_cpu)
        polars = f"{read:.1f} ({read_cpu:.1f})"
        anchor = f"{cold / (pq_wall + read):.2f} ({cold_cpu / (pq_cpu + read_cpu):.2f})"
        if fmt == "otlp":  # also anchored on polars' read of the same events as NDJSON
            if "ndjson" not in reads:
                nd, nd_cpu, _, _ = _timed(_polars_read(files["ndjson"], "ndjson"))
                reads["ndjson"] = (nd, nd_cpu)
            nd, nd_cpu = reads["ndjson"]
            polars = f"own {polars}; NDJSON's {nd:.1f} ({nd_cpu:.1f})"
            anchor = (f"own {anchor}; NDJSON's {cold / (pq_wall + nd):.2f} "
                      f"({cold_cpu / (pq_cpu + nd_cpu):.2f})")  # fmt: skip
        size = path.stat().st_size / 1e6
        print(f"| {fmt} | {size:,.0f} | {cold:.1f} ({cold_cpu:.1f}) | {cold_peak:.0f} "
              f"({cold_anon:.0f}) | {warm:.1f} ({warm_cpu:.1f}) | {warm_peak:.0f} "
              f"({warm_anon:.0f}) | {polars} | "
              f"{args.rows / cold:,.0f}; {args.rows / cold_cpu:,.0f} | {anchor} | "
              f"{warm / pq_wall:.2f} ({warm_cpu / pq_cpu:.2f}) | "
              f"{os.getloadavg()[0]:.1f} |", flush=True)  # fmt: skip
    if "otlp" in colds and "ndjson" in colds:
        (o, o_cpu), (n, n_cpu) = colds["otlp"], colds["ndjson"]
        print(f"\nOTLP JSON, cold: {args.rows / o:,.0f} spans/s wall ({args.rows / o_cpu:,.0f} "
              f"per CPU s); the same events as NDJSON: {args.rows / n:,.0f} events/s wall "
              f"({args.rows / n_cpu:,.0f} per CPU s); OTLP / NDJSON {o / n:.2f} wall "
              f"({o_cpu / n_cpu:.2f} CPU)")  # fmt: skip
    print()
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
