"""OpenTelemetry OTLP JSON exports of spans and log records, one event per span or record.

The OpenTelemetry Collector's file exporter (and the SDK's OTLP JSON file exporters) write
one export request per line: ``{"resourceSpans": [...]}`` or ``{"resourceLogs": [...]}``,
each resource holding scopes, each scope holding spans or log records whose attributes are
lists of ``{"key", "value": {"stringValue" | "intValue" | ...}}``. A file is read as OTLP
when its first line starts with one of those keys; a single pretty-printed request per file
is read too.

Columns of a span event: ``resource.<key>`` for each resource attribute,
``scope.name``, ``scope.version``, ``scope.<key>``, the span's own attributes under their
keys (``http.route``; under ``attributes.<key>`` if the key is one of the names below),
``name``, ``kind`` (``server``, ``client``, ``internal``, ``producer``, ``consumer``,
``unspecified``), ``status.code`` (``unset``, ``ok``, ``error``), ``status.message``,
``start_time``, ``end_time`` (UTC), ``duration_ms``, ``trace_id``, ``span_id``,
``parent_span_id`` (hex; null for a root span), ``events.count`` and ``links.count``.

Columns of a log event: the resource and scope columns, the record's attributes,
``time`` (the record's time, else its observed time), ``observed_time``,
``severity_number``, ``severity_text``, ``body`` (text; a map body becomes ``body.<key>``
columns, other values JSON text), ``event_name``, ``trace_id`` and ``span_id``.

Attribute values keep their type (``intValue`` as Int64, ``doubleValue`` as Float64,
``boolValue`` as Boolean), map values become dotted names (``key.subkey``), arrays become
lists. An attribute whose values have different types in different events is read as text
(numbers of both kinds as Float64). An ``intValue`` beyond 64 bits is an error naming the
line.

The file is read as a stream into a Parquet file of the text cache
(:mod:`bubbleup.io.cache`), so memory stays flat as the file grows and a later run on the
unchanged file reuses the converted events. It is read :data:`CHUNK_BYTES` of export
requests at a time by a columnar reader: pyarrow's JSON reader parses the chunk against the
OTLP nesting (polars' reader when pyarrow cannot, e.g. an ``intValue`` written as a JSON
number), polars explodes resources, scopes and spans (or log records) and turns the
attribute key/value lists into columns; only arrays and maps are decoded value by value.
The next chunk is read and parsed on a thread while this one is turned into columns and
written (pyarrow's parser releases the GIL), so two chunks are in memory at most. A
chunk it cannot read exactly as the row-by-row reader does (a JSON ``null``, a value of an
unknown kind, a key given twice, an attribute landing on another column's name, a
malformed line...) is read row by row, :data:`BATCH` events at a time: that reader is the
reference, and names the line of any error. (A single pretty-printed request is read
whole, row by row.)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl

from bubbleup.errors import SourceError, first_line
from bubbleup.io import cache
from bubbleup.io.paths import FileKind
from bubbleup.io.text import check_line, iter_lines

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

_DETECT = re.compile(rb'^\s*\{\s*"(resourceSpans|resourceLogs|resourceMetrics|resourceProfiles)"')
SIGNALS = {"resourceSpans": "spans", "resourceLogs": "logs"}
_UNREAD = {"resourceMetrics": "metrics", "resourceProfiles": "profiles"}
SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
STATUS_CODES = ("unset", "ok", "error")
SPAN_COLUMNS = (
    "name", "kind", "status.code", "status.message", "start_time", "end_time", "duration_ms",
    "trace_id", "span_id", "parent_span_id", "events.count", "links.count",
)  # fmt: skip
LOG_COLUMNS = (
    "time", "observed_time", "severity_number", "severity_text", "body", "event_name",
    "trace_id", "span_id",
)  # fmt: skip
_TIME_COLUMNS = ("start_time", "end_time", "time", "observed_time")
#: The column used as the events' time when none is asked for.
TIME_COLUMN = {"spans": "start_time", "logs": "time"}
#: Events converted at a time while streaming a file (memory grows with it, not the file).
BATCH = 25_000
_SIGNAL_KEY = "bubbleup.otlp_signal"
_INT64 = (-(2**63), 2**63 - 1)


def detect(head: bytes) -> str | None:
    """The OTLP key a file starts with (``resourceSpans``...), or ``None``.

    Examples
    --------
    >>> detect(b'{"resourceSpans":[{"resource":{}}]}')
    'resourceSpans'
    >>> detect(b'{"status": 500}') is None
    True
    """
    m = _DETECT.match(head)
    return m.group(1).decode() if m else None


class _MalformedError(Exception):
    """A structure problem at a path inside one export request."""


@dataclass
class _Table:
    """Columns built row by row; a row may lack any column."""

    rows: int = 0
    columns: dict[str, dict[int, Any]] = field(default_factory=dict)

    def add(self, row: Mapping[str, Any]) -> None:
        for key, value in row.items():
            if value is not None:
                self.columns.setdefault(key, {})[self.rows] = value
        self.rows += 1

    def frame(self, order: tuple[str, ...]) -> pl.DataFrame:
        names = [c for c in order if c in self.columns]
        names += sorted(c for c in self.columns if c not in order)
        return pl.DataFrame([_series(n, self.columns[n], self.rows) for n in names])


def _series(name: str, cells: dict[int, Any], n: int) -> pl.Series:
    values = [cells.get(i) for i in range(n)] if len(cells) < n else list(cells.values())
    if name in _TIME_COLUMNS:
        return (
            pl.Series(name, values, dtype=pl.Int64)
            .cast(pl.Datetime("ns"))
            .dt.replace_time_zone("UTC")
            .dt.cast_time_unit("us")
        )
    kinds = {type(v) for v in cells.values()}
    if kinds == {bool}:
        return pl.Series(name, values, dtype=pl.Boolean)
    if kinds == {int}:
        return pl.Series(name, values, dtype=pl.Int64)
    if kinds <= {int, float}:
        return pl.Series(name, values, dtype=pl.Float64)
    if kinds == {str}:
        return pl.Series(name, values, dtype=pl.String)
    if kinds == {list}:
        items = {type(x) for v in cells.values() for x in v}
        if len(items) == 1 and items <= {str, int, float, bool}:
            return pl.Series(name, values)
        return pl.Series(name, [None if v is None else [_text(x) for x in v] for v in values])
    return pl.Series(name, [None if v is None else _text(v) for v in values], dtype=pl.String)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":")) if isinstance(value, list) else str(value)


def _list(obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise _MalformedError(f"{where}.{key} is a {type(value).__name__}, not a list")
    return value


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _MalformedError(f"{where} is a {type(value).__name__}, not an object")
    return value


def any_value(value: Any, where: str) -> Any:
    """Decode an OTLP ``AnyValue`` (``{"stringValue": "x"}``...) into a Python value.

    Maps become dicts, arrays lists; an empty value is ``None``.

    Examples
    --------
    >>> any_value({"intValue": "42"}, "v")
    42
    >>> any_value({"arrayValue": {"values": [{"boolValue": True}]}}, "v")
    [True]
    """
    v = _object(value, where)
    if not v:
        return None
    (kind, inner), *_ = v.items()
    try:
        if kind == "stringValue":
            return str(inner)
        if kind == "boolValue":
            return bool(inner)
        if kind == "intValue":
            number = int(inner)
            if not _INT64[0] <= number <= _INT64[1]:
                raise _MalformedError(f"{where}.intValue holds {inner!r}, beyond 64 bits")
            return number
        if kind == "doubleValue":
            return float(inner)
        if kind == "bytesValue":
            return str(inner)
        if kind == "arrayValue":
            items = _list(_object(inner, f"{where}.arrayValue"), "values", f"{where}.arrayValue")
            return [any_value(x, f"{where}.arrayValue.values[]") for x in items]
        if kind == "kvlistValue":
            return attributes(_object(inner, f"{where}.kvlistValue"), f"{where}.kvlistValue")
    except (TypeError, ValueError):
        raise _MalformedError(f"{where}.{kind} holds {inner!r}, not a {kind[:-5]}") from None
    raise _MalformedError(f"{where} has an unknown value kind '{kind}'")


def attributes(obj: Mapping[str, Any], where: str, key: str = "values") -> dict[str, Any]:
    """Decode a list of OTLP key/value pairs into a dict (nested for map values)."""
    out: dict[str, Any] = {}
    for i, kv in enumerate(_list(obj, key, where)):
        kv = _object(kv, f"{where}.{key}[{i}]")
        name = kv.get("key")
        if not isinstance(name, str):
            raise _MalformedError(f"{where}.{key}[{i}] has no 'key'")
        out[name] = any_value(kv.get("value", {}), f"{where}.{key}[{i}].value")
    return out


def _flat(
    prefix: str, values: Mapping[str, Any], reserved: tuple[str, ...] = ()
) -> Iterator[tuple[str, Any]]:
    for key, value in values.items():
        name = f"{prefix}{key}"
        if name in reserved:
            name = f"attributes.{name}"
        if isinstance(value, dict):
            yield from _flat(f"{name}.", value)
        else:
            yield name, value


def _hex_id(value: Any, size: int) -> str | None:
    """An OTLP trace or span id as lower-case hex (the OTLP JSON form, or protobuf's base64)."""
    if not value:
        return None
    text = str(value)
    if len(text) == 2 * size and all(c in "0123456789abcdefABCDEF" for c in text):
        return text.lower() if set(text) != {"0"} else None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text
    return raw.hex() if len(raw) == size and any(raw) else text


def _enum(value: Any, names: tuple[str, ...], prefix: str) -> str | None:
    if value is None:
        return names[0]
    if isinstance(value, int) and 0 <= value < len(names):
        return names[value]
    text = str(value).lower().removeprefix(prefix)
    return text if text in names else str(value)


def _nanos(value: Any) -> int | None:
    try:
        n = int(value) if value not in (None, "", 0, "0") else None
    except (TypeError, ValueError):
        raise _MalformedError(f"time {value!r} is not a number of nanoseconds") from None
    return n


def _span_row(span: Mapping[str, Any], where: str) -> dict[str, Any]:
    start, end = _nanos(span.get("startTimeUnixNano")), _nanos(span.get("endTimeUnixNano"))
    status = _object(span.get("status", {}), f"{where}.status")
    row: dict[str, Any] = {
        "name": span.get("name"),
        "kind": _enum(span.get("kind"), SPAN_KINDS, "span_kind_"),
        "status.code": _enum(status.get("code"), STATUS_CODES, "status_code_"),
        "status.message": status.get("message") or None,
        "start_time": start,
        "end_time": end,
        "duration_ms": None if start is None or end is None else (end - start) / 1e6,
        "trace_id": _hex_id(span.get("traceId"), 16),
        "span_id": _hex_id(span.get("spanId"), 8),
        "parent_span_id": _hex_id(span.get("parentSpanId"), 8),
        "events.count": len(_list(span, "events", where)),
        "links.count": len(_list(span, "links", where)),
    }
    row.update(_flat("", attributes(span, where, "attributes"), SPAN_COLUMNS))
    return row


def _log_row(record: Mapping[str, Any], where: str) -> dict[str, Any]:
    time, observed = _nanos(record.get("timeUnixNano")), _nanos(record.get("observedTimeUnixNano"))
    row: dict[str, Any] = {
        "time": time if time is not None else observed,
        "observed_time": observed,
        "severity_number": record.get("severityNumber"),
        "severity_text": record.get("severityText") or None,
        "event_name": record.get("eventName") or None,
        "trace_id": _hex_id(record.get("traceId"), 16),
        "span_id": _hex_id(record.get("spanId"), 8),
    }
    if isinstance(row["severity_number"], str):
        row["severity_number"] = None
    body = any_value(record["body"], f"{where}.body") if "body" in record else None
    if isinstance(body, dict):
        row.update(_flat("body.", body))
    elif body is not None:
        row["body"] = body if isinstance(body, str) else _text(body)
    row.update(_flat("", attributes(record, where, "attributes"), LOG_COLUMNS))
    return row


def _request_rows(request: Mapping[str, Any], signal_key: str) -> Iterator[dict[str, Any]]:
    scope_key, items_key = (
        ("scopeSpans", "spans") if signal_key == "resourceSpans" else ("scopeLogs", "logRecords")
    )
    make = _span_row if signal_key == "resourceSpans" else _log_row
    for r, resource_entry in enumerate(_list(request, signal_key, "")):
        rw = f"{signal_key}[{r}]"
        resource_entry = _object(resource_entry, rw)
        resource = _object(resource_entry.get("resource", {}), f"{rw}.resource")
        base = dict(_flat("resource.", attributes(resource, f"{rw}.resource", "attributes")))
        if scope_key not in resource_entry and any(
            k.startswith(("instrumentationLibrary", "scope")) for k in resource_entry
        ):
            found = ", ".join(sorted(resource_entry))
            raise _MalformedError(f"{rw} has {found} but no {scope_key} (an old OTLP version?)")
        for s, scope_entry in enumerate(_list(resource_entry, scope_key, rw)):
            sw = f"{rw}.{scope_key}[{s}]"
            scope_entry = _object(scope_entry, sw)
            scope = _object(scope_entry.get("scope", {}), f"{sw}.scope")
            scoped = dict(base)
            scoped["scope.name"] = scope.get("name") or None
            scoped["scope.version"] = scope.get("version") or None
            scoped.update(_flat("scope.", attributes(scope, f"{sw}.scope", "attributes")))
            for i, item in enumerate(_list(scope_entry, items_key, sw)):
                iw = f"{sw}.{items_key}[{i}]"
                row = dict(scoped)
                row.update(make(_object(item, iw), iw))
                yield row


def _requests(kind: FileKind) -> Iterator[tuple[int, bytes]]:
    lines = ((n, line) for n, line in enumerate(iter_lines(kind), start=1) if line.strip())
    first = next(lines, None)
    if first is None:
        return
    if check_line(first[1]) is not None:
        rest = list(lines)  # a pretty-printed request spans lines: read it whole
        whole = b"\n".join([first[1], *(line for _, line in rest)])
        if check_line(whole) is None:
            yield first[0], whole
            return
        yield first
        yield from rest
        return
    yield first
    yield from lines


def _widest(types: Sequence[pl.DataType]) -> pl.DataType:
    """The type of an attribute read as different types in different batches."""
    known = {t for t in types if t != pl.Null}
    if len(known) <= 1:
        return known.pop() if known else pl.Null()
    if all(t.is_numeric() for t in known):
        return pl.Float64()
    if all(isinstance(t, pl.List) for t in known):
        return pl.List(pl.String())
    return pl.String()


def _union(schemas: Sequence[Mapping[str, pl.DataType]], order: tuple[str, ...]) -> dict[str, Any]:
    names = {n for schema in schemas for n in schema}
    ordered = [c for c in order if c in names] + sorted(names - set(order))
    return {n: _widest([s[n] for s in schemas if n in s]) for n in ordered}


def _chunks(kind: FileKind) -> Iterator[list[tuple[int, bytes]]]:
    """The export requests of a file (line number, text), :data:`CHUNK_BYTES` at a time."""
    chunk: list[tuple[int, bytes]] = []
    size = 0
    for number, line in _requests(kind):
        chunk.append((number, line))
        size += len(line)
        if size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


@dataclass
class _Conversion:
    """The state of one file's conversion: the Parquet parts written, the signal, the skips."""

    kind: FileKind
    out: Path
    stack: contextlib.ExitStack
    skip_bad_lines: bool
    parts: list[Path] = field(default_factory=list)
    signal: str | None = None
    skipped: int = 0

    def write(self, frame: pl.DataFrame) -> None:
        part = self.stack.enter_context(cache.scratch(self.out.parent, ".parquet"))
        frame.write_parquet(part, compression="lz4", statistics=False)  # rewritten in _convert
        self.parts.append(part)

    def fast(self, chunk: list[tuple[int, bytes]], parsed: _Parsed | None) -> bool:
        """Read a chunk with the columnar reader, from its parsed requests (:func:`_parse`);
        ``False`` when it must be read row by row."""
        if parsed is None or self.signal not in (None, SIGNALS[parsed.key]):
            return False
        try:
            frame = _fast_frame(parsed, len(chunk))
        except _FallbackError:
            return False
        self.signal = SIGNALS[parsed.key]
        if frame is not None:
            self.write(frame)
        return True

    def rows(self, chunk: list[tuple[int, bytes]]) -> None:
        """Read a chunk row by row (the reference reading, and its errors)."""
        kind = self.kind
        table = _Table()
        for number, line in chunk:
            reason = check_line(line)
            if reason is not None:
                if self.skip_bad_lines:
                    self.skipped += 1
                    continue
                raise SourceError(
                    f"{kind.path} line {number} is not valid JSON ({reason}); fix the line or "
                    "pass --skip-bad-lines to skip such lines"
                )
            request = json.loads(line)
            this, key = _signal_of(kind, number, request)
            if self.signal is not None and this != self.signal:
                raise SourceError(
                    f"{kind.path} line {number} holds OTLP {this} but earlier lines hold "
                    f"{self.signal}; put traces and logs in separate files and read them "
                    "separately"
                )
            self.signal = this
            try:
                for row in _request_rows(request, key):
                    table.add(row)
            except _MalformedError as exc:
                raise SourceError(
                    f"{kind.path} line {number} has an unknown OTLP structure: {exc}; is it an "
                    "OTLP JSON export (one request per line)?"
                ) from None
            if table.rows >= BATCH:
                self.write(table.frame(_ORDER[this]))
                table = _Table()
        if table.rows and self.signal is not None:
            self.write(table.frame(_ORDER[self.signal]))


def _convert(kind: FileKind, out: Path, *, skip_bad_lines: bool, columnar: bool = True) -> None:
    """Stream an OTLP file into the Parquet file ``out``, a chunk of requests at a time.

    Each chunk is read by the columnar reader when it can (``columnar``), else row by row.
    """
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="bubbleup-otlp")
        )
        state = _Conversion(kind, out, stack, skip_bad_lines)
        for chunk, parsed in _ahead(_chunks(kind), _parse if columnar else _no_parse, pool):
            if not state.fast(chunk, parsed.result()):
                state.rows(chunk)
        signal, parts = state.signal, state.parts
        if signal is None:
            raise SourceError(f"{kind.path} holds no OTLP export request; is it empty?")
        meta = {cache.SKIPPED_KEY: str(state.skipped), _SIGNAL_KEY: signal}
        if not parts:  # export requests without a single span or record
            pl.LazyFrame().sink_parquet(out, metadata=meta)
            return
        target = _union([pl.read_parquet_schema(p) for p in parts], _ORDER[signal])
        frames = [
            pl.scan_parquet(p).select(
                pl.col(n).cast(t) if n in schema else pl.lit(None, dtype=t).alias(n)
                for n, t in target.items()
            )
            for p, schema in ((p, pl.read_parquet_schema(p)) for p in parts)
        ]
        pl.concat(frames, how="vertical").sink_parquet(out, metadata=meta)


_ORDER = {"spans": SPAN_COLUMNS, "logs": LOG_COLUMNS}


def _signal_of(kind: FileKind, number: int, request: Mapping[str, Any]) -> tuple[str, str]:
    keys = sorted(request)
    known = [k for k in keys if k in SIGNALS]
    if len(keys) != 1 or not known:
        unread = [_UNREAD[k] for k in keys if k in _UNREAD]
        what = (
            f"OTLP {unread[0]} are not read (only traces and logs)"
            if unread
            else f"it has the keys {', '.join(keys) or '(none)'}"
        )
        raise SourceError(
            f"{kind.path} line {number} is not an OTLP export request of traces or logs: "
            f'{what}; expected one {{"resourceSpans": [...]}} or '
            '{"resourceLogs": [...]} object per line'
        )
    return SIGNALS[known[0]], known[0]


# --- The columnar reader ----------------------------------------------------------------
#
# A chunk of export-request lines (about :data:`CHUNK_BYTES` of text) is parsed at once by
# pyarrow's JSON reader against the fixed OTLP schema below (polars' NDJSON reader when
# pyarrow cannot; arrays and maps inside an attribute value are typed as parsed), exploded
# resource -> scope -> span (or log record), and the attribute key/value lists are turned
# into columns with polars expressions, one part per distinct key. Anything the vectorised
# reading could get wrong (a JSON null, an empty or unknown value, a key given twice, an
# attribute that lands on another column's name...) sends the chunk through the row-by-row
# reader above, which is the reference: either it reads the chunk the same way or it raises
# the error naming the line.

_ANY = pl.Struct(
    {
        "stringValue": pl.String, "intValue": pl.String, "doubleValue": pl.Float64,
        "boolValue": pl.Boolean, "bytesValue": pl.String, "arrayValue": pl.String,
        "kvlistValue": pl.String,
    }
)  # fmt: skip
_ALL_KINDS = tuple(_ANY.to_schema())
_KV = pl.List(pl.Struct({"key": pl.String, "value": _ANY}))
_COUNTED = pl.List(pl.Struct({"name": pl.String}))
_SPAN = pl.Struct(
    {
        "traceId": pl.String, "spanId": pl.String, "parentSpanId": pl.String,
        "name": pl.String, "kind": pl.Int64, "startTimeUnixNano": pl.String,
        "endTimeUnixNano": pl.String, "attributes": _KV, "events": _COUNTED,
        "links": _COUNTED, "status": pl.Struct({"code": pl.Int64, "message": pl.String}),
    }
)  # fmt: skip
_LOG = pl.Struct(
    {
        "timeUnixNano": pl.String, "observedTimeUnixNano": pl.String,
        "severityNumber": pl.Int64, "severityText": pl.String, "eventName": pl.String,
        "traceId": pl.String, "spanId": pl.String, "body": _ANY, "attributes": _KV,
    }
)  # fmt: skip
_NESTING = {
    "resourceSpans": ("scopeSpans", "spans", _SPAN),
    "resourceLogs": ("scopeLogs", "logRecords", _LOG),
}


def _schema(signal_key: str) -> dict[str, pl.DataType]:
    scope_key, items_key, item = _NESTING[signal_key]
    scope = pl.Struct(
        {
            "scope": pl.Struct({"name": pl.String, "version": pl.String, "attributes": _KV}),
            items_key: pl.List(item),
        }
    )
    resource = pl.Struct({"resource": pl.Struct({"attributes": _KV}), scope_key: pl.List(scope)})
    schema: dict[str, pl.DataType] = {k: pl.String() for k in (*SIGNALS, *_UNREAD)}
    schema[signal_key] = pl.List(resource)
    return schema


#: Fields whose JSON type varies between writers (``"kind": 2`` from the SDK, ``"kind":
#: "SPAN_KIND_SERVER"`` from protobuf's mapping; nanoseconds as text or as numbers), and the
#: values nested to any depth: pyarrow's reader infers their type chunk by chunk.
_INFERRED = frozenset(
    {
        "kind", "code", "startTimeUnixNano", "endTimeUnixNano", "timeUnixNano",
        "observedTimeUnixNano", "severityNumber", "arrayValue", "kvlistValue",
    }
)  # fmt: skip


def _arrow_type(dtype: PolarsDataType) -> Any:
    """The pyarrow type of a polars type of :func:`_schema`, without the :data:`_INFERRED`
    fields."""
    import pyarrow as pa

    if isinstance(dtype, pl.Struct):
        return pa.struct(
            [
                pa.field(name, _arrow_type(inner))
                for name, inner in dtype.to_schema().items()
                if name not in _INFERRED
            ]
        )
    if isinstance(dtype, pl.List):
        return pa.list_(_arrow_type(dtype.inner))
    if dtype == pl.Float64:
        return pa.float64()
    return pa.bool_() if dtype == pl.Boolean else pa.string()


def _read_requests(data: bytes, signal_key: str, longest: int) -> pl.DataFrame:
    """Parse a chunk of export-request lines: pyarrow's JSON reader (several times faster
    than polars' on this nesting), else polars' (it reads numbers where text is expected)."""
    import pyarrow as pa
    import pyarrow.json as pa_json

    schema = pa.schema([pa.field(signal_key, _arrow_type(_schema(signal_key)[signal_key]))])
    try:
        table = pa_json.read_json(
            io.BytesIO(data),
            read_options=pa_json.ReadOptions(block_size=max(1 << 20, longest + 1)),
            parse_options=pa_json.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="infer"
            ),
        )
        frame = pl.from_arrow(table, rechunk=False)
        assert isinstance(frame, pl.DataFrame)
        return frame
    except (pa.ArrowException, pl.exceptions.PolarsError):
        pass
    try:
        return pl.read_ndjson(io.BytesIO(data), schema=_schema(signal_key))
    except pl.exceptions.PolarsError:
        raise _FallbackError from None


def _field(values: pl.Series, name: str, dtype: PolarsDataType | None = pl.String) -> pl.Series:
    """A field of a struct column as ``dtype`` (as read if ``None``; all null when no value
    has it)."""
    if not isinstance(values.dtype, pl.Struct) or name not in values.dtype.to_schema():
        return pl.repeat(None, len(values), dtype=dtype or pl.Null, eager=True).alias(name)
    inner = values.struct.field(name)
    return inner if dtype is None or inner.dtype == dtype else inner.cast(dtype, strict=False)


def _attributes_of(values: pl.Series) -> pl.Series:
    """The ``attributes`` of a resource or scope column, as read (their nested values are
    typed as pyarrow inferred them)."""
    if isinstance(values.dtype, pl.Struct) and "attributes" in values.dtype.to_schema():
        return values.struct.field("attributes")
    return pl.repeat(None, len(values), dtype=_KV, eager=True)


#: Bytes of export-request lines read at a time by the columnar reader.
CHUNK_BYTES = 32 * 2**20
_JSON_NULL = re.compile(rb"[:\[,]\s*null\s*[,}\]]")
_UNKNOWN_KIND = re.compile(
    rb'"(?:value|body)"\s*:\s*\{\s*"(?!(?:stringValue|intValue|doubleValue|boolValue|bytesValue'
    rb'|arrayValue|kvlistValue)")'
)


class _FallbackError(Exception):
    """The chunk needs the row-by-row reader."""


def _explode(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """One row per element of the list ``column`` (a struct, unnested); empty lists give none."""
    return frame.explode(column).filter(pl.col(column).is_not_null()).unnest(column)


def _nanos_column(values: pl.Series) -> pl.Series:
    given = values.is_not_null() & ~values.is_in(["", "0"])
    numbers = values.cast(pl.Int64, strict=False)
    if (given & numbers.is_null()).any():
        raise _FallbackError
    return pl.select(pl.when(given).then(numbers)).to_series()


def _time_column(name: str, nanos: pl.Series) -> pl.Series:
    return (
        nanos.cast(pl.Datetime("ns"))
        .dt.replace_time_zone("UTC")
        .dt.cast_time_unit("us")
        .alias(name)
    )


def _hex_column(name: str, values: pl.Series, size: int) -> pl.Series:
    """:func:`_hex_id` of every value: the hex form vectorised, others one by one."""
    hexed = values.str.contains(f"^[0-9a-fA-F]{{{2 * size}}}$")
    zero = values.str.contains("^0+$")
    out = pl.select(pl.when(hexed & ~zero).then(values.str.to_lowercase())).to_series()
    other = values.filter(values.is_not_null() & ~hexed.fill_null(False))
    if other.len():
        mapping = {v: _hex_id(v, size) for v in other.unique().to_list()}
        decoded = values.replace_strict(mapping, default=None, return_dtype=pl.String)
        out = pl.select(pl.when(hexed).then(out).otherwise(decoded)).to_series()
    return out.alias(name)


def _enum_column(name: str, values: pl.Series, names: tuple[str, ...], prefix: str) -> pl.Series:
    """:func:`_enum` of every value: numbers (``2``) or names (``"SPAN_KIND_SERVER"``)."""
    if values.dtype.is_integer():
        known = values.replace_strict(dict(enumerate(names)), default=None, return_dtype=pl.String)
    elif values.dtype in (pl.String, pl.Null):
        values = values.cast(pl.String)
        low = values.str.to_lowercase().str.strip_prefix(prefix)
        known = pl.select(pl.when(low.is_in(names)).then(low)).to_series()
    else:
        raise _FallbackError  # true or 2.0: as the row-by-row reader reads them
    return (
        pl.select(pl.coalesce(known, values.cast(pl.String), pl.lit(names[0])))
        .to_series()
        .alias(name)
    )


def _blank_to_null(name: str, values: pl.Series) -> pl.Series:
    return pl.select(pl.when(values != "").then(values)).to_series().alias(name)


@dataclass
class _Entries:
    """Attribute values of one level (resource, scope or item), keyed by the row they go to.

    ``simple`` holds the scalar values as a frame: ``id`` (the row), ``code`` (the
    attribute's name, as a key of ``names``) and one column per kind of value (``s`` text or
    bytes, ``i``, ``d``, ``b``; all null when the attribute has no value); ``other`` the
    decoded values of arrays and maps, one by one; ``empty`` whether a value was an empty
    object (or one of an unknown kind: the caller tells them apart).
    """

    rows: int
    simple: pl.DataFrame
    names: dict[int, str]
    other: list[tuple[int, str, Any]] = field(default_factory=list)
    empty: bool = False


def _python_values(values: pl.Series, kind: str) -> list[Any]:
    """Decoded arrays or maps (:func:`any_value`) of a column read as JSON text (polars) or as
    structs (pyarrow, where a field a value lacks is null: those are left out)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    out = []
    for value in values.to_list():
        if values.dtype == pl.String:
            value = json.loads(value)
        try:
            out.append(any_value({kind: strip(value)}, "value"))
        except (_MalformedError, RecursionError):
            raise _FallbackError from None
    return out


def _entries(
    long: pl.DataFrame, rows: int, *, prefix: str, reserved: tuple[str, ...] = ()
) -> _Entries:
    """The values of a long frame of attributes (``id``, ``key``, ``value``)."""
    if long["key"].null_count():
        raise _FallbackError
    value = long["value"]
    fields = {k: _field(value, k, t) for k, t in _ANY.to_schema().items() if k not in _INFERRED}
    nested = {
        k: value.struct.field(k)
        for k in ("arrayValue", "kvlistValue")
        if isinstance(value.dtype, pl.Struct) and k in value.dtype.to_schema()
    }
    given = [f.is_not_null() for f in (*fields.values(), *nested.values())]
    n_kinds = pl.select(pl.sum_horizontal(given)).to_series()
    ints = fields["intValue"].cast(pl.Int64, strict=False)
    if (n_kinds > 1).any():
        raise _FallbackError  # two value kinds in one value
    if (fields["intValue"].is_not_null() & ints.is_null()).any():
        raise _FallbackError  # an int beyond 64 bits, or not an int
    empty = bool((value.is_not_null() & (n_kinds == 0)).any())
    # one code per distinct key, its column's name worked out once per key, not per value
    keys = long["key"].cast(pl.Categorical)
    codes = keys.to_physical()
    distinct = keys.unique()
    names = {
        int(c): f"attributes.{prefix}{k}" if prefix + k in reserved else prefix + k
        for c, k in zip(distinct.to_physical(), distinct.cast(pl.String), strict=True)
    }
    if len(set(names.values())) < len(names):
        raise _FallbackError  # two keys naming one column ("name" and "attributes.name")
    other: list[tuple[int, str, Any]] = []
    is_nested = pl.repeat(False, long.height, eager=True)
    for kind, column in nested.items():
        present = column.is_not_null()
        is_nested = is_nested | present
        decoded = _python_values(column.filter(present), kind)
        for row, code, item in zip(
            long["id"].filter(present), codes.filter(present), decoded, strict=True
        ):
            key = names[code]
            if isinstance(item, dict):
                other.extend((row, n, v) for n, v in _flat(f"{key}.", item))
            else:
                other.append((row, key, item))
    simple = pl.DataFrame(
        {
            "id": long["id"],
            "code": codes,
            "s": fields["stringValue"].fill_null(fields["bytesValue"]),
            "i": ints,
            "d": fields["doubleValue"],
            "b": fields["boolValue"],
        }
    )
    if nested:
        simple = simple.filter(~is_nested)
    return _Entries(rows, simple, names, other, empty)


_KIND_TYPES = {"s": pl.String(), "i": pl.Int64(), "d": pl.Float64(), "b": pl.Boolean()}


def _first(s: Any, i: Any, d: Any, b: Any) -> Any:
    """The one value of a row of ``simple`` (``None`` when it has none)."""
    return s if s is not None else i if i is not None else d if d is not None else b


def _columns(entries: _Entries) -> dict[str, pl.Series]:
    """One column per attribute name, typed as :func:`_series` types them."""
    n = entries.rows
    code_of = {name: code for code, name in entries.names.items()}
    for _, name, _ in entries.other:  # a map's dotted names, maybe a key's name too
        code_of.setdefault(name, len(code_of) + max(entries.names, default=0) + 1)
    simple = entries.simple
    keys = pl.concat(
        [
            simple["id"].cast(pl.UInt64) * (1 << 32) + simple["code"].cast(pl.UInt64),
            pl.Series(
                [row * (1 << 32) + code_of[name] for row, name, _ in entries.other],
                dtype=pl.UInt64,
            ),
        ]
    )
    if keys.n_unique() < keys.len():
        raise _FallbackError  # a key given twice, or a map's dotted name given as a key too
    others: dict[str, dict[int, Any]] = {}
    for row, name, value in sorted(entries.other, key=lambda e: e[0]):
        if value is not None:
            others.setdefault(name, {})[row] = value
    out: dict[str, pl.Series] = {}
    parts = simple.partition_by("code", as_dict=True, include_key=False) if simple.height else {}
    for (code,), part in parts.items():
        assert isinstance(code, int)
        name = entries.names[code]
        nulls = part.null_count().row(0, named=True)
        kinds = {k for k in _KIND_TYPES if nulls[k] < part.height}
        if name not in others and (len(kinds) == 1 or kinds == {"i", "d"}):
            if len(kinds) == 1:
                (kind,) = kinds
                values, dtype = part[kind], _KIND_TYPES[kind]
            else:
                values = part["d"].fill_null(part["i"].cast(pl.Float64))
                dtype = pl.Float64()
            column = pl.repeat(None, n, dtype=dtype, eager=True).alias(name)
            out[name] = column.scatter(part["id"], values)  # rows without a value stay null
            continue
        if not kinds:
            continue  # no value in any row (and none of a map's either)
        cells = others.setdefault(name, {})
        for row, *value in part.select("id", "s", "i", "d", "b").iter_rows():
            if (cell := _first(*value)) is not None:
                cells[row] = cell
    for name, cells in others.items():
        if cells:
            out[name] = _series(name, dict(sorted(cells.items())), n)
    if out.keys() & set(_TIME_COLUMNS):
        raise _FallbackError  # an attribute named like a time column: see _series
    return out


def _column(frame: pl.DataFrame, name: str, dtype: PolarsDataType | None = pl.String) -> pl.Series:
    """A column of ``frame`` as ``dtype`` (as read if ``None``; all null when no value has
    it)."""
    if name not in frame.columns:
        return pl.repeat(None, frame.height, dtype=dtype or pl.Null, eager=True).alias(name)
    column = frame[name]
    return column if dtype is None or column.dtype == dtype else column.cast(dtype, strict=False)


def _severity(values: pl.Series) -> pl.Series:
    """``severityNumber``: a number, or null (protobuf's mapping writes names there)."""
    if values.dtype.is_integer() or values.dtype == pl.Null:
        return values.cast(pl.Int64).alias("severity_number")
    if values.dtype == pl.String:
        return pl.repeat(None, len(values), dtype=pl.Int64, eager=True).alias("severity_number")
    raise _FallbackError


def _scope_columns(scopes: pl.DataFrame, seen: list[_Entries]) -> dict[str, pl.Series]:
    scope = _column(scopes, "scope", scopes.schema.get("scope", pl.Null()))
    out = {
        "scope.name": _blank_to_null("scope.name", _field(scope, "name")),
        "scope.version": _blank_to_null("scope.version", _field(scope, "version")),
    }
    attrs = _explode(pl.DataFrame({"id": scopes["s"], "a": _attributes_of(scope)}), "a")
    seen.append(_entries(attrs, scopes.height, prefix="scope."))
    named = _columns(seen[-1])
    if named.keys() & out.keys():
        raise _FallbackError
    return {**out, **named}


def _millis(nanos: pl.Series) -> pl.Series:
    """Nanoseconds as milliseconds, rounded as Python's ``n / 1e6`` rounds them (polars
    multiplies by the inverse: a different last bit)."""
    return pl.Series("duration_ms", nanos.to_numpy() / 1e6, dtype=pl.Float64, nan_to_null=True)


def _span_columns(items: pl.DataFrame) -> dict[str, pl.Series]:
    start = _nanos_column(_column(items, "startTimeUnixNano"))
    end = _nanos_column(_column(items, "endTimeUnixNano"))
    status = items["status"]
    return {
        "name": items["name"],
        "kind": _enum_column("kind", _column(items, "kind", None), SPAN_KINDS, "span_kind_"),
        "status.code": _enum_column(
            "status.code", _field(status, "code", None), STATUS_CODES, "status_code_"
        ),
        "status.message": _blank_to_null("status.message", _field(status, "message")),
        "start_time": _time_column("start_time", start),
        "end_time": _time_column("end_time", end),
        "duration_ms": _millis(end - start),
        "trace_id": _hex_column("trace_id", items["traceId"], 16),
        "span_id": _hex_column("span_id", items["spanId"], 8),
        "parent_span_id": _hex_column("parent_span_id", items["parentSpanId"], 8),
        "events.count": items["events"].list.len().fill_null(0).cast(pl.Int64),
        "links.count": items["links"].list.len().fill_null(0).cast(pl.Int64),
    }


def _log_columns(items: pl.DataFrame) -> dict[str, pl.Series]:
    time = _nanos_column(_column(items, "timeUnixNano"))
    observed = _nanos_column(_column(items, "observedTimeUnixNano"))
    return {
        "time": _time_column("time", time.fill_null(observed)),
        "observed_time": _time_column("observed_time", observed),
        "severity_number": _severity(_column(items, "severityNumber", None)),
        "severity_text": _blank_to_null("severity_text", items["severityText"]),
        "event_name": _blank_to_null("event_name", items["eventName"]),
        "trace_id": _hex_column("trace_id", items["traceId"], 16),
        "span_id": _hex_column("span_id", items["spanId"], 8),
    }


def _body_entries(items: pl.DataFrame, seen: list[_Entries]) -> list[tuple[int, str, Any]]:
    """The log body as attribute-like values: ``body`` text, or ``body.<key>`` for a map."""
    body = items.select(
        pl.col("row").alias("id"), pl.lit("body").alias("key"), pl.col("body").alias("value")
    )
    body = body.filter(pl.col("value").is_not_null())
    if not body.height:
        return []
    entries = _entries(body, items.height, prefix="")
    seen.append(entries)
    out = list(entries.other)
    rows = entries.simple.select("id", "s", "i", "d", "b").iter_rows()
    out += [(r, "body", _first(*value)) for r, *value in rows]
    return [
        (row, name, _text(value) if name == "body" and value is not None else value)
        for row, name, value in out
    ]


@dataclass(frozen=True)
class _Parsed:
    """A chunk of export requests parsed against the OTLP nesting: its signal's key, its text
    and the requests, one row a line."""

    key: str
    data: bytes
    requests: pl.DataFrame


def _parse(chunk: list[tuple[int, bytes]]) -> _Parsed | None:
    """Parse a chunk for the columnar reader (``None`` when it must be read row by row). Run
    on a thread, a chunk ahead of the one being converted: pyarrow's parser releases the GIL
    (see :func:`_ahead`)."""
    key = detect(chunk[0][1])
    if key not in SIGNALS:
        return None
    data = b"\n".join(line for _, line in chunk)
    if b"null" in data and _JSON_NULL.search(data):
        return None
    try:
        requests = _read_requests(data, key, max(len(line) for _, line in chunk))
    except _FallbackError:
        return None
    if any(name.startswith("instrumentationLibrary") for name in _keys(requests.schema)):
        return None  # an old OTLP version's names: the row-by-row reader says what it reads
    return _Parsed(key, data, requests)


def _keys(schema: Mapping[str, PolarsDataType]) -> Iterator[str]:
    """Every field name of a parsed chunk, at any depth (the object keys the JSON holds)."""
    for name, dtype in schema.items():
        yield name
        while isinstance(dtype, pl.List):
            dtype = dtype.inner
        if isinstance(dtype, pl.Struct):
            yield from _keys(dtype.to_schema())


def _no_parse(chunk: list[tuple[int, bytes]]) -> None:
    """No parsing: every chunk is read row by row."""


_T = TypeVar("_T")
_R = TypeVar("_R")


def _ahead(
    items: Iterator[_T], work: Callable[[_T], _R], pool: ThreadPoolExecutor
) -> Iterator[tuple[_T, Future[_R]]]:
    """Each item with ``work`` on it running in ``pool``, one item ahead: while the caller
    handles item k, item k + 1 is read (here) and worked on (there). An error reading item
    k + 1 comes after item k, as it would without the look-ahead. (The caller owns the pool:
    shut down as the caller's block ends, not when this generator is collected.)"""
    pending: tuple[_T, Future[_R]] | None = None
    while True:
        try:
            item = next(items, None)
        except Exception:
            if pending is not None:
                yield pending
            raise
        if item is None:
            break
        job = (item, pool.submit(work, item))
        if pending is not None:
            yield pending
        pending = job
    if pending is not None:
        yield pending


def _fast_frame(parsed: _Parsed, lines: int) -> pl.DataFrame | None:
    """The events of a chunk of export requests, or ``None`` when it holds none."""
    data, signal_key, requests = parsed.data, parsed.key, parsed.requests
    if (
        requests.height != lines
        or requests[signal_key].null_count()
        or any(requests[k].null_count() < lines for k in requests.columns if k != signal_key)
    ):
        raise _FallbackError  # another signal, or keys that are no signal, on some lines
    scope_key, items_key, _ = _NESTING[signal_key]
    resources = _explode(requests.select(signal_key), signal_key).with_row_index("r")
    if scope_key not in resources.columns or resources[scope_key].null_count():
        raise _FallbackError  # no scopes: the row-by-row reader says why (an old OTLP version?)
    scopes = _explode(resources.select("r", scope_key), scope_key).with_row_index("s")
    if items_key not in scopes.columns:
        raise _FallbackError
    items = _explode(scopes.select("r", "s", items_key), items_key).with_row_index("row")
    n = items.height
    if not n:
        return None
    resource = _column(resources, "resource", resources.schema.get("resource", pl.Null()))
    res_attrs = _explode(pl.DataFrame({"id": resources["r"], "a": _attributes_of(resource)}), "a")
    columns: dict[str, pl.Series] = {}
    seen = [_entries(res_attrs, resources.height, prefix="resource.")]
    by_resource = _columns(seen[0])
    by_scope = _scope_columns(scopes, seen)
    columns.update({k: v.gather(items["r"]) for k, v in by_resource.items()})
    columns.update({k: v.gather(items["s"]) for k, v in by_scope.items()})
    reserved: tuple[str, ...] = _ORDER[SIGNALS[signal_key]]
    fixed = _span_columns(items) if signal_key == "resourceSpans" else _log_columns(items)
    if fixed.keys() & columns.keys():
        raise _FallbackError
    columns.update(fixed)
    attrs = _explode(items.select(pl.col("row").alias("id"), pl.col("attributes").alias("a")), "a")
    entries = _entries(attrs, n, prefix="", reserved=reserved)
    seen.append(entries)
    if signal_key == "resourceLogs":
        entries.other.extend(_body_entries(items, seen))
    named = _columns(entries)
    if named.keys() & columns.keys():
        raise _FallbackError
    columns.update(named)
    if any(e.empty for e in seen) and _UNKNOWN_KIND.search(data):
        raise _FallbackError  # a value of a kind the row-by-row reader names
    order = _ORDER[SIGNALS[signal_key]]
    kept = {k: v.alias(k) for k, v in columns.items() if v.null_count() < n}
    names = [c for c in order if c in kept] + sorted(c for c in kept if c not in order)
    return pl.DataFrame([kept[c] for c in names])


@dataclass(frozen=True)
class OtlpRead:
    """An OTLP file read through the text cache: the lazy scan of its Parquet copy, that
    copy's path, the signal (``spans`` or ``logs``) and the malformed lines skipped."""

    frame: pl.LazyFrame
    parquet: str
    signal: str
    skipped: int


def read_otlp(kind: FileKind, *, skip_bad_lines: bool = False) -> OtlpRead:
    """Read an OTLP JSON file of spans or log records (streamed, through the text cache)."""
    path = cache.entry(
        kind,
        f"otlp skip={skip_bad_lines}",
        lambda out: _convert(kind, out, skip_bad_lines=skip_bad_lines),
    )
    try:
        meta = pl.read_parquet_metadata(path)
        frame = pl.scan_parquet(path, hive_partitioning=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SourceError(
            f"could not read the cached copy of {kind.path} ({path}): {first_line(exc)}; "
            "delete it and run again"
        ) from None
    return OtlpRead(frame, str(path), meta[_SIGNAL_KEY], int(meta.get(cache.SKIPPED_KEY, "0")))
