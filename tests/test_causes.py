"""Causes, not symptoms: outcomes and restatements never hide the planted cause.

Each scenario plants a cause in the context (kernel AND build tool, a region during an
outage, a route on one version) and gives the selected events the symptoms real events
have: an exit code that restates the selection, a memory peak, a short duration, a span
status. The cause must come first; no outcome or restatement may be a significant
explanation; the restatement must be listed as such; every label must paste back into
``--where``.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from opentelemetry.exporter.otlp.json.file.trace_exporter import FileSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from planted import items_of
from planted_causes import OUTAGE, builds, outage
from typer.testing import CliRunner

import bubbleup
from bubbleup.interfaces.cli import app
from bubbleup.pipeline.explain import RESTATEMENT_OVERLAP
from bubbleup.pipeline.outcomes import QUANTILES, weighted_quantiles
from bubbleup.pipeline.roles import convention, outcome_columns

CAUSE = {("kernel", "=", "6.1"), ("build_tool", "=", "gradle")}


def _attributes(explanation: dict) -> set[str]:
    return {i["attribute"] for i in explanation["items"]}


def _no_symptom_explains(doc: dict, symptoms: set[str]) -> None:
    for e in doc["explanations"]:
        if e["significant"]:
            assert not _attributes(e) & symptoms, e["label"]


def _labels_paste_back(result: bubbleup.Result, source: object, rows: int = 4) -> None:
    """Each label, run as --where, selects exactly the events the explanation counts."""
    frames = [result.explanations.head(rows), result.restatements]
    for frame in frames:
        for r in frame.iter_rows(named=True):
            again = bubbleup.analyze(source, where=r["label"], max_order=1, weight=False)
            assert again.totals.selection_events == r["selection_events"] + r["baseline_events"], r[
                "label"
            ]


@pytest.mark.parametrize("name", ["code", "peak", "all"])
def test_cause_first_with_symptoms(name: str) -> None:
    frame, where, cause = builds(name)
    result = bubbleup.analyze(frame, where=where, outcomes=["mem_hwm"] if name == "all" else None)
    doc = result.to_dict()
    first = doc["explanations"][0]
    assert items_of(first) == cause, first["label"]
    assert first["significant"]
    assert first["explained_by"] is None
    symptoms = {"exit_code", "peak_memory_pct", "duration_ms", "mem_hwm"} & set(frame.columns)
    _no_symptom_explains(doc, symptoms)
    outcomes = {o["attribute"] for o in doc["outcomes"]}
    assert outcomes == symptoms
    if name in ("code", "all"):
        restated = doc["restatements"][0]
        assert restated["label"] == "exit_code = 137"
        assert restated["overlap"] == pytest.approx(1.0)
        assert restated["selection_share"] == 1.0


def test_restatement_is_listed_first_in_the_table(runner: CliRunner, tmp_path: Path) -> None:
    frame, where, _ = builds("code")
    path = tmp_path / "builds.parquet"
    frame.write_parquet(path)
    out = runner.invoke(app, ["analyze", str(path), "--where", where, "--top", "3"])
    assert out.exit_code == 0, out.stderr
    lines = out.stdout.splitlines()
    restates = [i for i, line in enumerate(lines) if "restates" in line]
    table = next(i for i, line in enumerate(lines) if "┃ explanation" in line)
    assert restates
    assert restates[0] < table
    assert "the selection is also exit_code = 137" in lines[restates[0]]
    assert "outcomes" in out.stdout
    assert "exit_code" in out.stdout


def test_declared_outcome() -> None:
    frame, where, cause = builds("declared")
    plain = bubbleup.analyze(frame, where=where)
    # without --outcome, the unconventional symptom leads and hides the cause
    assert "mem_hwm" in _attributes(plain.to_dict()["explanations"][0])
    result = bubbleup.analyze(frame, where=where, outcomes=["mem_*"])
    doc = result.to_dict()
    assert items_of(doc["explanations"][0]) == cause
    _no_symptom_explains(doc, {"mem_hwm"})
    [row] = doc["outcomes"]
    assert row["attribute"] == "mem_hwm"
    assert row["reason"] == "declared with --outcome"
    assert row["selection_quantiles"][0] >= 98.5 > row["baseline_quantiles"][0]


def test_declared_context_keeps_a_conventional_name_a_candidate() -> None:
    frame, where, _ = builds("peak")
    result = bubbleup.analyze(frame, where=where, context=["peak_memory_pct"])
    assert result.outcomes.height == 0
    ranked = {i["attribute"] for e in result.to_dict()["explanations"] for i in e["items"]}
    ranked |= {i["attribute"] for e in result.to_dict()["restatements"] for i in e["items"]}
    assert "peak_memory_pct" in ranked


def test_unknown_outcome_column_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    frame, where, _ = builds("peak")
    path = tmp_path / "b.parquet"
    frame.write_parquet(path)
    out = runner.invoke(app, ["analyze", str(path), "--where", where, "--outcome", "peak_mem"])
    assert out.exit_code == 1
    assert out.stderr.strip().startswith("Error: column 'peak_mem' in --outcome not found")
    assert "did you mean 'peak_memory_pct'" in out.stderr
    assert "Traceback" not in out.stderr


def test_regional_outage_is_one_answer_with_its_time_window(tmp_path: Path) -> None:
    frame, where, _ = outage()
    path = tmp_path / "builds.parquet"
    frame.write_parquet(path)
    result = bubbleup.analyze(path, where=where)
    doc = result.to_dict()
    first = doc["explanations"][0]
    assert first["significant"]
    assert {(i["attribute"], i["op"]) for i in first["items"]} == {
        ("region", "="),
        ("ts", "between"),
    }
    window = next(i for i in first["items"] if i["attribute"] == "ts")
    low, high = (dt.datetime.fromisoformat(window[k]) for k in ("low", "high"))
    # to the bin (half an hour over two days): the window holds the outage, and no more
    # than a bin more on each side
    assert low <= OUTAGE[0] < low + dt.timedelta(minutes=30)
    assert high - dt.timedelta(minutes=30) < OUTAGE[1] <= high
    assert "ts > TIMESTAMPTZ '" in first["label"]
    assert "region = 'ap'" in first["label"]
    _no_symptom_explains(doc, {"duration_ms"})
    assert [o["attribute"] for o in doc["outcomes"]] == ["duration_ms"]
    _labels_paste_back(result, path)


def test_time_range_counts_match_pandas(tmp_path: Path) -> None:
    frame, where, _ = outage(n=8_000, seed=3)
    result = bubbleup.analyze(frame, where=where)
    pdf = frame.to_pandas()
    sel = pdf["exit_reason"] == "infra_error"
    for r in result.explanations.head(5).iter_rows(named=True):
        mask = np.ones(len(pdf), dtype=bool)
        for item in r["items"]:
            col = pdf[item["attribute"]]
            if item["attribute"] == "ts":
                us = (col - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(microseconds=1)
                low = -np.inf if item["low"] is None else item["low"]
                high = np.inf if item["high"] is None else item["high"]
                mask &= (us > low).to_numpy() & (us <= high).to_numpy()
            elif item["op"] == "=":
                mask &= (col.astype(str) == item["value"]).to_numpy()
            else:
                low = -np.inf if item["low"] is None else item["low"]
                high = np.inf if item["high"] is None else item["high"]
                mask &= ((col > low) & (col <= high)).to_numpy()
        assert r["selection_events"] == int((mask & sel).sum()), r["label"]
        assert r["baseline_events"] == int((mask & ~sel).sum()), r["label"]


def test_outcome_figures_match_numpy() -> None:
    frame, where, _ = builds("all", n=6_000, seed=2)
    frame = frame.with_columns(sample_rate=pl.Series(np.random.default_rng(1).integers(1, 4, 6000)))
    result = bubbleup.analyze(frame, where=where)
    row = result.outcomes.filter(pl.col("attribute") == "duration_ms").row(0, named=True)
    sel = frame["exit_reason"] == "oom"
    for side, mask in (("selection_quantiles", sel), ("baseline_quantiles", ~sel)):
        part = frame.filter(mask).sort("duration_ms")
        x, w = part["duration_ms"].to_numpy(), part["sample_rate"].to_numpy().astype(float)
        cum = np.cumsum(w)
        expected = [float(x[np.argmax(cum >= q * w.sum())]) for q in QUANTILES]
        assert row[side] == expected
    code = result.outcomes.filter(pl.col("attribute") == "exit_code").row(0, named=True)
    shares = {v["value"]: (v["selection_share"], v["baseline_share"]) for v in code["values"]}
    weights = frame["sample_rate"].to_numpy().astype(float)
    for value, (s_share, b_share) in shares.items():
        has = (frame["exit_code"] == int(value)).to_numpy()
        s, b = sel.to_numpy(), ~sel.to_numpy()
        assert s_share == pytest.approx(weights[has & s].sum() / weights[s].sum())
        assert b_share == pytest.approx(weights[has & b].sum() / weights[b].sum())
    restated = result.restatements.row(0, named=True)
    a, n_s, b = (
        restated["selection_count"],
        result.totals.selection_weight,
        restated["baseline_count"],
    )
    assert restated["overlap"] == pytest.approx(a / (n_s + b))


def test_weighted_quantiles_edges() -> None:
    assert weighted_quantiles(np.array([]), np.array([]), [0.5])[0] != 0  # NaN
    x = np.array([1.0, 2.0, 3.0])
    assert weighted_quantiles(x, np.array([0.0, 0.0, 5.0]), [0.5, 0.99]) == [3.0, 3.0]
    assert weighted_quantiles(x, np.array([1.0, 1.0, 1.0]), [0.99]) == [3.0]


def test_overlap_threshold_decides_what_restates() -> None:
    # a context value that covers 95% of the selection and nothing else restates it; one
    # that covers 85% of it is an explanation (the cause), not a restatement
    rng = np.random.default_rng(4)
    n = 20_000
    failed = rng.random(n) < 0.05
    u = rng.random(n)
    frame = pl.DataFrame(
        {
            "failed": failed,
            "flag_a": np.where(failed & (u < 0.95), "on", "off"),
            "flag_b": np.where(failed & (u < 0.85), "on", "off"),
            "noise": rng.choice(["x", "y", "z"], size=n),
        }
    )
    result = bubbleup.analyze(frame, where="failed")
    assert result.restatements["label"].to_list() == ["flag_a = 'on'"]
    assert result.restatements["overlap"][0] >= RESTATEMENT_OVERLAP
    assert result.explanations["label"][0] == "flag_b = 'on'"


def _otlp_export(path: Path) -> None:
    """Requests to an upload service: /api/upload on version 2.1.0 fails 70% of the time."""
    rng = random.Random(11)
    start = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    routes = ("/api/upload", "/api/list", "/api/get", "/api/delete")
    for version in ("2.0.0", "2.1.0"):
        provider = TracerProvider(
            resource=Resource.create({"service.name": "files", "service.version": version})
        )
        provider.add_span_processor(
            BatchSpanProcessor(FileSpanExporter(path), max_export_batch_size=256)
        )
        tracer = provider.get_tracer("files.http")
        for i in range(1500):
            t = start + dt.timedelta(seconds=2 * i)
            route = routes[rng.randrange(len(routes))]
            cause = version == "2.1.0" and route == "/api/upload"
            failed = rng.random() < (0.7 if cause else 0.02)
            ns = int(t.timestamp() * 1e9)
            span = tracer.start_span(
                f"POST {route}",
                kind=SpanKind.SERVER,
                start_time=ns,
                attributes={
                    "http.route": route,
                    "outcome": "fail" if failed else "ok",
                    "http.response.status_code": 500 if failed else 200,
                    "user.tier": rng.choice(["free", "pro", "team"]),
                },
            )
            if failed:
                span.set_status(Status(StatusCode.ERROR, "upstream reset"))
                span.set_attribute("error.type", "ConnectionResetError")
            span.end(
                end_time=ns
                + (rng.randrange(1, 5) if failed else rng.randrange(20, 400)) * 1_000_000
            )
        provider.shutdown()


def test_otel_export_status_restates_the_selection(tmp_path: Path) -> None:
    path = tmp_path / "traces.json"
    _otlp_export(path)
    result = bubbleup.analyze(path, where="outcome = 'fail'")
    doc = result.to_dict()
    first = doc["explanations"][0]
    assert first["label"] == (
        "\"http.route\" = '/api/upload' AND \"resource.service.version\" = '2.1.0'"
    )
    assert first["significant"]
    assert first["explained_by"] is None
    restated = {r["label"] for r in doc["restatements"]}
    assert "\"status.code\" = 'error'" in restated
    outcomes = {o["attribute"]: o["reason"] for o in doc["outcomes"]}
    assert outcomes["status.code"] == "convention: OpenTelemetry span status"
    assert outcomes["http.response.status_code"] == "convention: OpenTelemetry response status"
    assert outcomes["duration_ms"] == "convention: duration or latency"
    _no_symptom_explains(doc, set(outcomes) | {"error.type", "status.message"})
    _labels_paste_back(result, path)


def test_json_and_csv_carry_the_new_sections(runner: CliRunner, tmp_path: Path) -> None:
    frame, where, _ = builds("all")
    path = tmp_path / "b.parquet"
    frame.write_parquet(path)
    out = runner.invoke(
        app, ["analyze", str(path), "--where", where, "--format", "json", "--outcome", "mem_hwm"]
    )
    assert out.exit_code == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["version"] == 2
    assert doc["restatements"][0]["label"] == "exit_code = 137"
    assert {o["attribute"] for o in doc["outcomes"]} == {
        "exit_code",
        "peak_memory_pct",
        "mem_hwm",
        "duration_ms",
    }
    roles = {a["attribute"]: a["role"] for a in doc["attributes"]}
    assert roles["kernel"] == "context"
    assert roles["exit_code"] == "outcome"
    md = runner.invoke(
        app,
        ["analyze", str(path), "--where", where, "--format", "markdown", "--outcome", "mem_hwm"],
    )
    assert "Outcomes" in md.stdout
    assert "| `peak_memory_pct` |" in md.stdout
    assert "restates" in md.stdout


def test_conventions() -> None:
    assert convention("status.code") == "OpenTelemetry span status"
    assert convention("exception.stacktrace") == "OpenTelemetry error"
    assert convention("rpc.grpc.status_code") == "OpenTelemetry response status"
    assert convention("latencyMs") == "duration or latency"
    assert convention("exitCode") == "exit code or signal"
    for context in (
        "kernel_version",
        "http.route",
        "resource.service.version",
        "region",
        "build_tool",
        "customer_id",
        "node_pool",
        "image",
        "queue_ms",
        "ts",
    ):
        assert convention(context) is None, context
    schema = {"a": pl.Duration(), "b": pl.Int64()}
    assert outcome_columns(schema) == {"a": "convention: a duration"}


def test_outcome_values_from_every_nth_event() -> None:
    """Above a million events the quantiles come from every n-th event in scope."""
    from bubbleup.pipeline.count import count_values
    from bubbleup.pipeline.profile import Attribute
    from bubbleup.pipeline.split import split

    frame = pl.DataFrame(
        {"x": [float(i % 7) for i in range(20)], "s": [i % 3 == 0 for i in range(20)]}
    )
    sp = split(frame.schema, where="s", weight=False)
    attr = Attribute("x", "numeric", "Float64", 7, 0)
    [every] = count_values(frame.lazy(), sp, [attr])
    [half] = count_values(frame.lazy(), sp, [attr], stride=2)
    kept = frame.filter(pl.int_range(pl.len()) % 2 == 0)
    expected = (
        kept.group_by("x")
        .agg(sel=pl.col("s").cast(pl.Float64).sum(), base=(~pl.col("s")).cast(pl.Float64).sum())
        .sort("x")
    )
    assert half.rows() == expected.rows()
    assert every["sel"].sum() + every["base"].sum() == 20
    assert half["sel"].sum() + half["base"].sum() == 10


def test_a_name_with_glob_characters_is_taken_as_that_column() -> None:
    schema = {"[x]peak": pl.Float64(), "xpeak": pl.Float64(), "k": pl.String()}
    assert outcome_columns(schema, outcomes=["[x]peak"], conventions=False) == {
        "[x]peak": "declared with --outcome"
    }
    # as a glob it would have meant "xpeak" only
    assert outcome_columns(schema, outcomes=["[x]p*"], conventions=False) == {
        "xpeak": "declared with --outcome"
    }
