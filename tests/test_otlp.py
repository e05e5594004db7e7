"""OTLP JSON exports written by the real OpenTelemetry Python SDK, with a planted cause.

Spans and log records go through the SDK's processors to its OTLP JSON file exporters,
which write one export request per line as the Collector's file exporter does. A second
file is written with the OTLP protobuf encoder and protobuf's own JSON mapping (base64
ids, enum names), which some tools write instead.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import polars as pl
import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.json.file._log_exporter import FileLogExporter
from opentelemetry.exporter.otlp.json.file.metric_exporter import FileMetricExporter
from opentelemetry.exporter.otlp.json.file.trace_exporter import FileSpanExporter
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from typer.testing import CliRunner

import bubbleup
from bubbleup.interfaces.cli import app
from bubbleup.pipeline.load import load

DEPLOY = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)
ROUTES = ("/checkout", "/cart", "/search", "/home", "/item")


def _ns(t: dt.datetime) -> int:
    return int(t.timestamp() * 1e9)


def _fails(version: str, route: str, rng: random.Random) -> bool:
    """The planted cause: /checkout on version 1.5.0 fails 60% of the time; else 2%."""
    return rng.random() < (0.6 if (version, route) == ("1.5.0", "/checkout") else 0.02)


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ReadableSpan]]:
    """Two hours of traffic: version 1.4.0 until the deploy at 14:00, then 1.5.0.

    The SDK also hands every span to an in-memory exporter, to compare with the file.
    """
    path = tmp_path_factory.mktemp("otlp") / "traces.json"
    finished: list[ReadableSpan] = []
    rng = random.Random(5)
    start = DEPLOY - dt.timedelta(hours=1)
    for version in ("1.4.0", "1.5.0"):
        resource = Resource.create(
            {"service.name": "shop", "service.version": version, "deployment.environment": "prod"}
        )
        provider = TracerProvider(resource=resource)
        memory = InMemorySpanExporter()
        provider.add_span_processor(
            BatchSpanProcessor(FileSpanExporter(path), max_export_batch_size=200)
        )
        provider.add_span_processor(SimpleSpanProcessor(memory))
        tracer = provider.get_tracer("shop.http", "2.1.0")
        for i in range(900):
            t = (
                start
                + dt.timedelta(seconds=4 * i)
                + (dt.timedelta(hours=1) if version == "1.5.0" else dt.timedelta())
            )
            route = ROUTES[rng.randrange(len(ROUTES))]
            failed = _fails(version, route, rng)
            root = tracer.start_span(
                f"GET {route}",
                kind=SpanKind.SERVER,
                start_time=_ns(t),
                attributes={
                    "http.route": route,
                    "http.request.method": "GET",
                    "http.response.status_code": 500 if failed else 200,
                    "user.tier": rng.choice(["free", "pro"]),
                },
            )
            child = tracer.start_span(
                "SELECT orders",
                kind=SpanKind.CLIENT,
                start_time=_ns(t) + 1_000_000,
                context=_context(root),
                attributes={"db.system": "postgresql"},
            )
            child.end(end_time=_ns(t) + 5_000_000)
            if failed:
                root.set_status(Status(StatusCode.ERROR, "payment backend timeout"))
            root.end(end_time=_ns(t) + rng.randrange(10, 90) * 1_000_000)
        provider.shutdown()
        finished.extend(memory.get_finished_spans())
    return path, finished


def _context(span: object) -> object:
    from opentelemetry import trace

    return trace.set_span_in_context(span)  # type: ignore[arg-type]


def test_spans_become_events_with_otlp_columns(
    traces: tuple[Path, list[ReadableSpan]],
) -> None:
    path, finished = traces
    lines = path.read_text().splitlines()
    assert len(lines) > 5
    assert all(json.loads(x).keys() == {"resourceSpans"} for x in lines)
    events = load(path).frame.collect()
    assert events.height == len(finished) == 3600
    for column in (
        "name",
        "kind",
        "status.code",
        "status.message",
        "duration_ms",
        "trace_id",
        "span_id",
        "parent_span_id",
        "start_time",
        "end_time",
        "resource.service.name",
        "resource.service.version",
        "scope.name",
        "scope.version",
        "http.route",
        "http.response.status_code",
        "db.system",
    ):
        assert column in events.columns, column
    assert events.schema["start_time"] == pl.Datetime("us", "UTC")
    assert events.schema["http.response.status_code"] == pl.Int64
    spans = {f"{s.context.span_id:016x}": s for s in finished}
    assert set(events["span_id"]) == set(spans)
    row = events.filter(pl.col("parent_span_id").is_not_null()).row(0, named=True)
    sdk = spans[row["span_id"]]
    assert row["trace_id"] == f"{sdk.context.trace_id:032x}"
    assert row["parent_span_id"] == f"{sdk.parent.span_id:016x}"
    assert row["kind"] == "client"
    assert row["duration_ms"] == pytest.approx((sdk.end_time - sdk.start_time) / 1e6)
    assert row["scope.name"] == "shop.http"
    assert set(events["status.code"]) == {"unset", "error"}
    assert events.filter(pl.col("kind") == "server")["parent_span_id"].null_count() == 1800


def test_planted_cause_found_in_spans(traces: tuple[Path, list[ReadableSpan]]) -> None:
    path, _ = traces
    # server spans only; the status message and code are the failure itself
    result = bubbleup.analyze(
        path,
        where="\"status.code\" = 'error'",
        filter="kind = 'server'",
        exclude=["status.message", "http.response.status_code"],
    )
    first = result.explanations.row(0, named=True)
    assert first["label"] == (
        "\"http.route\" = '/checkout' AND \"resource.service.version\" = '1.5.0'"
    )
    assert first["significant"]
    route = result.explanations.filter(pl.col("label") == "\"http.route\" = '/checkout'")
    assert route["aliases"].item().to_list() == ["name = 'GET /checkout'"]
    assert result.timeline is not None
    assert result.timeline.column == "start_time"


def test_before_after_on_spans(traces: tuple[Path, list[ReadableSpan]], runner: CliRunner) -> None:
    path, _ = traces
    out = runner.invoke(
        app,
        [
            "analyze",
            str(path),
            "--after",
            "2026-11-20T14:00:00Z",
            "--where",
            "\"status.code\" = 'error'",
            "--filter",
            "kind = 'server'",
            "-x",
            "status.*,http.response.*",
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["timeline"]["after"] == "2026-11-20T14:00:00+00:00"
    assert doc["selection"]["predicate"] == (
        "\"status.code\" = 'error' AND start_time >= TIMESTAMPTZ '2026-11-20 14:00:00+00:00'"
    )
    # the last span starts at 14:59:56: the after side ends a second later, 59:57 after
    # the deploy, and the baseline is the 59:57 before it
    assert doc["baseline"]["predicate"] == (
        "start_time >= TIMESTAMPTZ '2026-11-20 13:00:03+00:00' "
        "AND start_time < TIMESTAMPTZ '2026-11-20 14:00:00+00:00'"
    )
    # every span after the deploy runs 1.5.0 and none before: it restates --after; the
    # failing route is the answer
    restated = [r["label"] for r in doc["restatements"]]
    assert "\"resource.service.version\" = '1.5.0'" in restated
    assert doc["explanations"][0]["label"] == "\"http.route\" = '/checkout'"


def test_columns_command_on_otlp(
    traces: tuple[Path, list[ReadableSpan]], runner: CliRunner
) -> None:
    out = runner.invoke(app, ["columns", str(traces[0]), "--format", "json"])
    assert out.exit_code == 0, out.stderr
    cols = {c["column"]: c for c in json.loads(out.stdout)}
    assert cols["resource.service.version"]["distinct"] == 2
    assert cols["start_time"]["kind"] == "time"


def test_protobuf_json_mapping_reads_the_same(
    traces: tuple[Path, list[ReadableSpan]],
    tmp_path: Path,
) -> None:
    """protobuf's JSON mapping: base64 ids, enum names; the same events come out."""
    _, spans = traces
    path = tmp_path / "proto.jsonl"
    with path.open("w") as fh:
        for i in range(0, len(spans), 500):
            fh.write(json.dumps(MessageToDict(encode_spans(spans[i : i + 500]))) + "\n")
    assert '"SPAN_KIND_SERVER"' in path.read_text()
    proto = load(path).frame.collect()
    ours = proto.select("span_id", "trace_id", "kind", "status.code", "http.route").sort("span_id")
    ref = load(traces[0]).frame.collect().select(ours.columns).sort("span_id")
    assert ours.equals(ref)


def test_logs_become_events_and_show_the_cause(tmp_path: Path) -> None:
    path = tmp_path / "logs.json"
    rng = random.Random(9)
    for version in ("1.4.0", "1.5.0"):
        provider = LoggerProvider(
            resource=Resource.create({"service.name": "shop", "service.version": version})
        )
        provider.add_log_record_processor(BatchLogRecordProcessor(FileLogExporter(path)))
        logger = provider.get_logger("shop.payments", "2.1.0")
        for i in range(600):
            route = ROUTES[i % len(ROUTES)]
            failed = _fails(version, route, rng)
            logger.emit(
                timestamp=_ns(DEPLOY + dt.timedelta(seconds=i)),
                severity_number=SeverityNumber.ERROR if failed else SeverityNumber.INFO,
                severity_text="ERROR" if failed else "INFO",
                body="payment failed" if failed else "ok",
                attributes={"http.route": route, "retries": i % 3},
            )
        provider.shutdown()
    events = load(path).frame.collect()
    assert events.height == 1200
    for column in (
        "time",
        "severity_number",
        "severity_text",
        "body",
        "resource.service.version",
        "scope.name",
        "http.route",
        "retries",
    ):
        assert column in events.columns, column
    result = bubbleup.analyze(
        path, where="severity_text = 'ERROR'", exclude=["body", "severity_number"]
    )
    top = set(result.explanations["label"].head(3).to_list())
    assert {"\"http.route\" = '/checkout'", "\"resource.service.version\" = '1.5.0'"} <= top


def test_otlp_metrics_are_refused_by_name(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "metrics.json"
    reader = PeriodicExportingMetricReader(
        FileMetricExporter(path), export_interval_millis=3_600_000
    )
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("shop").create_counter("orders").add(3)
    provider.shutdown()
    out = runner.invoke(app, ["analyze", str(path), "--where", "x = 1"])
    assert out.exit_code == 1
    assert out.stderr.strip() == (
        f"Error: {path} line 1 is not an OTLP export request of traces or logs: OTLP metrics "
        'are not read (only traces and logs); expected one {"resourceSpans": [...]} or '
        '{"resourceLogs": [...]} object per line'
    )


def test_otlp_with_unknown_structure(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "broken.json"
    good = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": []}]}]}
    bad = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": {"name": "x"}}]}]}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    out = runner.invoke(app, ["columns", str(path)])
    assert out.exit_code == 1
    assert out.stderr.strip() == (
        f"Error: {path} line 2 has an unknown OTLP structure: resourceSpans[0].scopeSpans[0]"
        ".spans is a dict, not a list; is it an OTLP JSON export (one request per line)?"
    )


def test_truncated_last_line_and_pretty_printed_request(
    traces: tuple[Path, list[ReadableSpan]],
    tmp_path: Path,
    runner: CliRunner,
) -> None:
    """A collector killed mid-write leaves half a line: an error, or skipped on request."""
    path, _ = traces
    lines = path.read_text().splitlines()
    cut = tmp_path / "cut.json"
    cut.write_text("\n".join(lines[:3]) + "\n" + lines[3][:500] + "\n")
    out = runner.invoke(app, ["columns", str(cut)])
    assert out.exit_code == 1
    assert out.stderr.startswith(f"Error: {cut} line 4 is not valid JSON (")
    assert out.stderr.strip().endswith("fix the line or pass --skip-bad-lines to skip such lines")
    kept = load(cut, skip_bad_lines=True)
    expected = sum(
        len(s["spans"])
        for x in lines[:3]
        for r in json.loads(x)["resourceSpans"]
        for s in r["scopeSpans"]
    )
    assert kept.frame.collect().height == expected
    assert kept.skipped_lines == {str(cut): 1}
    pretty = tmp_path / "one.json"
    pretty.write_text(json.dumps(json.loads(lines[0]), indent=2))
    first = sum(
        len(s["spans"]) for r in json.loads(lines[0])["resourceSpans"] for s in r["scopeSpans"]
    )
    assert load(pretty).frame.collect().height == first


def _span_line(attrs: dict[str, dict[str, object]], n: int = 1) -> str:
    span = {
        "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
        "name": "GET /", "kind": 2, "startTimeUnixNano": "1764000000000000000",
        "endTimeUnixNano": "1764000000500000000",
        "attributes": [{"key": k, "value": v} for k, v in attrs.items()],
    }  # fmt: skip
    scope = {"scope": {"name": "t"}, "spans": [span] * n}
    return json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [scope]}]}) + "\n"


def test_int_value_beyond_64_bits(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "big.json"
    path.write_text(
        _span_line({"n": {"intValue": "7"}}) + _span_line({"n": {"intValue": "1" * 26}})
    )
    out = runner.invoke(app, ["analyze", str(path), "--where", "n = 7"])
    assert out.exit_code == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0] == (
        f"Error: {path} line 2 has an unknown OTLP structure: resourceSpans[0].scopeSpans[0]"
        f".spans[0].attributes[0].value.intValue holds '{'1' * 26}', beyond 64 bits; is it an "
        "OTLP JSON export (one request per line)?"
    )
    assert "Traceback" not in out.stderr


def test_batches_give_the_same_events_as_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, traces: tuple[Path, list[ReadableSpan]]
) -> None:
    """Streamed in batches of 3 spans, types that differ between batches are widened as
    they are within one batch (int and float to Float64, anything else to text)."""
    from bubbleup.io import otlp

    path = tmp_path / "mixed.json"
    path.write_text(
        _span_line({"a": {"intValue": "1"}, "b": {"intValue": "5"}}, 3)
        + _span_line({"a": {"doubleValue": 2.5}, "b": {"stringValue": "x"}}, 3)
        + _span_line({"a": {"intValue": "3"}, "c": {"boolValue": True}}, 3)
    )
    whole = load(path).frame.collect()
    monkeypatch.setenv("BUBBLEUP_CACHE_DIR", str(tmp_path / "other-cache"))
    monkeypatch.setattr(otlp, "BATCH", 3)
    batched = load(path).frame.collect()
    assert batched.schema["a"] == pl.Float64
    assert batched.schema["b"] == pl.String
    assert batched["b"].to_list() == ["5"] * 3 + ["x"] * 3 + [None] * 3
    assert batched.equals(whole)
    real, _ = traces  # the SDK's export, batched small, reads like the whole
    reference = load(real).frame.collect()
    monkeypatch.setenv("BUBBLEUP_CACHE_DIR", str(tmp_path / "third-cache"))
    assert load(real).frame.collect().equals(reference)
