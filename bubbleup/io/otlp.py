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

The file is read as a stream, :data:`BATCH` events at a time, into a Parquet file of the
text cache (:mod:`bubbleup.io.cache`), so memory stays flat as the file grows and a later
run on the unchanged file reuses the converted events. (A single pretty-printed request is
read whole.)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from bubbleup.errors import SourceError, first_line
from bubbleup.io import cache
from bubbleup.io.paths import FileKind
from bubbleup.io.text import check_line, iter_lines

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


def _convert(kind: FileKind, out: Path, *, skip_bad_lines: bool) -> None:
    """Stream an OTLP file into the Parquet file ``out``, :data:`BATCH` events at a time."""
    with contextlib.ExitStack() as stack:
        parts: list[Path] = []
        table = _Table()
        signal: str | None = None
        skipped = 0

        def flush(order: tuple[str, ...]) -> None:
            if table.rows:
                part = stack.enter_context(cache.scratch(out.parent, ".parquet"))
                table.frame(order).write_parquet(part)
                parts.append(part)

        for number, line in _requests(kind):
            reason = check_line(line)
            if reason is not None:
                if skip_bad_lines:
                    skipped += 1
                    continue
                raise SourceError(
                    f"{kind.path} line {number} is not valid JSON ({reason}); fix the line or "
                    "pass --skip-bad-lines to skip such lines"
                )
            request = json.loads(line)
            this, key = _signal_of(kind, number, request)
            if signal is not None and this != signal:
                raise SourceError(
                    f"{kind.path} line {number} holds OTLP {this} but earlier lines hold "
                    f"{signal}; put traces and logs in separate files and read them separately"
                )
            signal = this
            try:
                for row in _request_rows(request, key):
                    table.add(row)
            except _MalformedError as exc:
                raise SourceError(
                    f"{kind.path} line {number} has an unknown OTLP structure: {exc}; is it an "
                    "OTLP JSON export (one request per line)?"
                ) from None
            if table.rows >= BATCH:
                flush(_ORDER[signal])
                table = _Table()
        if signal is None:
            raise SourceError(f"{kind.path} holds no OTLP export request; is it empty?")
        flush(_ORDER[signal])
        meta = {cache.SKIPPED_KEY: str(skipped), _SIGNAL_KEY: signal}
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
