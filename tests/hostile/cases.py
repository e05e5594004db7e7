"""A catalogue of hostile inputs: each is a command line, the exit code and the one error line.

Every case runs ``bubbleup`` (in-process, or as a real process when it needs a real stdout)
and checks that it ends as expected: the exit code, and for a failure exactly one line
``Error: ...`` on stderr that equals ``error`` (or matches the regex ``pattern``), and never
a traceback. ``{d}`` in a case stands for the folder that :func:`make_files` filled.

To add a case, append one line to :data:`CASES`; files it needs go in :func:`make_files`
(or in a ``setup`` function that gets the folder)::

    Case("unknown column", ("analyze", E, "-w", "stauts = 'error'"), 1,
         "column 'stauts' in --where not found; did you mean 'status'?"),
"""

from __future__ import annotations

import bz2
import gzip
import json
import math
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl


@dataclass(frozen=True)
class Case:
    """One hostile input and how bubbleup must answer it."""

    #: a short name (the test id)
    name: str
    #: the command line after ``bubbleup``; ``{d}`` is the folder of :func:`make_files`
    argv: tuple[str, ...]
    #: the exit code: 0 done, 1 bad data or predicate, 2 bad usage, 130 interrupted
    code: int
    #: the whole error line after ``Error: `` (``{d}`` replaced), if exact
    error: str | None = None
    #: else a regex the whole line after ``Error: `` must match (``{d}`` replaced, escaped)
    pattern: str | None = None
    #: run as a real process with stdout sent to this file (``{d}/full``, a full device)
    stdout: str | None = None
    #: a usage error found by the option parser: "Usage:" lines come before the error line
    usage: bool = False
    #: makes files this case needs in the folder (besides those of make_files)
    setup: Callable[[Path], None] | None = field(default=None, compare=False)


E = "{d}/events.parquet"
SEL = "status = 'error'"
A = ("analyze", E, "-w", SEL, "-q")  # a good analysis, to add one bad option to
R = ("rows", E, "-w", SEL, "-q")
NO_FILES = "(.parquet, .csv, .ndjson, .arrow; CSV and NDJSON may end in .gz or .zst)"
NOT_FOUND_SPARK = "check --spark-master and that the master is running"
STDOUT_FULL = "cannot write to stdout: No space left on device"


def _events() -> pl.DataFrame:
    n = 60
    return pl.DataFrame(
        {
            "status": [("error" if i % 3 == 0 else "ok") if i % 11 else None for i in range(n)],
            "duration_ms": [10 + (i * 37) % 500 for i in range(n)],
            "region": [["us", "eu", "ap"][(i * 7) % 3] for i in range(n)],
            "http.route": [["/a", "/b"][i % 2] for i in range(n)],
            "weight_text": [str(i) for i in range(n)],
            "neg": [-1 if i == 5 else 1 for i in range(n)],
            "w_inf": [math.inf if i == 7 else 1.0 for i in range(n)],
            "w_nan": [math.nan if i == 7 else 1.0 for i in range(n)],
            "w_big": [1e308] * n,
            "all_null": pl.Series([None] * n, dtype=pl.String),
            "when": pl.datetime_range(
                pl.datetime(2026, 11, 20), pl.datetime(2026, 11, 20, 0, 59), "1m", eager=True
            ),
        }
    )


def device(path: Path, minor: int) -> None:
    """A character device of the memory driver (1, minor: 3 null, 7 full) at ``path``: a
    node of its own when we may create one (root), else a symbolic link to /dev's. Outputs
    written there never put /dev at risk; bubbleup follows the link to the same device."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    except PermissionError:
        path.symlink_to({3: "/dev/null", 7: "/dev/full"}[minor])


def make_files(d: Path) -> None:
    """Write every file the cases read into ``d``."""
    events = _events()
    events.write_parquet(d / "events.parquet")
    raw = (d / "events.parquet").read_bytes()
    (d / "corrupt.parquet").write_bytes(b"PAR1 this is not really parquet")
    (d / "truncated.parquet").write_bytes(raw[:-40])
    (d / "empty.parquet").write_bytes(b"")
    (d / "parquet-named.csv").write_bytes(raw)
    (d / "csv-named.parquet").write_text("a,b\n1,2\n")
    (d / "events.parquet.gz").write_bytes(gzip.compress(raw))
    (d / "plain-named.csv.gz").write_text("a,b\n1,2\n")
    (d / "events.csv.bz2").write_bytes(bz2.compress(b"a,b\n1,2\n"))
    (d / "notes.txt").write_text("hello\n")
    (d / "text-named.ndjson").write_text("status,region\nok,us\n")
    (d / "bad-line.ndjson").write_text('{"status": "ok"}\n{"status": \n{"status": "error"}\n')
    (d / "ev[1].parquet").write_bytes(raw)
    events.head(0).write_parquet(d / "zero-rows.parquet")
    pl.DataFrame(
        {
            "status": ["ok", "error", "ok", "ok", "error", "ok"] * 50,
            "region": ["us", "eu", "us", "eu", "eu", "us"] * 50,
            "": ["a", "b", "a", "b", "b", "a"] * 50,
        }
    ).write_parquet(d / "blank-name.parquet")
    (d / "empty-dir").mkdir()
    (d / "dir.parquet").mkdir()  # a directory with a file's name
    for name in ("indir", "globbed", "rowsdir"):
        (d / name).mkdir()
        shutil.copy(d / "events.parquet", d / name / "a.parquet")
    device(d / "full", 7)
    device(d / "null", 3)
    readonly = d / "readonly.json"
    readonly.write_text("keep me\n")
    readonly.chmod(0o444)


def more_files(d: Path) -> None:
    """Files of the reader cases: NDJSON nested 5,000 deep, an OTLP intValue beyond 64
    bits, a gzip stream cut in half, a CSV row with a field too many."""
    (d / "deep.ndjson").write_text('{"a":' * 5000 + "1" + "}" * 5000 + "\n")
    span = {
        "traceId": "0" * 32, "spanId": "0" * 16, "name": "x", "startTimeUnixNano": "1",
        "endTimeUnixNano": "2",
        "attributes": [{"key": "n", "value": {"intValue": "12345678901234567890123456"}}],
    }  # fmt: skip
    request = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span]}]}]}
    (d / "big-int.otlp.json").write_text(json.dumps(request) + "\n")
    data = gzip.compress(b'{"status": "ok"}\n' * 2000)
    (d / "truncated.ndjson.gz").write_bytes(data[: len(data) // 2])
    (d / "ragged.csv").write_text("status,region\nok,us\nerror,eu,extra\nok,us\n")


CASES: list[Case] = [
    # -- sources --------------------------------------------------------------------------
    Case("missing file", ("analyze", "{d}/nope.parquet", "-w", SEL), 1,
         "file not found: {d}/nope.parquet"),
    Case("missing file, columns", ("columns", "{d}/nope.parquet"), 1,
         "file not found: {d}/nope.parquet"),
    Case("missing file, rows", ("rows", "{d}/nope.parquet", "-w", SEL), 1,
         "file not found: {d}/nope.parquet"),
    Case("glob matching nothing", ("analyze", "{d}/*.nothing", "-w", SEL), 1,
         "no files match {d}/*.nothing; check the pattern (and quote it so that the shell "
         "does not expand it)"),
    Case("directory without event files", ("analyze", "{d}/empty-dir", "-w", SEL), 1,
         f"directory {{d}}/empty-dir has no event files {NO_FILES}"),
    Case("directory named .parquet", ("analyze", "{d}/dir.parquet", "-w", SEL), 1,
         f"directory {{d}}/dir.parquet has no event files {NO_FILES}"),
    Case("corrupt parquet", ("analyze", "{d}/corrupt.parquet", "-w", SEL), 1,
         pattern=r"could not read {d}/corrupt\.parquet: .+"),
    Case("truncated parquet", ("analyze", "{d}/truncated.parquet", "-w", SEL), 1,
         "could not read {d}/truncated.parquet: the Parquet footer is missing (truncated?); "
         "is it a valid, complete file?"),
    Case("empty file", ("analyze", "{d}/empty.parquet", "-w", SEL), 1,
         "could not read {d}/empty.parquet: the file is empty"),
    Case("zero rows", ("analyze", "{d}/zero-rows.parquet", "-w", SEL), 1,
         "no events to analyse: the source (or the --filter scope) has zero rows"),
    Case("parquet named .csv", ("analyze", "{d}/parquet-named.csv", "-w", SEL), 1,
         "could not read {d}/parquet-named.csv: the name says CSV but the file looks like a "
         "Parquet file; rename it to match its content"),
    Case("csv named .parquet", ("analyze", "{d}/csv-named.parquet", "-w", SEL), 1,
         "could not read {d}/csv-named.parquet: it is not a Parquet file; is it a valid, "
         "complete file?"),
    Case("gzipped parquet", ("analyze", "{d}/events.parquet.gz", "-w", SEL), 1,
         "{d}/events.parquet.gz: a compressed Parquet file is not read; decompress it "
         "(Parquet compresses its contents itself)"),
    Case("plain text named .gz", ("analyze", "{d}/plain-named.csv.gz", "-w", SEL), 1,
         "could not read {d}/plain-named.csv.gz: the name says gzip but the content is not "
         "gzip-compressed; rename the file to match its content"),
    Case("bzip2", ("analyze", "{d}/events.csv.bz2", "-w", SEL), 1,
         "unsupported compression bzip2 for {d}/events.csv.bz2; decompress it or recompress "
         "it with gzip (.gz) or zstd (.zst)"),
    Case("unknown extension", ("analyze", "{d}/notes.txt", "-w", SEL), 1,
         pattern=r"unknown file type '\.txt' for {d}/notes\.txt; use one of: .+"),
    Case("csv named .ndjson", ("analyze", "{d}/text-named.ndjson", "-w", SEL), 1,
         "could not read {d}/text-named.ndjson: the name says NDJSON but the file does not "
         "start with a JSON object (it starts with 'status,region'); rename it to match its "
         "content"),
    Case("malformed json line", ("analyze", "{d}/bad-line.ndjson", "-w", SEL), 1,
         "{d}/bad-line.ndjson line 2 is not valid NDJSON (Expecting value at column 12): "
         "'{\"status\": '; fix the line or pass --skip-bad-lines to skip such lines"),
    Case("brackets in a file name", ("analyze", "{d}/ev[1].parquet", "-w", SEL, "-q"), 0),
    Case("brackets in a file name, columns", ("columns", "{d}/ev[1].parquet"), 0),
    # -- predicates and columns -----------------------------------------------------------
    Case("unknown column", ("analyze", E, "-w", "stauts = 'error'"), 1,
         "column 'stauts' in --where not found; did you mean 'status'?"),
    Case("unknown column in --filter", (*A, "--filter", "regin = 'us'"), 1,
         "column 'regin' in --filter not found; did you mean 'region'?"),
    Case("unknown column in --baseline", (*A, "--baseline", "duraton_ms > 3"), 1,
         "column 'duraton_ms' in --baseline not found; did you mean 'duration_ms'?"),
    Case("unknown column in --columns", (*A, "--columns", "regoin"), 1,
         "column 'regoin' in --columns not found; did you mean 'region'?"),
    Case("dotted name unquoted", ("analyze", E, "-w", "http.route = '/a'"), 1,
         "column 'http' in --where not found; names with dots take double quotes in SQL: "
         '"http.route"'),
    Case("text in double quotes", ("analyze", E, "-w", 'status = "error"'), 1,
         "column 'error' in --where not found; text values take single quotes in SQL "
         "('oom', not \"oom\")"),
    Case("malformed predicate", ("analyze", E, "-w", "status = = 'error'"), 1,
         pattern=r"malformed --where predicate \"status = = 'error'\": .+; use SQL WHERE "
         r"syntax, e\.g\. \"exit_reason = 'oom' AND duration_ms > 5000\""),
    Case("blank predicate", ("analyze", E, "-w", "   "), 1,
         "--where is empty; give a SQL condition such as \"exit_reason = 'oom'\""),
    Case("predicate that is not true/false", ("analyze", E, "-w", "duration_ms"), 1,
         "--where predicate 'duration_ms' gives Int64 values, not true/false; write a "
         'comparison such as "duration_ms > 5000"'),
    Case("empty selection", ("analyze", E, "-w", "status = 'nope'"), 1,
         "the selection is empty: no event matches \"status = 'nope'\"; most common values "
         "of status: 'ok' 60.0%, 'error' 30.0%"),
    Case("selection is everything", ("analyze", E, "-w", "duration_ms >= 0"), 1,
         "the selection covers every event ('duration_ms >= 0'), so the baseline is empty; "
         "narrow --where or give --baseline"),
    Case("empty baseline", (*A, "--baseline", "region = 'nowhere'"), 1,
         "the baseline is empty: no unselected event matches \"region = 'nowhere'\"; "
         "widen --baseline"),
    Case("missing --where", ("analyze", E, "-q"), 2,
         "--where is required (unless --after gives the selection)"),
    Case("all-null column is left out", (*A, "-f", "json"), 0),
    Case("column named empty string", ("analyze", "{d}/blank-name.parquet", "-w",
                                       "\"\" = 'a'", "-q"), 0),
    Case("drill into the column named empty string",
         ("analyze", "{d}/blank-name.parquet", "-w", SEL, "-q", "--drill", "1"), 0),
    Case("drill into an explanation that does not exist", (*A, "--drill", "999"), 2,
         pattern=r"there is no explanation 999 to drill into; they are numbered 1 to \d+"),
    # -- weights --------------------------------------------------------------------------
    Case("weight column missing", (*A, "--weight", "wieght"), 1,
         "weight column 'wieght' not found"),
    Case("weight column is text", (*A, "--weight", "weight_text"), 1,
         "weight column 'weight_text' is String, not numeric; choose a numeric column or "
         "pass --no-weight"),
    Case("negative weight", (*A, "--weight", "neg"), 1,
         "weight column 'neg' has negative values (minimum -1); weights must be >= 0"),
    Case("infinite weight", (*A, "--weight", "w_inf"), 1,
         "weight column 'w_inf' has infinite values; weights must be finite numbers >= 0"),
    Case("infinite weight, json", (*A, "--weight", "w_inf", "-f", "json"), 1,
         "weight column 'w_inf' has infinite values; weights must be finite numbers >= 0"),
    Case("NaN weight", (*A, "--weight", "w_nan"), 1,
         "weight column 'w_nan' has NaN values; fix the data or pass --no-weight"),
    Case("weights of 1e308 (their sums overflow)", (*A, "--weight", "w_big", "-f", "json"), 0),
    Case("--weight with --no-weight", (*A, "--weight", "neg", "--no-weight"), 2,
         "--weight and --no-weight exclude each other; give one"),
    # -- options --------------------------------------------------------------------------
    Case("--min-lift nan", (*A, "--min-lift", "nan"), 2,
         "--min-lift must be a number >= 0, not nan"),
    Case("--min-lift nan, json", (*A, "--min-lift", "nan", "-f", "json"), 2,
         "--min-lift must be a number >= 0, not nan"),
    Case("--min-lift inf", (*A, "--min-lift", "inf"), 2,
         "--min-lift must be a number >= 0, not inf"),
    Case("--min-lift negative", (*A, "--min-lift", "-1"), 2,
         "--min-lift must be a number >= 0, not -1.0"),
    Case("--alpha nan", (*A, "--alpha", "nan"), 2,
         "--alpha must be between 0 and 1 (exclusive), not nan"),
    Case("--alpha inf", (*A, "--alpha", "inf"), 2,
         "--alpha must be between 0 and 1 (exclusive), not inf"),
    Case("--alpha 0", (*A, "--alpha", "0"), 2,
         "--alpha must be between 0 and 1 (exclusive), not 0.0"),
    Case("--min-share nan", (*A, "--min-share", "nan"), 2,
         "--min-share must be between 0 and 1, not nan"),
    Case("--min-share -inf", (*A, "--min-share", "-inf"), 2,
         "--min-share must be between 0 and 1, not -inf"),
    Case("--min-share 2", (*A, "--min-share", "2"), 2,
         "--min-share must be between 0 and 1, not 2.0"),
    Case("--top 10**30", (*A, "--top", str(10**30)), 2,
         f"--top must be at most 1,000,000,000 (0 shows every explanation), not {10**30}"),
    Case("--top -1", (*A, "--top", "-1"), 2, usage=True,
         pattern=r"Invalid value for '--top': .*greater than or equal to 0"),
    Case("--max-order 4", (*A, "--max-order", "4"), 2,
         "--max-order must be 1, 2 or 3 (items per explanation), not 4"),
    Case("--histograms with json", (*A, "--histograms", "-f", "json"), 2,
         "--histograms draws in the table format (the html report has them); not json"),
    Case("--spark-master without spark", (*A, "--spark-master", "local[2]"), 2,
         "--spark-master needs --engine spark"),
    Case("unknown engine", (*A, "--engine", "duckdb"), 2, usage=True,
         pattern=r"Invalid value for '--engine': .*duckdb.*"),
    Case("unknown time column", (*A, "--time-column", "tiem"), 1,
         "time column 'tiem' not found"),
    Case("rows --limit 10**12", (*R, "--limit", str(10**12)), 2,
         "limit must be at most 1,000,000,000, not 1000000000000"),
    Case("rows --limit 0", (*R, "--limit", "0"), 2, usage=True,
         pattern=r"Invalid value for '--limit' / '-n': .*greater than or equal to 1"),
    Case("rows --seed -1", (*R, "--seed", "-1"), 2,
         "seed must be between 0 and 2**64 - 1, not -1"),
    Case("rows --seed 2**64", (*R, "--seed", str(2**64)), 2,
         f"seed must be between 0 and 2**64 - 1, not {2**64}"),
    Case("rows --explanation 999", (*R, "--explanation", "999"), 2,
         pattern=r"there is no explanation 999; they are numbered 1 to \d+"),
    # -- Spark: refused before Spark starts -----------------------------------------------
    Case("spark master unreachable", (*A, "--engine", "spark", "--spark-master",
                                      "spark://127.0.0.1:1"), 1,
         "cannot reach the Spark master spark://127.0.0.1:1 (127.0.0.1:1: Connection "
         f"refused); {NOT_FOUND_SPARK}"),
    Case("spark master without host", (*A, "--engine", "spark", "--spark-master",
                                       "spark://"), 1,
         "the Spark master URL spark:// names no host; write it as spark://host:7077"),
    Case("spark master with a bad port", (*A, "--engine", "spark", "--spark-master",
                                          "sc://127.0.0.1:99999"), 1,
         "the Spark master URL sc://127.0.0.1:99999 has an invalid port; ports are 1 to "
         "65535"),
    # -- outputs --------------------------------------------------------------------------
    Case("--output is the input", (*A, "-f", "json", "--output", E), 1,
         "--output {d}/events.parquet is an input file; choose another path"),
    Case("--output is an input inside a directory",
         ("analyze", "{d}/indir", "-w", SEL, "-q", "-f", "json", "--output",
          "{d}/indir/a.parquet"), 1,
         "--output {d}/indir/a.parquet is an input file; choose another path"),
    Case("--output is an input matched by a glob",
         ("analyze", "{d}/globbed/*.parquet", "-w", SEL, "-q", "-f", "json", "--output",
          "{d}/globbed/a.parquet"), 1,
         "--output {d}/globbed/a.parquet is an input file; choose another path"),
    Case("rows --output is an input inside a directory",
         ("rows", "{d}/rowsdir", "-w", SEL, "-q", "--output", "{d}/rowsdir/a.parquet"), 1,
         "--output {d}/rowsdir/a.parquet is an input file; choose another path"),
    Case("--output read-only", (*A, "-f", "json", "--output", "{d}/readonly.json"), 1,
         "--output {d}/readonly.json is read-only; make it writable or choose another path"),
    Case("--output in a missing directory", (*A, "--output", "{d}/no/such/out.txt"), 1,
         "cannot write {d}/no/such/out.txt: directory {d}/no/such does not exist"),
    Case("--output inside a file", (*A, "--output", "{d}/events.parquet/out.txt"), 1,
         "cannot write {d}/events.parquet/out.txt: {d}/events.parquet is not a directory"),
    Case("--output is a directory", (*A, "-f", "json", "--output", "{d}/empty-dir"), 1,
         "cannot write {d}/empty-dir: Is a directory"),
    Case("--skip-bad-lines with spark", (*A, "--engine", "spark", "--skip-bad-lines"), 2,
         "time windows and --skip-bad-lines work with the polars engine only; filter on the "
         "time column in --where / --filter instead"),
    # never the system's own /dev/full and /dev/null: a regression would replace them with
    # regular files for every process on the machine (it happened once); see device()
    Case("--output a full device", (*A, "-f", "json", "--output", "{d}/full"), 1,
         "cannot write {d}/full: No space left on device"),
    Case("--output a null device", (*A, "-f", "csv", "--output", "{d}/null"), 0),
    # stdout on a full disk: real processes with their stdout on a full device
    *[
        Case(f"stdout full, analyze {fmt}", (*A, "-f", fmt), 1, STDOUT_FULL, stdout="{d}/full")
        for fmt in ("table", "json", "csv", "markdown", "html")
    ],
    *[
        Case(f"stdout full, columns {fmt}", ("columns", E, "-f", fmt), 1, STDOUT_FULL,
             stdout="{d}/full")
        for fmt in ("table", "json", "csv")
    ],
    Case("stdout full, rows", R, 1, STDOUT_FULL, stdout="{d}/full"),
    # -- the predicate gate, the streaming readers, roles and time text ------------------
    Case('gate: subquery reading a file', ('analyze', '{d}/events.parquet', '-w', "status IN (SELECT status FROM read_csv('/etc/passwd'))"), 1,
         '--where predicate "status IN (SELECT status FROM read_csv(\'/etc/passwd\'))" may not contain SELECT: a predicate is a condition on each event\'s own columns (no subqueries, FROM, UNION or table functions)'),
    Case('gate: subquery on a missing file', ('analyze', '{d}/events.parquet', '-w', "status IN (SELECT * FROM read_parquet('/nope.parquet'))"), 1,
         '--where predicate "status IN (SELECT * FROM read_parquet(\'/nope.parquet\'))" may not contain SELECT: a predicate is a condition on each event\'s own columns (no subqueries, FROM, UNION or table functions)'),
    Case('gate: UNION', ('analyze', '{d}/events.parquet', '-w', "status = 'error' UNION SELECT 1"), 1,
         '--where predicate "status = \'error\' UNION SELECT 1" may not contain UNION: a predicate is a condition on each event\'s own columns (no subqueries, FROM, UNION or table functions)'),
    Case('gate: comment', ('analyze', '{d}/events.parquet', '-w', "status = 'error' -- hidden"), 1,
         '--where predicate "status = \'error\' -- hidden" has a comment; remove the comment'),
    Case('gate: --baseline with FROM', ('analyze', '{d}/events.parquet', '-w', "status = 'error'", '--baseline', 'region IN (SELECT region FROM t)'), 1,
         "--baseline predicate 'region IN (SELECT region FROM t)' may not contain SELECT: a predicate is a condition on each event's own columns (no subqueries, FROM, UNION or table functions)"),
    Case('gate: --filter with a table function', ('analyze', '{d}/events.parquet', '-w', "status = 'error'", '--filter', "region IN (SELECT * FROM read_json('x'))"), 1,
         '--filter predicate "region IN (SELECT * FROM read_json(\'x\'))" may not contain SELECT: a predicate is a condition on each event\'s own columns (no subqueries, FROM, UNION or table functions)'),
    Case('gate: unicode look-alike', ('analyze', '{d}/events.parquet', '-w', "status ＝ 'error'"), 1,
         '--where predicate "status ＝ \'error\'" has the character U+FF1D FULLWIDTH EQUALS SIGN outside quotes; a predicate is SQL such as "exit_reason = \'oom\'" (quote text values and odd names)'),
    Case('gate: 40 nested parentheses', ('analyze', '{d}/events.parquet', '-w', "((((((((((((((((((((((((((((((((((((((((status = 'error'))))))))))))))))))))))))))))))))))))))))"), 1,
         '--where predicate "((((((((((((((((((((((((((((((((((((((((status = \'error\'))))))))))))))))))))))))))))))))))))))))" nests parentheses more than 32 deep; write the condition flatter (AND/OR need no parentheses of their own)'),
    Case('gate: rows command', ('rows', '{d}/events.parquet', '-w', "status IN (SELECT status FROM read_csv('/etc/passwd'))"), 1,
         '--where predicate "status IN (SELECT status FROM read_csv(\'/etc/passwd\'))" may not contain SELECT: a predicate is a condition on each event\'s own columns (no subqueries, FROM, UNION or table functions)'),
    Case('reader: NDJSON nested 5,000 deep', ('analyze', '{d}/deep.ndjson', '-w', 'a = 1'), 1,
         '{d}/deep.ndjson line 1 is not valid NDJSON (nested too deeply): \'{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":...\'; fix the line or pass --skip-bad-lines to skip such lines', setup=more_files),
    Case('reader: OTLP intValue of 26 digits', ('analyze', '{d}/big-int.otlp.json', '-w', "name = 'x'"), 1,
         "{d}/big-int.otlp.json line 1 has an unknown OTLP structure: resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.intValue holds '12345678901234567890123456', beyond 64 bits; is it an OTLP JSON export (one request per line)?", setup=more_files),
    Case('reader: truncated gzip', ('analyze', '{d}/truncated.ndjson.gz', '-w', "status = 'ok'"), 1,
         'could not read {d}/truncated.ndjson.gz: the gzip stream breaks off after line 562 (Compressed file ended before the end-of-stream marker was reached); is it a complete file?', setup=more_files),
    Case('reader: CSV row with too many fields', ('analyze', '{d}/ragged.csv', '-w', "status = 'ok'"), 1,
         "{d}/ragged.csv line 3 has 3 fields where the header has 2: 'error,eu,extra'; fix the row or pass --skip-bad-lines to skip such rows", setup=more_files),
    Case('outcome: unknown column', ('analyze', '{d}/events.parquet', '-w', "status = 'error'", '--outcome', 'duraton_ms'), 1,
         "column 'duraton_ms' in --outcome not found; did you mean 'duration_ms'?"),
    Case('context: glob matching nothing', ('analyze', '{d}/events.parquet', '-w', "status = 'error'", '--context', 'zz*'), 1,
         "--context pattern 'zz*' matches no column"),
    Case('time: text that is not a time', ('analyze', '{d}/events.parquet', '-w', "when >= 'yesterday'"), 1,
         'cannot evaluate --where predicate "when >= \'yesterday\'": cannot compare \'date/datetime/time\' to a string value (create native python { \'date\', \'datetime\', \'time\' } or compare to a temporal column)'),
    Case("input: a FIFO", ("analyze", "{d}/pipe.parquet", "-w", SEL), 1,
         "{d}/pipe.parquet is not a regular file (a pipe, socket or device); write the events to a file and analyse that",
         setup=lambda d: (d / "pipe.parquet").exists() or os.mkfifo(d / "pipe.parquet")),
    Case("input: a device", ("analyze", "/dev/null", "-w", SEL), 1,
         "/dev/null is not a regular file (a pipe, socket or device); write the events to a file and analyse that"),
    Case("outcome: a column whose name looks like a glob", ("analyze", "{d}/brackets.parquet", "-w", "bad", "--outcome", "[x]peak", "-q", "-f", "json"), 0,
         setup=lambda d: pl.DataFrame({"bad": [i % 4 == 0 for i in range(40)], "[x]peak": [float(i) for i in range(40)], "k": ["a", "b"] * 20}).write_parquet(d / "brackets.parquet")),
]  # fmt: skip


def expected_line(case: Case, folder: Path) -> str | None:
    """The exact error line a case expects (``Error: ...``), or None for a pattern."""
    return None if case.error is None else "Error: " + case.error.replace("{d}", str(folder))


def argv(case: Case, folder: Path) -> list[str]:
    """The case's command line with the folder filled in."""
    return [a.replace("{d}", str(folder)) for a in case.argv]


def environment() -> dict[str, str]:
    """The environment of the cases run as real processes."""
    return {**os.environ, "COLUMNS": "100"}
