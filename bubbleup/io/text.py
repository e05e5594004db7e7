"""CSV and NDJSON files, plain or compressed (gzip, zstd), read in bounded memory.

Each file is converted once, in one streaming pass of polars' own readers, to a Parquet file
in the text cache (:mod:`bubbleup.io.cache`), which the later stages scan lazily: memory stays
flat as the file grows, and a later run on the unchanged file skips the parsing. (A ``.json``
file holding one JSON array is the exception: it is parsed whole, in memory.)

Types are guessed from the first :data:`INFER_ROWS` rows. When a later value does not fit
the guess (an integer column that later holds ``1.5`` or ``n/a``), the file is read again with
types guessed from every row, so the column is widened (to Float64, or to text), never
turned to nulls. Text values that are ISO 8601 dates or times become Date or Datetime
columns (:func:`parse_dates`), in both formats, unless a later value is not one: the column
then stays text.

A malformed JSON line, a CSV row with more fields than the header, or a compressed file that
ends early is reported with its file and line number. With ``skip_bad_lines=True`` malformed
lines and rows are left out and counted instead; the fast path (polars' reader) is kept for
files without them.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import polars as pl

from bubbleup.errors import SourceError, first_line
from bubbleup.io import cache
from bubbleup.io.paths import FileKind, has_glob, text_head
from bubbleup.io.schema import flatten

#: Rows read to guess the type of each column.
INFER_ROWS = 10_000
_ISO_START = r"^\d{4}-\d{2}-\d{2}"


@dataclass(frozen=True)
class BadLine:
    """The first malformed line of a file: its number (from 1) and what is wrong."""

    number: int
    reason: str
    text: str


@contextlib.contextmanager
def open_binary(kind: FileKind) -> Iterator[IO[bytes] | gzip.GzipFile]:
    """The (decompressed) content of a text file as a binary stream."""
    if kind.compression == "gzip":
        with gzip.open(kind.path, "rb") as fh:
            yield fh
    elif kind.compression == "zstd":
        import zstandard

        with (
            open(kind.path, "rb") as raw,
            zstandard.ZstdDecompressor().stream_reader(raw) as reader,
        ):
            yield io.BufferedReader(reader)
    else:
        with open(kind.path, "rb") as fh:
            yield fh


def _broken(kind: FileKind, exc: Exception, after: int) -> SourceError:
    what = f"the {kind.compression} stream" if kind.compression else "the file"
    return SourceError(
        f"could not read {kind.path}: {what} breaks off after line {after:,} "
        f"({first_line(exc) or type(exc).__name__}); is it a complete file?"
    )


def _decode_errors() -> tuple[type[Exception], ...]:
    errors: tuple[type[Exception], ...] = (EOFError, OSError, zlib.error)
    try:
        import zstandard
    except ImportError:  # pragma: no cover - zstandard is a dependency
        return errors
    return (*errors, zstandard.ZstdError)


def iter_lines(kind: FileKind) -> Iterator[bytes]:
    """The (decompressed) lines of a text file, without their line ends.

    A compressed stream that ends early or is corrupt raises a :class:`SourceError` naming
    the last whole line read.
    """
    number = 0
    try:
        with open_binary(kind) as fh:
            for line in fh:
                number += 1
                yield line.rstrip(b"\r\n")
    except _decode_errors() as exc:
        raise _broken(kind, exc, number) from None


def read_bytes(kind: FileKind) -> bytes:
    """The whole (decompressed) content of a text file."""
    return b"\n".join(iter_lines(kind))


def check_line(line: bytes) -> str | None:
    """Why a non-blank NDJSON line is malformed, or ``None`` when it is a JSON object.

    Examples
    --------
    >>> check_line(b'{"a": 1}') is None
    True
    >>> check_line(b'{"a": oops}')
    'Expecting value at column 7'
    >>> check_line(b'[1, 2]')
    'a JSON array, not an object'
    """
    try:
        value = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        if isinstance(exc, json.JSONDecodeError):
            return f"{exc.msg} at column {exc.colno}"
        return "not UTF-8 text"
    except RecursionError:
        return "nested too deeply"
    if not isinstance(value, dict):
        kinds = {list: "a JSON array", str: "a JSON string", type(None): "null"}
        return f"{kinds.get(type(value), 'a JSON ' + type(value).__name__)}, not an object"
    return None


def excerpt(text: str, column: int | None, width: int = 60) -> str:
    """The part of a long line around ``column`` (from 1), elided with ``...``.

    Examples
    --------
    >>> excerpt('{"a": 1, "b": oops, "c": 3}', 15, width=20)
    '..."a": 1, "b": oops...'
    """
    if len(text) <= width:
        return text
    at = (column or 1) - 1
    lo = max(0, at - width * 2 // 3)
    hi = min(len(text), lo + width)
    return ("..." if lo else "") + text[lo:hi] + ("..." if hi < len(text) else "")


def _bad_line_error(kind: FileKind, bad: BadLine) -> SourceError:
    col = bad.reason.rsplit("column ", 1)[-1]
    shown = excerpt(bad.text, int(col) if col.isdigit() else None)
    return SourceError(
        f"{kind.path} line {bad.number} is not valid NDJSON ({bad.reason}): {shown!r}; "
        "fix the line or pass --skip-bad-lines to skip such lines"
    )


def first_bad_line(kind: FileKind) -> BadLine | None:
    """The first malformed line of an NDJSON file, read as a stream, or ``None``."""
    for number, line in enumerate(iter_lines(kind), start=1):
        if not line.strip():
            continue
        reason = check_line(line)
        if reason is not None:
            return BadLine(number, reason, line.decode("utf-8", "replace"))
    return None


def _shape_change(kind: FileKind) -> SourceError | None:
    """The first line where a key holds an object and an earlier line a plain value (or the
    other way round): what no reading of the column can hold. Read as a stream."""
    seen: dict[str, tuple[bool, int]] = {}
    for number, line in enumerate(iter_lines(kind), start=1):
        if not line.strip():
            continue
        for key, value in json.loads(line).items():
            if value is None:
                continue
            nested = isinstance(value, dict)
            first = seen.setdefault(key, (nested, number))
            if first[0] != nested:
                shapes = ("an object", "a plain value")
                new, old = (shapes[0], shapes[1]) if nested else (shapes[1], shapes[0])
                return SourceError(
                    f"{kind.path} line {number}: '{key}' holds {new} where line {first[1]} "
                    f"holds {old}; make the lines agree (or read them separately)"
                )
    return None


def _good_lines(kind: FileKind, out: Path) -> tuple[int, int, BadLine | None]:
    """Write the well-formed lines of an NDJSON file to ``out``.

    Returns the number of good lines, of malformed ones, and the first malformed one.
    """
    good = bad = 0
    first: BadLine | None = None
    with open(out, "wb") as fh:
        for number, line in enumerate(iter_lines(kind), start=1):
            if not line.strip():
                continue
            reason = check_line(line)
            if reason is None:
                fh.write(line + b"\n")
                good += 1
                continue
            bad += 1
            if first is None:
                first = BadLine(number, reason, line.decode("utf-8", "replace"))
    return good, bad, first


def _date_exprs(sample: pl.DataFrame, *, strict: bool) -> dict[str, pl.Expr]:
    """The conversions of the text columns whose sampled values are all ISO dates or times."""
    exprs: dict[str, pl.Expr] = {}
    for name, dtype in sample.schema.items():
        if dtype != pl.String:
            continue
        values = sample[name].drop_nulls()
        if values.is_empty() or not values.str.contains(_ISO_START).all():
            continue
        if values.str.len_chars().max() == 10:
            exprs[name] = pl.col(name).str.to_date("%Y-%m-%d", strict=strict)
            continue
        try:
            parsed = values.str.to_datetime(time_unit="us", strict=False)
        except pl.exceptions.PolarsError:
            continue
        if parsed.null_count():
            continue
        zone = "UTC" if getattr(parsed.dtype, "time_zone", None) else None
        exprs[name] = pl.col(name).str.to_datetime(time_unit="us", time_zone=zone, strict=strict)
    return exprs


def parse_dates(frame: pl.DataFrame) -> pl.DataFrame:
    """Text columns whose values are ISO 8601 dates or times, as Date or Datetime.

    A column is converted when its values in the first :data:`INFER_ROWS` rows (at least
    one) all read as dates (``2026-11-20``) or as times (``2026-11-20T14:00:00``; with an
    offset the column is in UTC), and so do all its later values; otherwise it stays text
    (no value is turned into a null). Parsing after reading is several times faster than
    polars' ``try_parse_dates`` while reading.

    Examples
    --------
    >>> df = pl.DataFrame({"d": ["2026-11-20"], "t": ["2026-11-20T14:00:00Z"], "s": ["x"]})
    >>> parse_dates(df).schema
    Schema([('d', Date), ('t', Datetime(time_unit='us', time_zone='UTC')), ('s', String)])
    >>> parse_dates(pl.DataFrame({"d": ["2026-11-20", "soon"]})).schema
    Schema([('d', String)])
    """
    exprs = _date_exprs(frame.head(INFER_ROWS), strict=False)
    if not exprs:
        return frame
    converted = frame.select(exprs.values())
    keep = [
        converted[name]
        for name in exprs
        if converted[name].null_count() == frame[name].null_count()
    ]
    return frame.with_columns(keep) if keep else frame


def _not_dates(frame: pl.LazyFrame, exprs: dict[str, pl.Expr]) -> set[str]:
    """The columns among ``exprs`` with a value that is not a date (one streaming pass)."""
    loose = _date_exprs(frame.head(INFER_ROWS).collect(), strict=False)
    checks = [
        (pl.col(name).is_not_null() & loose[name].is_null()).any().alias(name)
        for name in exprs
        if name in loose
    ]
    if not checks:
        return set()
    row = frame.select(checks).collect(engine="streaming").row(0, named=True)
    return {name for name, failed in row.items() if failed}


def _sink(frame: pl.LazyFrame, out: Path, *, where: str, skipped: int) -> None:
    """Write ``frame`` (dates parsed, nested fields flattened) to the Parquet file ``out``."""
    head = frame.head(INFER_ROWS).collect()
    dates = _date_exprs(head, strict=True)
    while True:
        converted = frame.with_columns(dates.values()) if dates else frame
        try:
            flatten(converted, where=where).sink_parquet(
                out,
                metadata={cache.SKIPPED_KEY: str(skipped)},
                compression=COMPRESSION,
                row_group_size=row_group_rows(head),
            )
            return
        except pl.exceptions.PolarsError:
            failed = _not_dates(frame, dates) if dates else set()
            if not failed:
                raise
            dates = {k: v for k, v in dates.items() if k not in failed}  # they stay text


#: Rows per row group of the cached Parquet files at most. Larger groups analyse a little
#: faster but cost more to write, more than they save in a cold run (10M x 42 events from
#: CSV, CPU s: written in 24.6 with groups of 256k rows, 27.5 with 512k, about 30 with 1M;
#: analysed in 10.6, 10.4, 9.7)...
MAX_ROW_GROUP = 1 << 18
#: ... or fewer, so that one row group takes at most about this many bytes in memory (the
#: writer holds a row group while it encodes it: about 2.5 times this at the peak).
ROW_GROUP_BYTES = 256 << 20
#: The cached copies' compression: lz4 costs less to write and to read than zstd (1M x 42
#: events from CSV: converted in 2.8 against 3.3 CPU s; 10M analysed in 10.6 against 11.8)
#: for a file about 1.3 times larger.
COMPRESSION: Literal["lz4"] = "lz4"


def row_group_rows(head: pl.DataFrame) -> int:
    """Rows per row group for events like ``head``: :data:`MAX_ROW_GROUP`, or fewer for wide
    events (:data:`ROW_GROUP_BYTES`), and never fewer than 4,096.

    Examples
    --------
    >>> row_group_rows(pl.DataFrame({"a": [1, 2]}))
    262144
    >>> row_group_rows(pl.DataFrame({"msg": ["x" * 4000]}))
    67108
    """
    per_row = head.estimated_size() / max(head.height, 1)
    return int(max(1 << 12, min(MAX_ROW_GROUP, ROW_GROUP_BYTES / max(per_row, 1.0))))


def _attempts(
    kind: FileKind, scan: Callable[[str, int | None], pl.LazyFrame], out: Path, skipped: int = 0
) -> Exception | None:
    """Convert with types guessed from the first rows, then from every row; the last error."""
    error: Exception | None = None
    for infer in (INFER_ROWS, None):
        try:
            _sink(scan(kind.path, infer), out, where=kind.path, skipped=skipped)
            return None
        except (pl.exceptions.PolarsError, OSError) as exc:
            error = exc
            if isinstance(exc, OSError):  # unreadable or cut short: guessing again won't help
                break
    return error


def _convert_ndjson(kind: FileKind, out: Path, *, skip_bad_lines: bool) -> None:
    def scan(path: str, infer: int | None) -> pl.LazyFrame:
        # polars expands glob characters in a path: a file named ev[1].ndjson goes as bytes
        source: str | bytes = Path(path).read_bytes() if has_glob(path) else path
        return pl.scan_ndjson(source, infer_schema_length=infer)

    error = _attempts(kind, scan, out)
    if error is None:
        return
    bad = first_bad_line(kind)
    if bad is None:
        raise _shape_change(kind) or SourceError(f"could not read {kind.path}: {first_line(error)}")
    if not skip_bad_lines:
        raise _bad_line_error(kind, bad)
    with cache.scratch(out.parent, ".ndjson") as clean:
        good, n_bad, first = _good_lines(kind, clean)
        if not good:
            assert first is not None
            raise SourceError(
                f"{kind.path} has no valid NDJSON line ({n_bad:,} malformed, the first at "
                f"line {first.number}: {first.reason}); is it NDJSON?"
            )
        error = _attempts(FileKind(str(clean), "ndjson"), scan, out, skipped=n_bad)
    if error is not None:
        raise SourceError(f"could not read {kind.path}: {first_line(error)}") from None


def _csv_rows(kind: FileKind) -> Iterator[tuple[int, list[str]]]:
    """The rows of a CSV file (physical line number where each ends, fields), streamed."""
    number = 0
    try:
        with open_binary(kind) as fh:
            text = io.TextIOWrapper(fh, encoding="utf-8", errors="replace", newline="")
            reader = csv.reader(text, delimiter=kind.separator)
            for row in reader:
                number = reader.line_num
                yield number, row
    except _decode_errors() as exc:
        raise _broken(kind, exc, number) from None
    except csv.Error as exc:
        raise SourceError(f"could not read {kind.path} after line {number:,}: {exc}") from None


def _ragged(kind: FileKind, header: int, row: list[str], number: int) -> SourceError:
    shown = excerpt(kind.separator.join(row), None)
    return SourceError(
        f"{kind.path} line {number:,} has {len(row)} fields where the header has {header}: "
        f"{shown!r}; fix the row or pass --skip-bad-lines to skip such rows"
    )


def _convert_csv(kind: FileKind, out: Path, *, skip_bad_lines: bool) -> None:
    def scan(path: str, infer: int | None) -> pl.LazyFrame:
        return pl.scan_csv(path, separator=kind.separator, infer_schema_length=infer, glob=False)

    error = _attempts(kind, scan, out)
    if error is None:
        return
    rows = _csv_rows(kind)
    header = next(rows, (0, []))[1]
    bad = next(((n, r) for n, r in rows if len(r) > len(header)), None)
    if bad is None:
        raise SourceError(
            f"could not read {kind.path}: {first_line(error)}; is it a valid, complete file?"
        ) from None
    if not skip_bad_lines:
        raise _ragged(kind, len(header), bad[1], bad[0])
    with cache.scratch(out.parent, ".csv") as clean:
        n_bad = 0
        with open(clean, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, delimiter=kind.separator)
            rows = _csv_rows(kind)
            writer.writerow(next(rows)[1])
            for _, row in rows:
                if len(row) > len(header):
                    n_bad += 1
                else:
                    writer.writerow(row)
        error = _attempts(FileKind(str(clean), "csv"), scan, out, skipped=n_bad)
    if error is not None:
        raise SourceError(f"could not read {kind.path}: {first_line(error)}") from None


def _scan_cached(kind: FileKind, convert: Callable[[Path], None], options: str) -> Scanned:
    path = cache.entry(kind, options, convert)
    try:
        meta = pl.read_parquet_metadata(path)
        frame = pl.scan_parquet(path, hive_partitioning=False)
        frame.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SourceError(
            f"could not read the cached copy of {kind.path} ({path}): {first_line(exc)}; "
            "delete it and run again"
        ) from None
    return Scanned(frame, str(path), int(meta.get(cache.SKIPPED_KEY, "0") or 0))


@dataclass(frozen=True)
class Scanned:
    """A text file read through the cache: the lazy scan of its Parquet copy, that copy's
    path and the number of malformed lines (or rows) skipped."""

    frame: pl.LazyFrame
    parquet: str
    skipped: int


def scan_ndjson(kind: FileKind, *, skip_bad_lines: bool = False) -> Scanned:
    """Read one NDJSON file through the text cache (see the module's notes).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "e.ndjson"
    >>> _ = path.write_text('{"a": 1}\\n{"a": 2.5, "b": "x"}\\n')
    >>> scan_ndjson(FileKind(str(path), "ndjson")).frame.collect().rows()
    [(1.0, None), (2.5, 'x')]
    """
    return _scan_cached(
        kind,
        lambda out: _convert_ndjson(kind, out, skip_bad_lines=skip_bad_lines),
        f"ndjson skip={skip_bad_lines}",
    )


def scan_csv(kind: FileKind, *, skip_bad_lines: bool = False) -> Scanned:
    """Read one CSV or TSV file through the text cache (see the module's notes)."""
    return _scan_cached(
        kind,
        lambda out: _convert_csv(kind, out, skip_bad_lines=skip_bad_lines),
        f"csv skip={skip_bad_lines}",
    )


def read_json_array(kind: FileKind) -> pl.DataFrame:
    """Read a ``.json`` file holding one JSON array of objects (in memory)."""
    try:
        return parse_dates(pl.read_json(io.BytesIO(read_bytes(kind))))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SourceError(f"could not read {kind.path}: {first_line(exc)}") from None


def is_json_array(kind: FileKind) -> bool:
    """Whether a ``.json``/NDJSON file starts with ``[`` (one array, not one object a line)."""
    return text_head(kind, 4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")
