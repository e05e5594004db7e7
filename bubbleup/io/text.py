"""CSV and NDJSON files, plain or compressed (gzip, zstd), read by polars' own readers.

Text values that are ISO 8601 dates or times become Date or Datetime columns
(:func:`parse_dates`), in both formats.

Text files are parsed once, into memory: the later stages read the events more than once,
and parsing text again each time costs more than keeping the parsed columns. Convert data
larger than memory to Parquet, which is scanned lazily.

A malformed JSON line is reported with its file and line number. With
``skip_bad_lines=True`` such lines (invalid JSON, or JSON that is not an object) are left
out and counted instead; the fast path (polars' reader) is kept for files without them.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl

from bubbleup.errors import SourceError, first_line
from bubbleup.io.paths import FileKind, has_glob, text_head

#: Rows read to guess the type of each column.
INFER_ROWS = 10_000
_ISO_START = r"^\d{4}-\d{2}-\d{2}"


@dataclass(frozen=True)
class BadLine:
    """The first malformed line of a file: its number (from 1) and what is wrong."""

    number: int
    reason: str
    text: str


def iter_lines(kind: FileKind) -> Iterator[bytes]:
    """The (decompressed) lines of a text file, without their line ends."""
    if kind.compression == "gzip":
        with gzip.open(kind.path, "rb") as fh:
            for line in fh:
                yield line.rstrip(b"\r\n")
    elif kind.compression == "zstd":
        import zstandard

        with (
            open(kind.path, "rb") as raw,
            zstandard.ZstdDecompressor().stream_reader(raw) as reader,
        ):
            for line in io.BufferedReader(reader):
                yield line.rstrip(b"\r\n")
    else:
        with open(kind.path, "rb") as fh:
            for line in fh:
                yield line.rstrip(b"\r\n")


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


def _scan_lines(kind: FileKind, *, keep: bool) -> tuple[list[bytes], list[BadLine]]:
    good: list[bytes] = []
    bad: list[BadLine] = []
    for number, line in enumerate(iter_lines(kind), start=1):
        if not line.strip():
            continue
        reason = check_line(line)
        if reason is None:
            if keep:
                good.append(line)
        else:
            bad.append(BadLine(number, reason, line.decode("utf-8", "replace")))
            if not keep:
                break
    return good, bad


def _read_ndjson(source: str | io.BytesIO) -> pl.DataFrame:
    try:
        return pl.read_ndjson(source, infer_schema_length=INFER_ROWS)
    except pl.exceptions.PolarsError:
        if isinstance(source, io.BytesIO):
            source.seek(0)
        # a key whose type changes after the rows used to guess: guess from every row
        return pl.read_ndjson(source, infer_schema_length=None)


def read_ndjson(kind: FileKind, *, skip_bad_lines: bool = False) -> tuple[pl.DataFrame, int]:
    """Read one NDJSON file (or a ``.json`` file holding one array of objects).

    ISO 8601 dates and times in text values are parsed, as in CSV files.

    Returns
    -------
    The events and the number of malformed lines skipped.
    """
    head = text_head(kind, 4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    try:
        if head.startswith(b"["):
            return parse_dates(pl.read_json(io.BytesIO(read_bytes(kind)))), 0
        # polars expands glob characters in a path: a file named ev[1].ndjson goes as bytes
        literal = has_glob(kind.path) and not kind.compression
        source = io.BytesIO(read_bytes(kind)) if literal else kind.path
        return parse_dates(_read_ndjson(source)), 0
    except (pl.exceptions.PolarsError, OSError) as exc:
        fast_error = exc
    good, bad = _scan_lines(kind, keep=skip_bad_lines)
    if bad and not skip_bad_lines:
        raise _bad_line_error(kind, bad[0])
    if not bad:
        raise SourceError(f"could not read {kind.path}: {first_line(fast_error)}") from None
    if not good:
        raise SourceError(
            f"{kind.path} has no valid NDJSON line ({len(bad):,} malformed, the first at "
            f"line {bad[0].number}: {bad[0].reason}); is it NDJSON?"
        )
    try:
        return parse_dates(_read_ndjson(io.BytesIO(b"\n".join(good)))), len(bad)
    except pl.exceptions.PolarsError as exc:
        raise SourceError(f"could not read {kind.path}: {first_line(exc)}") from None


def parse_dates(frame: pl.DataFrame) -> pl.DataFrame:
    """Text columns whose values are ISO 8601 dates or times, as Date or Datetime.

    A column is converted when its values in the first :data:`INFER_ROWS` rows (at least
    one) all read as dates
    (``2026-11-20``) or as times (``2026-11-20T14:00:00``; with an offset the column is in
    UTC). Later values that do not read become missing. Parsing after reading is several
    times faster than polars' ``try_parse_dates`` while reading.

    Examples
    --------
    >>> df = pl.DataFrame({"d": ["2026-11-20"], "t": ["2026-11-20T14:00:00Z"], "s": ["x"]})
    >>> parse_dates(df).schema
    Schema([('d', Date), ('t', Datetime(time_unit='us', time_zone='UTC')), ('s', String)])
    """
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype != pl.String:
            continue
        sample = frame[name].head(INFER_ROWS).drop_nulls()  # not the whole column
        if sample.is_empty() or not sample.str.contains(_ISO_START).all():
            continue
        if sample.str.len_chars().max() == 10:
            exprs.append(pl.col(name).str.to_date("%Y-%m-%d", strict=False))
            continue
        try:
            parsed = sample.str.to_datetime(time_unit="us", strict=False)
        except pl.exceptions.PolarsError:
            continue
        if parsed.null_count():
            continue
        zone = "UTC" if getattr(parsed.dtype, "time_zone", None) else None
        exprs.append(pl.col(name).str.to_datetime(time_unit="us", time_zone=zone, strict=False))
    return frame.with_columns(exprs) if exprs else frame


def read_csv(kind: FileKind) -> pl.DataFrame:
    """Read one CSV or TSV file (dates and times in ISO 8601 are parsed)."""
    try:
        frame = pl.read_csv(
            kind.path, separator=kind.separator, infer_schema_length=INFER_ROWS, glob=False
        )
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SourceError(
            f"could not read {kind.path}: {first_line(exc)}; is it a valid, complete file?"
        ) from None
    return parse_dates(frame)
