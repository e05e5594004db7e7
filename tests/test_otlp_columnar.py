"""The columnar OTLP reader against a naive pure-Python flattening, on generated exports
with every attribute value type; its fallbacks; and bad input while streaming.

The naive flattening below is written from the documented rules (the module's docstring),
not from the reader's code: one row per span or log record, resource and scope attributes
prefixed, maps as dotted names, types from the set of Python types a column holds.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from bubbleup.io import cache, otlp
from bubbleup.io.paths import FileKind
from bubbleup.pipeline.load import load
from tests.test_cli_errors import assert_error, run

T0 = 1_764_000_000_000_000_000
KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
CODES = ("unset", "ok", "error")


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty text cache for one test."""
    root = tmp_path / "cache"
    monkeypatch.setenv("BUBBLEUP_CACHE_DIR", str(root))
    return root / f"text-v{cache.VERSION}"


# --- generating exports ------------------------------------------------------------------


def _kv(key: str, value: dict[str, Any] | None) -> dict[str, Any]:
    return {"key": key} if value is None else {"key": key, "value": value}


def _scalar(rng: random.Random) -> dict[str, Any]:
    """A value of a random kind (no double: a double read as text is written as polars
    writes it when chunks of different types are joined, and as Python does within one)."""
    kind = rng.randrange(4)
    if kind == 0:
        return {"stringValue": rng.choice(["a", "b", 'é"q', ""])}
    if kind == 1:
        return {"intValue": str(rng.randrange(-(2**40), 2**40))}
    if kind == 2:
        return {"boolValue": rng.random() < 0.5}
    return {"bytesValue": base64.b64encode(bytes([rng.randrange(256)] * 3)).decode()}


def _attributes(rng: random.Random, i: int) -> list[dict[str, Any]]:
    """Every value type: text, int (as JSON text), double, bool, bytes, arrays (of one type,
    mixed, empty, nested, holding a map), maps (nested), a missing and an empty value."""
    attrs = [
        _kv("http.route", {"stringValue": rng.choice(["/a", "/b", "/c"])}),
        _kv("http.status", {"intValue": str(rng.choice([200, 404, 500]))}),
        _kv("latency", {"doubleValue": rng.random() * 100}),
        _kv("cached", {"boolValue": rng.random() < 0.3}),
        _kv("payload", {"bytesValue": base64.b64encode(bytes([i % 256, 7])).decode()}),
        _kv("tags", {"arrayValue": {"values": [{"stringValue": t} for t in "xy"[: i % 3]]}}),
        _kv("ports", {"arrayValue": {"values": [{"intValue": str(p)} for p in (80, 443)]}}),
        _kv("user", {"kvlistValue": {"values": [
            _kv("id", {"intValue": str(i)}),
            _kv("geo", {"kvlistValue": {"values": [_kv("country", {"stringValue": "fr"})]}}),
        ]}}),
        # a reserved name: the span's own columns keep theirs
        _kv("name", {"stringValue": f"attr-name-{i % 2}"}),
    ]  # fmt: skip
    if i % 4 == 0:
        attrs.append(_kv("missing", None))
        attrs.append(_kv("empty", {}))
    if i % 5 == 0:  # one type in some spans, another in others: text, or Float64
        attrs.append(_kv("mixed", _scalar(rng)))
        attrs.append(_kv("number", {"intValue": "3"} if i % 2 else {"doubleValue": 1.5}))
    if i % 7 == 0:
        attrs.append(_kv("odd_array", {"arrayValue": {"values": [
            {"stringValue": "a"}, {"intValue": "1"}, {"boolValue": True},
            {"arrayValue": {"values": [{"doubleValue": 0.5}]}},
        ]}}))  # fmt: skip
    if i % 11 == 0:
        attrs.append(_kv("sometimes", _scalar(rng)))
    return attrs


def _ids(i: int, base64_ids: bool) -> dict[str, Any]:
    trace, span = f"{i + 1:032x}", f"{i + 1:016x}"
    parent = f"{i // 2 + 1:016x}" if i % 3 else "0" * 16
    if base64_ids:
        return {
            "traceId": base64.b64encode(bytes.fromhex(trace)).decode(),
            "spanId": base64.b64encode(bytes.fromhex(span)).decode(),
            "parentSpanId": "" if not i % 3 else base64.b64encode(bytes.fromhex(parent)).decode(),
        }
    return {"traceId": trace, "spanId": span, "parentSpanId": parent}


def span_requests(n_lines: int, seed: int = 1, *, proto: bool = False) -> Iterator[str]:
    """Export requests of spans; ``proto``: protobuf's JSON mapping (enum names, base64)."""
    rng = random.Random(seed)
    i = 0
    for line in range(n_lines):
        resources = []
        for r in range(1 + line % 2):
            scopes = []
            for s in range(1 + (line + r) % 2):
                spans = []
                for _ in range(rng.randrange(0, 6)):
                    kind = rng.randrange(6)
                    code = rng.randrange(3)
                    span: dict[str, Any] = {
                        **_ids(i, proto),
                        "name": f"op-{i % 4}",
                        "kind": f"SPAN_KIND_{KINDS[kind].upper()}" if proto else kind,
                        "startTimeUnixNano": str(T0 + i * 1000),
                        "endTimeUnixNano": str(T0 + i * 1000 + rng.randrange(10**9)),
                        "attributes": _attributes(rng, i),
                        "events": [{"name": "e", "timeUnixNano": str(T0)}] * (i % 3),
                        "links": [{"traceId": f"{i:032x}", "spanId": f"{i:016x}"}] * (i % 2),
                        "status": {"code": f"STATUS_CODE_{CODES[code].upper()}" if proto
                                   else code, "message": "boom" if code == 2 else ""},
                    }  # fmt: skip
                    if i % 13 == 0:
                        del span["status"], span["kind"]
                    spans.append(span)
                    i += 1
                scope_attrs = [_kv("lib.lang", {"stringValue": "py"})] if s else []
                scopes.append({
                    "scope": {"name": f"lib{s}", "version": "1.0" if s else "",
                              "attributes": scope_attrs},
                    "spans": spans,
                })  # fmt: skip
            resources.append({
                "resource": {"attributes": [
                    _kv("service.name", {"stringValue": f"svc{r}"}),
                    _kv("host", {"kvlistValue": {"values": [_kv("cpu", {"intValue": "8"})]}}),
                ]},
                "scopeSpans": scopes,
            })  # fmt: skip
        yield json.dumps({"resourceSpans": resources})


def log_requests(n_lines: int, seed: int = 2) -> Iterator[str]:
    rng = random.Random(seed)
    i = 0
    for _ in range(n_lines):
        records = []
        for _ in range(rng.randrange(1, 8)):
            body = [
                {"stringValue": rng.choice(["ok", "payment failed"])},
                {"intValue": str(i)},
                {"doubleValue": 2.5},
                {"boolValue": False},
                {"kvlistValue": {"values": [_kv("msg", {"stringValue": "hi"}),
                                            _kv("n", {"intValue": str(i)})]}},
                {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "1"}]}},
                {},
            ][i % 7]  # fmt: skip
            record: dict[str, Any] = {
                "timeUnixNano": str(T0 + i) if i % 3 else "0",
                "observedTimeUnixNano": str(T0 + i + 5),
                "severityNumber": rng.choice([9, 17]),
                "severityText": rng.choice(["INFO", "ERROR", ""]),
                "body": body,
                "attributes": _attributes(rng, i),
                "traceId": f"{i + 1:032x}",
                "spanId": f"{i + 1:016x}" if i % 2 else "",
            }
            if i % 9 == 0:
                del record["body"]
            records.append(record)
            i += 1
        yield json.dumps({"resourceLogs": [{
            "resource": {"attributes": [_kv("service.name", {"stringValue": "svc"})]},
            "scopeLogs": [{"scope": {"name": "logger"}, "logRecords": records}],
        }]})  # fmt: skip


def _write(path: Path, lines: Iterator[str]) -> Path:
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


# --- the naive flattening ----------------------------------------------------------------


def _value(v: dict[str, Any]) -> Any:
    if not v:
        return None
    kind, inner = next(iter(v.items()))
    if kind == "arrayValue":
        return [_value(x) for x in inner.get("values", [])]
    if kind == "kvlistValue":
        return {kv["key"]: _value(kv.get("value", {})) for kv in inner.get("values", [])}
    return {"intValue": int, "doubleValue": float, "boolValue": bool}.get(kind, str)(inner)


def _put(out: dict[str, Any], name: str, value: Any) -> None:
    """``value`` under ``name``; a map's values under ``name.key``."""
    if isinstance(value, dict):
        for k, v in value.items():
            _put(out, f"{name}.{k}", v)
    elif value is not None:
        out[name] = value


def _flatten(
    prefix: str, attrs: list[dict[str, Any]], reserved: tuple[str, ...] = ()
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in attrs:
        name = prefix + kv["key"]
        _put(out, f"attributes.{name}" if name in reserved else name, _value(kv.get("value", {})))
    return out


def _hex(value: str | None, size: int) -> str | None:
    if not value:
        return None
    try:
        raw = bytes.fromhex(value) if len(value) == 2 * size else base64.b64decode(value)
    except ValueError:
        raw = base64.b64decode(value)
    return raw.hex() if any(raw) else None


def _enum(value: Any, names: tuple[str, ...], prefix: str) -> str:
    if value is None:
        return names[0]
    if isinstance(value, int):
        return names[value]
    return str(value).lower().removeprefix(prefix)


def _nanos(value: str | None) -> int | None:
    return int(value) if value and value != "0" else None


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _column(name: str, values: list[Any]) -> pl.Series:
    """A column typed from the Python types it holds (see the module's notes)."""
    if name in ("start_time", "end_time", "time", "observed_time"):
        ns = pl.Series(name, values, dtype=pl.Int64).cast(pl.Datetime("ns"))
        return ns.dt.replace_time_zone("UTC").dt.cast_time_unit("us")
    types = {type(v) for v in values if v is not None}
    if types == {bool}:
        return pl.Series(name, values, dtype=pl.Boolean)
    if types == {int}:
        return pl.Series(name, values, dtype=pl.Int64)
    if types <= {int, float}:
        return pl.Series(name, values, dtype=pl.Float64)
    if types == {list}:
        items = {type(x) for v in values if v is not None for x in v}
        if len(items) == 1 and items <= {str, int, float, bool}:
            dtype = {str: pl.String, int: pl.Int64, float: pl.Float64, bool: pl.Boolean}
            return pl.Series(name, values, dtype=pl.List(dtype[items.pop()]))
        texts = [None if v is None else [_as_text(x) for x in v] for v in values]
        return pl.Series(name, texts, dtype=pl.List(pl.String))
    return pl.Series(name, [None if v is None else _as_text(v) for v in values], dtype=pl.String)


def naive(path: Path) -> pl.DataFrame:
    """Every span or log record of an export file as a row, flattened in plain Python."""
    opener = gzip.open if path.suffix == ".gz" else open
    rows: list[dict[str, Any]] = []
    order: tuple[str, ...] = ()
    with opener(path, "rt") as fh:
        for line in fh:
            request = json.loads(line)
            spans = "resourceSpans" in request
            order = otlp.SPAN_COLUMNS if spans else otlp.LOG_COLUMNS
            for res in request["resourceSpans" if spans else "resourceLogs"]:
                base = _flatten("resource.", res["resource"].get("attributes", []))
                for sc in res["scopeSpans" if spans else "scopeLogs"]:
                    scope = sc.get("scope", {})
                    scoped = {**base, "scope.name": scope.get("name") or None,
                              "scope.version": scope.get("version") or None,
                              **_flatten("scope.", scope.get("attributes", []))}  # fmt: skip
                    for item in sc["spans" if spans else "logRecords"]:
                        row = {**scoped, **(_span(item) if spans else _log(item))}
                        row.update(_flatten("", item.get("attributes", []), order))
                        rows.append(row)
    names = {k for row in rows for k, v in row.items() if v is not None}
    ordered = [c for c in order if c in names] + sorted(names - set(order))
    return pl.DataFrame([_column(c, [row.get(c) for row in rows]) for c in ordered])


def _span(span: dict[str, Any]) -> dict[str, Any]:
    start, end = _nanos(span.get("startTimeUnixNano")), _nanos(span.get("endTimeUnixNano"))
    status = span.get("status", {})
    return {
        "name": span.get("name"),
        "kind": _enum(span.get("kind"), KINDS, "span_kind_"),
        "status.code": _enum(status.get("code"), CODES, "status_code_"),
        "status.message": status.get("message") or None,
        "start_time": start,
        "end_time": end,
        "duration_ms": None if start is None or end is None else (end - start) / 1e6,
        "trace_id": _hex(span.get("traceId"), 16),
        "span_id": _hex(span.get("spanId"), 8),
        "parent_span_id": _hex(span.get("parentSpanId"), 8),
        "events.count": len(span.get("events", [])),
        "links.count": len(span.get("links", [])),
    }


def _log(record: dict[str, Any]) -> dict[str, Any]:
    time, observed = _nanos(record.get("timeUnixNano")), _nanos(record.get("observedTimeUnixNano"))
    row = {
        "time": time if time is not None else observed,
        "observed_time": observed,
        "severity_number": record.get("severityNumber"),
        "severity_text": record.get("severityText") or None,
        "event_name": record.get("eventName") or None,
        "trace_id": _hex(record.get("traceId"), 16),
        "span_id": _hex(record.get("spanId"), 8),
    }
    body = _value(record["body"]) if "body" in record else None
    if isinstance(body, dict):
        _put(row, "body", body)
    elif body is not None:
        row["body"] = body if isinstance(body, str) else _as_text(body)
    return row


# --- the tests ---------------------------------------------------------------------------


def _read(path: Path, *, columnar: bool, out: Path) -> pl.DataFrame:
    """The file converted by :func:`otlp._convert`, columnar (where it can) or row by row."""
    kind = FileKind(str(path), "otlp", "gzip" if path.suffix == ".gz" else None)
    otlp._convert(kind, out, skip_bad_lines=False, columnar=columnar)
    return pl.read_parquet(out)


def _forbidden(self: otlp._Conversion, chunk: list[tuple[int, bytes]]) -> None:
    raise AssertionError(f"lines {chunk[0][0]}-{chunk[-1][0]} fell back to the row reader")


@pytest.fixture
def row_by_row_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if a chunk falls back to the row-by-row reader."""
    monkeypatch.setattr(otlp._Conversion, "rows", _forbidden)


@pytest.mark.parametrize("proto", [False, True], ids=["sdk-json", "protobuf-mapping"])
def test_columnar_reader_equals_the_naive_flattening(
    tmp_path: Path, cache_dir: Path, proto: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "spans.json", span_requests(300, proto=proto))
    expected = naive(path)
    assert expected.height > 1000
    for column, dtype in [("http.status", pl.Int64), ("latency", pl.Float64),
                          ("cached", pl.Boolean), ("payload", pl.String),
                          ("tags", pl.List(pl.String)), ("ports", pl.List(pl.Int64)),
                          ("user.id", pl.Int64), ("user.geo.country", pl.String),
                          ("attributes.name", pl.String), ("mixed", pl.String),
                          ("number", pl.Float64), ("odd_array", pl.List(pl.String)),
                          ("resource.host.cpu", pl.Int64), ("scope.lib.lang", pl.String),
                          ("parent_span_id", pl.String), ("events.count", pl.Int64)]:  # fmt: skip
        assert expected.schema[column] == dtype, column  # the file has every kind
    assert "missing" not in expected.columns
    assert "empty" not in expected.columns
    with monkeypatch.context() as m:
        m.setattr(otlp._Conversion, "rows", _forbidden)
        columnar = load(path).frame.collect()
    assert columnar.equals(expected)
    assert _read(path, columnar=False, out=tmp_path / "rows.parquet").equals(expected)


def test_logs_equal_the_naive_flattening(
    tmp_path: Path, cache_dir: Path, row_by_row_forbidden: None
) -> None:
    path = _write(tmp_path / "logs.json.gz", log_requests(200))
    expected = naive(path)
    assert {"body", "body.msg", "body.n", "severity_number", "time"} <= set(expected.columns)
    assert load(path).frame.collect().equals(expected)


def test_small_chunks_read_like_one(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, row_by_row_forbidden: None
) -> None:
    """A chunk a line: a column missing from some chunks, or typed differently in them
    (int in one, double or text in another), is widened as within one chunk."""
    path = _write(tmp_path / "spans.json", span_requests(120, seed=3))
    whole = _read(path, columnar=True, out=tmp_path / "whole.parquet")
    monkeypatch.setattr(otlp, "CHUNK_BYTES", 1)
    parts = _read(path, columnar=True, out=tmp_path / "parts.parquet")
    assert parts.equals(whole)
    assert parts.equals(naive(path))


def _edit(line: str, change: Any) -> str:
    request = json.loads(line)
    change(request["resourceSpans"][0]["scopeSpans"][0]["spans"][0])
    return json.dumps(request)


def _first_span_attrs(extra: list[dict[str, Any]]) -> Any:
    return lambda span: span["attributes"].extend(extra)


@pytest.mark.parametrize(
    "change",
    [
        _first_span_attrs(
            [
                {"key": "dup", "value": {"stringValue": "a"}},
                {"key": "dup", "value": {"intValue": "2"}},
            ]
        ),
        lambda span: span["attributes"].insert(
            0, {"key": "user.id", "value": {"stringValue": "before the map"}}
        ),
        _first_span_attrs([{"key": "user.id", "value": {"stringValue": "clash"}}]),
        _first_span_attrs(
            [
                {
                    "key": "status",
                    "value": {
                        "kvlistValue": {
                            "values": [{"key": "code", "value": {"stringValue": "mine"}}]
                        }
                    },
                }
            ]
        ),
        _first_span_attrs([{"key": "resource.service.name", "value": {"stringValue": "x"}}]),
        _first_span_attrs([{"key": "time", "value": {"intValue": "5"}}]),
        _first_span_attrs([{"key": "n", "value": {"intValue": 7}}]),  # a number, not text
        _first_span_attrs([{"key": "n", "value": {"doubleValue": "NaN"}}]),
        _first_span_attrs([{"key": "two", "value": {"intValue": "1", "stringValue": "a"}}]),
        lambda span: span.update(kind="2"),
        lambda span: span.update(startTimeUnixNano=int(span["startTimeUnixNano"])),
        lambda span: [
            a.update(key="attributes.name") for a in span["attributes"] if a["key"] == "name"
        ],
    ],
    ids=[
        "duplicate-key",
        "dotted-name-then-map",
        "map-then-dotted-name",
        "attribute-on-a-span-column",
        "attribute-on-a-resource-column",
        "attribute-named-time",
        "int-as-number",
        "double-as-text",
        "two-kinds",
        "kind-as-text",
        "time-as-number",
        "attributes.name-in-one-span-name-in-others",  # one column, from two keys
    ],
)
def test_what_the_columnar_reader_cannot_read_reads_as_row_by_row(
    tmp_path: Path, change: Any
) -> None:
    lines = list(span_requests(40, seed=5))
    lines[20] = _edit(lines[20], change)
    path = _write(tmp_path / "odd.json", iter(lines))
    columnar = _read(path, columnar=True, out=tmp_path / "columnar.parquet")
    assert columnar.equals(_read(path, columnar=False, out=tmp_path / "rows.parquet"))


def test_row_by_row_errors_stay(tmp_path: Path, runner: CliRunner, cache_dir: Path) -> None:
    """An unknown value kind or an explicit null is still the row reader's error."""
    lines = list(span_requests(30, seed=6))
    for n, (bad, message) in enumerate([
        ({"key": "x", "value": {"fancyValue": 1}}, "has an unknown value kind 'fancyValue'"),
        ({"key": "x", "value": None}, ".value is a NoneType, not an object"),
    ]):  # fmt: skip
        edited = list(lines)
        edited[17] = _edit(edited[17], _first_span_attrs([bad]))
        path = _write(tmp_path / f"bad{n}.json", iter(edited))
        code, _, err = run(runner, "columns", str(path))
        assert_error(code, err, 1, f"{path} line 18 has an unknown OTLP structure: ")
        assert message in err
    assert [p.name for p in cache_dir.iterdir()] == []


def test_malformed_line_in_a_long_file(
    tmp_path: Path, runner: CliRunner, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken line in the middle of a file read in many chunks: named by file and line,
    nothing left in the cache; with --skip-bad-lines a counted skip."""
    monkeypatch.setattr(otlp, "CHUNK_BYTES", 64 * 1024)
    lines = list(span_requests(1500, seed=7))
    lines[776] = lines[776][:300]
    path = _write(tmp_path / "long.json", iter(lines))
    code, _, err = run(runner, "columns", str(path))
    assert_error(code, err, 1, f"{path} line 777 is not valid JSON (")
    assert [p.name for p in cache_dir.iterdir()] == []
    skipped = load(path, skip_bad_lines=True)
    assert skipped.skipped_lines == {str(path): 1}
    good = _write(tmp_path / "good.json", iter(lines[:776] + lines[777:]))
    assert skipped.frame.collect().equals(naive(good))


def test_truncated_gzip(tmp_path: Path, runner: CliRunner, cache_dir: Path) -> None:
    whole = _write(tmp_path / "whole.json.gz", span_requests(400, seed=8)).read_bytes()
    path = tmp_path / "cut.json.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    code, _, err = run(runner, "columns", str(path))
    assert_error(code, err, 1, f"could not read {path}: the gzip stream breaks off after line")
    assert [p.name for p in cache_dir.iterdir()] == []


def test_bad_line_before_a_truncated_gzip(
    tmp_path: Path, runner: CliRunner, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A malformed line, then the gzip stream breaks off in the next chunk: the malformed
    line is reported, as it comes first (the next chunk is read and parsed ahead, while this
    one is converted)."""
    monkeypatch.setattr(otlp, "CHUNK_BYTES", 1)  # a chunk a line
    lines = list(span_requests(60, seed=9))
    path = tmp_path / "cut.json.gz"

    def write(head: list[str]) -> None:  # two gzip members, the second cut short
        tail = gzip.compress(("\n".join(lines[40:]) + "\n").encode())
        path.write_bytes(gzip.compress(("\n".join(head) + "\n").encode()) + tail[:40])

    write(lines[:40])
    code, _, err = run(runner, "columns", str(path))
    assert_error(code, err, 1, f"could not read {path}: the gzip stream breaks off after line 40 ")
    write([*lines[:39], lines[39][:200]])
    code, _, err = run(runner, "columns", str(path))
    assert_error(code, err, 1, f"{path} line 40 is not valid JSON (")
    assert [p.name for p in cache_dir.iterdir()] == []


def test_old_otlp_version_in_a_chunk(tmp_path: Path, runner: CliRunner, cache_dir: Path) -> None:
    """A request of an old OTLP version (``instrumentationLibrarySpans``) among good ones is
    the row-by-row reader's error, naming its line; one that has ``instrumentationLibrary``
    beside its spans reads as the row-by-row reader reads it."""
    lines = list(span_requests(30, seed=10))
    old = json.loads(lines[11])
    old["resourceSpans"][0]["instrumentationLibrarySpans"] = old["resourceSpans"][0].pop(
        "scopeSpans"
    )
    path = _write(tmp_path / "old.json", iter([*lines[:11], json.dumps(old), *lines[12:]]))
    code, _, err = run(runner, "columns", str(path))
    assert_error(code, err, 1, f"{path} line 12 has an unknown OTLP structure: ")
    assert "has instrumentationLibrarySpans, resource but no scopeSpans (an old OTLP" in err
    both = json.loads(lines[11])
    both["resourceSpans"][0]["scopeSpans"][0]["instrumentationLibrary"] = {"name": "old"}
    path = _write(tmp_path / "both.json", iter([*lines[:11], json.dumps(both), *lines[12:]]))
    columnar = _read(path, columnar=True, out=tmp_path / "columnar.parquet")
    assert columnar.equals(_read(path, columnar=False, out=tmp_path / "rows.parquet"))


@pytest.mark.slow
def test_ctrl_c_while_the_next_chunk_is_parsed(tmp_path: Path, cache_dir: Path) -> None:
    """Ctrl-C in the middle of a conversion (a chunk written, the next one parsing on the
    look-ahead thread): exit 130, nothing on stderr, nothing left in the cache."""
    lines = list(span_requests(300, seed=12))
    text = ("\n".join(lines) + "\n").encode()
    path = tmp_path / "big.json"
    path.write_bytes(text * (4 * otlp.CHUNK_BYTES // len(text) + 1))  # 4 chunks and more
    proc = subprocess.Popen(
        [sys.executable, "-m", "bubbleup", "columns", str(path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def part_written() -> bool:
        folder = cache_dir
        return folder.is_dir() and any(p.stat().st_size for p in folder.iterdir())

    while proc.poll() is None and not part_written():
        time.sleep(0.005)
    assert proc.poll() is None, "the conversion ended before a chunk was seen written"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert err.strip() == ""
    assert [p.name for p in cache_dir.iterdir()] == []
