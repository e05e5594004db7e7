"""Time columns, --since/--until, the before/after mode and the timeline."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import bubbleup
from bubbleup.interfaces.cli import app
from tests.test_cli_errors import assert_error, run

START = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
DEPLOY = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)


def deploy_events(n: int = 4000, seed: int = 3) -> pl.DataFrame:
    """Four hours of requests; version v2 replaces v1 at 14:00 and fails on /pay."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(0, 4 * 3600, size=n))
    ts = [START + dt.timedelta(seconds=int(s)) for s in seconds]
    after = np.array([t >= DEPLOY for t in ts])
    route = rng.choice(["/pay", "/cart", "/home", "/search"], size=n)
    version = np.where(after, "v2", "v1")
    fail = rng.random(n) < np.where(after & (route == "/pay"), 0.5, 0.03)
    return pl.DataFrame(
        {
            "timestamp": pl.Series(ts, dtype=pl.Datetime("us", "UTC")),
            "route": route,
            "version": version,
            "status": np.where(fail, 500, 200),
            "region": rng.choice(["eu", "us"], size=n),
            "sample_rate": rng.choice([1, 10], size=n),
        }
    )


@pytest.fixture(scope="module")
def events() -> pl.DataFrame:
    return deploy_events()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, events: pl.DataFrame) -> dict[str, Path]:
    """The same events with the time as Parquet datetimes, ISO text (NDJSON) and epoch ms (CSV)."""
    folder = tmp_path_factory.mktemp("time")
    paths = {
        "parquet": folder / "e.parquet",
        "ndjson": folder / "e.ndjson",
        "csv": folder / "e.csv",
    }
    events.write_parquet(paths["parquet"])
    events.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ")).write_ndjson(
        paths["ndjson"]
    )
    events.rename({"timestamp": "ts"}).with_columns(pl.col("ts").dt.epoch("ms")).write_csv(
        paths["csv"]
    )
    return paths


@pytest.mark.parametrize("kind", ["parquet", "ndjson", "csv"])
def test_time_column_detected_in_every_form(files: dict[str, Path], kind: str) -> None:
    result = bubbleup.analyze(
        files[kind], where="status = 500", since="2026-11-20T13:00", until="2026-11-20T15:00"
    )
    assert result.timeline is not None
    assert result.timeline.column == ("ts" if kind == "csv" else "timestamp")
    reference = bubbleup.analyze(
        files["parquet"], where="status = 500", since="2026-11-20T13:00", until="2026-11-20T15:00"
    )
    assert result.totals == reference.totals
    left = {x.column: x.reason for x in result.left_out}
    assert left[result.timeline.column] == "time column of the time window"


def test_since_until_limit_the_scope(files: dict[str, Path], events: pl.DataFrame) -> None:
    lo, hi = DEPLOY - dt.timedelta(minutes=30), DEPLOY + dt.timedelta(minutes=45)
    result = bubbleup.analyze(files["parquet"], where="status = 500", since=lo, until=hi)
    inside = events.filter((pl.col("timestamp") >= lo) & (pl.col("timestamp") < hi))
    assert result.totals.scope_events == inside.height
    assert result.totals.selection_events == inside.filter(pl.col("status") == 500).height


def test_after_compares_equal_lengths_of_time(files: dict[str, Path], events: pl.DataFrame) -> None:
    result = bubbleup.analyze(files["parquet"], after="2026-11-20T14:00", until="2026-11-20T15:00")
    t = pl.col("timestamp")
    after = events.filter((t >= DEPLOY) & (t < DEPLOY + dt.timedelta(hours=1)))
    before = events.filter((t >= DEPLOY - dt.timedelta(hours=1)) & (t < DEPLOY))
    assert result.totals.selection_events == after.height
    assert result.totals.baseline_events == before.height
    assert result.totals.selection_weight == after["sample_rate"].sum()
    # every event after the deploy runs v2: it says again what --after says
    assert result.restatements["label"].to_list() == ["version = 'v2'"]
    assert "version = 'v2'" not in result.explanations["label"].to_list()
    assert result.where == "timestamp >= TIMESTAMPTZ '2026-11-20 14:00:00+00:00'"
    assert result.baseline == (
        "timestamp >= TIMESTAMPTZ '2026-11-20 13:00:00+00:00' "
        "AND timestamp < TIMESTAMPTZ '2026-11-20 14:00:00+00:00'"
    )
    # the header's predicates paste back into --where (with the same --until)
    for text, events in ((result.where, after.height), (result.baseline, before.height)):
        again = bubbleup.analyze(
            files["parquet"], where=text, until="2026-11-20T15:00", max_order=1
        )
        assert again.totals.selection_events == events


def test_after_combines_with_where_and_baseline(
    files: dict[str, Path], events: pl.DataFrame
) -> None:
    result = bubbleup.analyze(
        files["ndjson"],
        after="2026-11-20T14:00:00Z",
        where="status = 500",
        baseline="region = 'eu'",
    )
    t = pl.col("timestamp")
    last = events["timestamp"].max()
    assert isinstance(last, dt.datetime)
    sel = events.filter((t >= DEPLOY) & (pl.col("status") == 500))
    length = (last.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)) - DEPLOY
    base = events.filter((t >= DEPLOY - length) & (t < DEPLOY) & (pl.col("region") == "eu"))
    assert result.totals.selection_events == sel.height
    assert result.totals.baseline_events == base.height
    assert result.significant["label"][0] == "route = '/pay'"
    assert result.restatements["label"].to_list() == ["version = 'v2'"]
    assert {o["attribute"] for o in result.to_dict()["outcomes"]} == set()  # status: --where


def test_timeline_field_and_sparkline(files: dict[str, Path], runner: CliRunner) -> None:
    out = runner.invoke(
        app, ["analyze", str(files["parquet"]), "--where", "status = 500", "--format", "json"]
    )
    assert out.exit_code == 0, out.stderr
    doc = json.loads(out.stdout)
    tl = doc["timeline"]
    assert tl["column"] == "timestamp"
    assert tl["every"] == "5m"
    assert tl["buckets"][0] == {
        "start": "2026-11-20T12:00:00+00:00",
        "selection": tl["buckets"][0]["selection"],
        "baseline": tl["buckets"][0]["baseline"],
    }
    assert len(tl["buckets"]) == 48
    assert sum(b["selection"] for b in tl["buckets"]) == doc["selection"]["weighted_events"]
    assert sum(b["baseline"] for b in tl["buckets"]) == doc["baseline"]["weighted_events"]
    before = sum(b["selection"] for b in tl["buckets"][:24])
    after = sum(b["selection"] for b in tl["buckets"][24:])
    assert after > 3 * before
    table = runner.invoke(app, ["analyze", str(files["parquet"]), "--where", "status = 500"])
    line = next(x for x in table.stdout.splitlines() if x.strip().startswith("timeline"))
    assert line.endswith("  selection per 5m from 2026-11-20 12:00 (timestamp)")
    spark = line.split("timeline", 1)[1].strip().split("  ")[0]
    assert len(spark) == 48
    assert set(spark) <= set("▁▂▃▄▅▆▇█ ")


def test_where_on_a_time_column_in_sql(files: dict[str, Path], events: pl.DataFrame) -> None:
    where = "timestamp >= '2026-11-20 14:00:00'::timestamptz AND status = 500"
    result = bubbleup.analyze(files["parquet"], where=where)
    t = pl.col("timestamp")
    assert (
        result.totals.selection_events
        == events.filter((t >= DEPLOY) & (pl.col("status") == 500)).height
    )


def test_no_time_column_no_timeline() -> None:
    frame = pl.DataFrame({"a": ["x", "y"] * 50, "b": [1, 2, 3, 4] * 25})
    assert bubbleup.analyze(frame, where="b = 1").timeline is None


def test_unparseable_time_column(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("when,status\nyesterday,ok\ntoday,error\n")
    code, _, err = run(
        runner, "analyze", path, "--where", "status = 'error'", "--time-column", "when"
    )
    assert_error(
        code,
        err,
        1,
        "Error: time column 'when' holds text that is not a time "
        "('yesterday'); use ISO 8601 such as 2026-11-20T14:00:00Z, or name another "
        "column with --time-column",
    )


def test_after_outside_the_data(
    runner: CliRunner, files: dict[str, Path], events: pl.DataFrame
) -> None:
    first, last = (f"{t:%Y-%m-%d %H:%M:%S}" for t in events["timestamp"].sort()[[0, -1]])
    for when in ("2026-12-01T00:00", "2026-11-20T11:00"):
        code, _, err = run(runner, "analyze", files["parquet"], "--after", when)
        shown = when.replace("T", " ")
        assert_error(
            code,
            err,
            1,
            f"Error: --after {shown} is outside the data's time range "
            f"({first} to {last} in 'timestamp'); choose an instant between them",
        )


def test_after_not_a_time_is_usage_error(runner: CliRunner, files: dict[str, Path]) -> None:
    code, _, err = run(runner, "analyze", files["parquet"], "--after", "after lunch")
    assert_error(
        code,
        err,
        2,
        "Error: --after 'after lunch' is not a time; use ISO 8601, "
        "such as 2026-11-20T14:00 or 2026-11-20T14:00:00Z",
    )


def test_time_column_not_found(runner: CliRunner, files: dict[str, Path]) -> None:
    code, _, err = run(
        runner, "analyze", files["parquet"], "--where", "status = 500", "--time-column", "timestmp"
    )
    assert_error(code, err, 1, "Error: time column 'timestmp' not found; did you mean 'timestamp'?")


def test_since_without_a_time_column(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("a,b\nx,1\ny,2\n")
    code, _, err = run(runner, "analyze", path, "--where", "b = 1", "--since", "2026-11-20")
    assert_error(
        code,
        err,
        1,
        "Error: no time column found (no datetime column, nor one "
        "named timestamp, time, ts...); name it with --time-column",
    )


def test_since_cutting_the_before_period_is_said(
    files: dict[str, Path], events: pl.DataFrame
) -> None:
    result = bubbleup.analyze(
        files["parquet"],
        after="2026-11-20T14:00",
        since="2026-11-20T13:30",
        until="2026-11-20T15:00",
    )
    assert result.timeline is not None
    line = dict(result.timeline.header_lines())["time"]
    assert line == (
        "timestamp: 2026-11-20 14:00 to 2026-11-20 15:00 (1h) vs "
        "2026-11-20 13:30 to 2026-11-20 14:00 (30m, cut by --since)"
    )
    t = pl.col("timestamp")
    before = events.filter((t >= DEPLOY - dt.timedelta(minutes=30)) & (t < DEPLOY))
    assert result.totals.baseline_events == before.height
    equal = bubbleup.analyze(files["parquet"], after="2026-11-20T14:00", until="2026-11-20T15:00")
    assert equal.timeline is not None
    assert dict(equal.timeline.header_lines())["time"].endswith(
        "(1h) vs the same length of time before"
    )
