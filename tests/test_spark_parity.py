"""The Spark engine gives the polars engine's answer, and fails like it.

Every test shares one local Spark session (``spark`` fixture). Results are compared as
JSON documents: strings, integers and booleans exactly, floats to a relative 1e-9 (sums
of weights can differ in their last bits when added in another order). The one figure
allowed to differ is ``distinct`` of numbers counted in ranges, an estimate (HyperLogLog)
in both engines.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import bubbleup
from bubbleup.interfaces.cli import app
from tests.conftest import ROOT, SAMPLE, make_events
from tests.planted import scenario
from tests.planted_causes import outage

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed (bubbleup[spark])")

from bubbleup.engines import spark as spark_engine  # noqa: E402

REQUIRED = os.environ.get("BUBBLEUP_REQUIRE_SPARK") == "1"


@pytest.fixture(scope="session")
def spark() -> Any:
    """One local Spark session for every test (started the way bubbleup starts it)."""
    problem = spark_engine.java_problem()
    if problem:
        if REQUIRED:
            pytest.fail(problem)
        pytest.skip(problem)
    session = spark_engine.session("local[2]")
    yield session
    session.stop()


# -- comparing results -----------------------------------------------------------------------


def assert_same(a: Any, b: Any, path: str = "$") -> None:
    """Equal JSON values; floats to a relative 1e-9."""
    if isinstance(a, dict):
        assert isinstance(b, dict), path
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for key in a:
            assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list), path
        assert len(a) == len(b), f"{path}: {len(a)} != {len(b)} entries"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool) and isinstance(b, (int, float)):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-300), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def assert_same_result(
    polars: bubbleup.Result, spark: bubbleup.Result, *, same_source: bool = True
) -> None:
    a, b = polars.to_dict(), spark.to_dict()
    # the timeline (time windows) is computed by the polars engine only (documented)
    a.pop("timeline", None)
    b.pop("timeline", None)
    if not same_source:
        a.pop("source")
        b.pop("source")
    for x, y in zip(a["attributes"], b["attributes"], strict=True):
        # estimates in both engines: bins, and attributes counted in two phases
        if (x["binned"] and y["binned"]) or x["distinct"] > 2_000:
            assert y["distinct"] == pytest.approx(x["distinct"], rel=0.15), x["attribute"]
            y["distinct"] = x["distinct"]
    assert_same(a, b)
    assert polars.explanations["label"].to_list() == spark.explanations["label"].to_list()


def both(source: Any, **options: Any) -> tuple[bubbleup.Result, bubbleup.Result]:
    return (
        bubbleup.analyze(source, engine="polars", **options),
        bubbleup.analyze(source, engine="spark", **options),
    )


# -- parity ------------------------------------------------------------------------------------


def test_sample_same_json(spark: Any) -> None:
    polars, spark_result = both(SAMPLE, where="exit_reason = 'oom'")
    assert_same_result(polars, spark_result)
    # the sample exercises weights, missing values, ranges and combinations
    assert polars.weight_column == "sample_rate"
    labels = polars.explanations["label"].to_list()
    assert any(" AND " in label for label in labels)
    assert any("IS NULL" in label for label in labels)
    assert polars.attributes.filter(pl.col("binned")).height > 0


def test_outage_outcomes_and_restatements_same_json(spark: Any, tmp_path: Path) -> None:
    """Time ranges (zoned, naive, dates), outcomes with quantiles, restatements."""
    frame, where, _ = outage(n=12_000, seed=5)
    frame = frame.with_columns(
        naive=pl.col("ts").dt.replace_time_zone(None) + pl.duration(minutes=7),
        day=pl.col("ts").dt.date(),
        exit_code=pl.when(pl.col("exit_reason") == "infra_error").then(255).otherwise(0),
    )
    path = tmp_path / "outage.parquet"
    frame.write_parquet(path)
    polars, spark_result = both(path, where=where)
    assert_same_result(polars, spark_result)
    doc = polars.to_dict()
    kinds = {a["attribute"]: (a["kind"], a["role"]) for a in doc["attributes"]}
    assert kinds["ts"] == kinds["naive"] == kinds["day"] == ("time", "context")
    assert kinds["duration_ms"] == ("numeric", "outcome")
    assert doc["restatements"][0]["label"] == "exit_code = 255"
    assert {"ts", "region"} <= {i["attribute"] for i in doc["explanations"][0]["items"]} or {
        "naive",
        "region",
    } <= {i["attribute"] for i in doc["explanations"][0]["items"]}
    assert {o["attribute"] for o in doc["outcomes"]} == {"duration_ms", "exit_code"}
    # a label with a time range (TIMESTAMPTZ, polars' words) pastes into Spark's --where,
    # and a drill into it counts the same events on both engines
    timed = next(label for label in polars.explanations["label"] if "TIMESTAMPTZ" in label)
    on_spark = bubbleup.analyze(path, engine="spark", where=timed)
    on_polars = bubbleup.analyze(path, engine="polars", where=timed)
    assert on_spark.totals == on_polars.totals
    assert on_spark.totals.selection_events > 0
    first = next(
        n
        for n, items in enumerate(doc["explanations"], start=1)
        if any(i["attribute"] in ("ts", "naive", "day") for i in items["items"])
    )
    assert spark_result.drill(first).totals == polars.drill(first).totals


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Weighted events with missing values, numbers, NaN and a planted two-item cause."""
    frame, _ = scenario("pair", n=20_000, seed=3)
    rng = np.random.default_rng(3)
    n = frame.height
    extra = make_events(n, seed=3, planted=True).select(
        "memory_mb", "flag", "duration_ms", "sample_rate"
    )
    ratio = rng.normal(1.0, 0.3, size=n).astype(np.float32)
    ratio[rng.random(n) < 0.02] = np.nan
    frame = pl.concat([frame, extra], how="horizontal").with_columns(
        ratio=pl.Series(ratio, dtype=pl.Float32),
        shard=pl.Series(rng.integers(0, 40, size=n), dtype=pl.Int32),
        note=pl.Series(rng.choice(["it's", 'say "hi"', "a,b", "ünï"], size=n)),
    )
    path = tmp_path_factory.mktemp("planted") / "planted.parquet"
    frame.write_parquet(path)
    return path


def test_planted_same_json(spark: Any, planted: Path) -> None:
    polars, spark_result = both(planted, where="outcome = 'error'")
    assert_same_result(polars, spark_result)
    top = polars.explanations.row(0, named=True)["label"]
    assert "version = 'v3'" in top
    assert "os = 'mac'" in top


def test_planted_baseline_filter_and_weights(spark: Any, planted: Path) -> None:
    options = {
        "where": "outcome = 'error' AND duration_ms > 1000",
        "baseline": "outcome = 'ok'",
        "filter": "region <> 'af' OR region IS NULL",
        "max_order": 2,
    }
    assert_same_result(*both(planted, **options))
    assert_same_result(
        *both(
            planted,
            weight=False,
            columns=["ratio", "shard", "note", "version", "os", "flag"],
            where="outcome = 'error'",
        )
    )


def record_jobs(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[dict[str, Any]]]:
    """From now on, the name of every Spark job the engine runs, and each one-row result."""
    jobs: list[str] = []
    rows: list[dict[str, Any]] = []
    run = spark_engine.SparkEngine._run

    def recorded(self: Any, what: str, *args: Any) -> Any:
        jobs.append(what)
        out = run(self, what, *args)
        if isinstance(out, dict):
            rows.append(out)
        return out

    monkeypatch.setattr(spark_engine.SparkEngine, "_run", recorded)
    return jobs, rows


@pytest.mark.parametrize("limit", [0, 10**9])
def test_exact_distinct_counts_both_ways(
    spark: Any, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """Exact statistics count distinct values exactly, as sets (``collect_set``) or with a
    ``countDistinct`` per column (``limit`` sends every column one way or the other), on
    counts where Spark's estimate is off: nulls, NaN, -0.0 and 0.0 as polars counts them."""
    monkeypatch.setattr(spark_engine, "SET_DISTINCT", limit)
    rng = np.random.default_rng(7)
    n = 30_000
    floats = rng.integers(0, 4_000, n).astype(float)
    floats[:50] = np.nan
    floats[50:60] = -0.0
    floats[60:70] = 0.0
    frame = pl.DataFrame(
        {
            "flag": ["bad" if i % 7 == 0 else "ok" for i in range(n)],
            "text": [f"v{x}" if x % 11 else None for x in rng.integers(0, 5_000, n)],
            "whole": rng.integers(0, 3_000, n),
            "real": floats,
        }
    )
    engine = spark_engine.SparkEngine.open(frame)
    split = engine.split(where="flag = 'bad'", baseline=None, filter=None, weight=False)
    names = ["text", "whole", "real"]
    jobs, _ = record_jobs(monkeypatch)
    _, row = engine.measure(split, names)
    # the sets in one job; a countDistinct per job (never two in one aggregation)
    assert jobs.count("counting distinct values") == (1 if limit else len(names))
    for i, name in enumerate(names):
        column = frame[name]
        expected = column.drop_nulls().n_unique() + (1 if column.null_count() else 0)
        assert row[f"u{i}"] == expected, name
    polars = bubbleup.analyze(frame, where="flag = 'bad'", engine="polars")
    distinct = dict(polars.attributes.select("attribute", "distinct").iter_rows())
    assert [row[f"u{i}"] for i in range(3)] == [distinct[name] for name in names]


def test_above_the_exact_limit_statistics_come_from_samples(
    spark: Any, monkeypatch: pytest.MonkeyPatch, planted: Path
) -> None:
    """Above the exact limit (lowered here to 1,000 events) Spark measures as polars does:
    totals over every event, distinct values and quantiles on a sample of about
    QUANTILE_SAMPLE events, the selection's quantiles on a sample of its events. The
    samples differ (Bernoulli against blocks), so ranges may differ; every count of a value
    is exact in both engines."""
    from bubbleup.pipeline import profile

    monkeypatch.setattr(profile, "EXACT_QUANTILE_ROWS", 1_000)
    monkeypatch.setattr(profile, "QUANTILE_SAMPLE", 2_000)
    monkeypatch.setattr(profile, "SELECTION_SAMPLE", 500)
    jobs, rows = record_jobs(monkeypatch)
    polars, on_spark = both(planted, where="outcome = 'error'", max_order=1)
    events = pl.read_parquet(planted)
    assert events.height == 20_000  # so both samples are drawn
    assert events.filter(pl.col("outcome") == "error").height > 500
    assert "measuring a sample" in jobs
    assert "measuring the selection" in jobs
    assert "counting distinct values" not in jobs  # no exact count over every event
    sample = next(r["_sample"] for r in rows if "_sample" in r)
    assert 1_600 <= sample <= 2_400  # about QUANTILE_SAMPLE of the 20,000 events
    seen = next(r["_selected"] for r in rows if "_selected" in r)
    assert 350 <= seen <= 650  # about SELECTION_SAMPLE of the selected events
    assert on_spark.totals == polars.totals
    # the same attributes, kinds and choices of ranges (the order follows the statistics)
    a, b = (
        r.attributes.select("attribute", "kind", "binned").sort("attribute")
        for r in (polars, on_spark)
    )
    assert a.equals(b)
    # values counted one by one are exact in both engines, whatever the samples
    by_value = a.filter(~pl.col("binned"))["attribute"].to_list()
    order = ["attribute", "op", "value"]

    def counted_values(result: bubbleup.Result) -> pl.DataFrame:
        return result.counts.filter(pl.col("attribute").is_in(by_value)).sort(order)

    assert counted_values(polars).equals(counted_values(on_spark))
    assert polars.explanations["label"][0] == on_spark.explanations["label"][0]


def test_spark_dataframe_and_in_memory_frames(spark: Any, planted: Path) -> None:
    frame = pl.read_parquet(planted)
    reference = bubbleup.analyze(frame, where="outcome = 'error'", max_order=1)
    from_spark = bubbleup.analyze(
        spark.read.parquet(str(planted)), where="outcome = 'error'", max_order=1
    )
    assert from_spark.source == "Spark DataFrame"
    assert_same_result(reference, from_spark, same_source=False)
    on_spark = bubbleup.analyze(frame, where="outcome = 'error'", max_order=1, engine="spark")
    assert_same_result(reference, on_spark)


def test_cli_json_same(spark: Any, planted: Path) -> None:
    runner = CliRunner()
    args = [
        "analyze",
        str(planted),
        "--where",
        "outcome = 'error'",
        "--format",
        "json",
        "--top",
        "0",
        "--max-order",
        "1",
        "--columns",
        "version,os,region,memory_mb",
    ]
    a = runner.invoke(app, args)
    b = runner.invoke(app, [*args, "--engine", "spark"])
    assert a.exit_code == 0, a.stderr
    assert b.exit_code == 0, b.stderr
    import json

    assert_same(json.loads(a.stdout), json.loads(b.stdout))


# -- errors like the polars engine's -----------------------------------------------------------


def errors_of(source: Any, **options: Any) -> tuple[BaseException, BaseException]:
    out = []
    for engine in ("polars", "spark"):
        with pytest.raises(bubbleup.BubbleupError) as info:
            bubbleup.analyze(source, engine=engine, **options)
        out.append(info.value)
    return out[0], out[1]


def test_unknown_column_same_message(spark: Any) -> None:
    a, b = errors_of(SAMPLE, where="exit_reasn = 'oom'")
    assert type(a) is type(b) is bubbleup.ColumnError
    assert (
        str(a) == str(b) == ("column 'exit_reasn' in where not found; did you mean 'exit_reason'?")
    )


def test_non_boolean_same_message(spark: Any) -> None:
    a, b = errors_of(SAMPLE, where="duration_ms", baseline=None)
    assert type(a) is type(b) is bubbleup.PredicateError
    assert str(a) == str(b)


def test_malformed_predicate(spark: Any) -> None:
    a, b = errors_of(SAMPLE, where="exit_reason = = 'oom'")
    assert type(a) is type(b) is bubbleup.PredicateError
    for err in (a, b):
        assert str(err).startswith("malformed where predicate \"exit_reason = = 'oom'\": ")
        assert "\n" not in str(err)
    assert "syntax error at or near '='" in str(b)
    # a trailing word is not taken for a name of the condition (Spark's expression syntax)
    for where, name in (("exit_reason = 'oom' AND", "AND"), ("exit_reason = 'oom' oops", "oops")):
        a, b = errors_of(SAMPLE, where=where)
        assert type(a) is type(b) is bubbleup.PredicateError, where
        for err in (a, b):
            assert str(err).startswith(f'malformed where predicate "{where}": '), str(err)
            assert "\n" not in str(err)
        # polars' parser refuses a trailing AND itself; both read other words as names
        assert str(b).startswith(
            f"malformed where predicate \"{where}\": '{name}' after the condition would only "
            "name it; "
        ), str(b)
        if name == "oops":
            assert str(a) == str(b)
    _, c = errors_of(SAMPLE, where="exit_reason = 'oom'", filter="nosuchfunc(region)")
    assert isinstance(c, bubbleup.PredicateError)
    assert str(c).startswith("cannot evaluate filter predicate 'nosuchfunc(region)': ")


def test_run_time_error_names_the_predicate(spark: Any) -> None:
    with pytest.raises(bubbleup.PredicateError) as info:
        bubbleup.analyze(
            SAMPLE, engine="spark", where="exit_reason = 'oom'", baseline="CAST(region AS INT) > 1"
        )
    message = str(info.value)
    assert message.startswith("cannot evaluate baseline predicate 'CAST(region AS INT) > 1': ")
    assert "CAST_INVALID_INPUT" in message
    assert "\n" not in message


def test_other_errors(spark: Any, tmp_path: Path) -> None:
    with pytest.raises(bubbleup.PredicateError, match="must be SQL text"):
        bubbleup.analyze(SAMPLE, engine="spark", where=pl.col("exit_reason") == "oom")
    with pytest.raises(bubbleup.SourceError, match="file not found"):
        bubbleup.analyze(tmp_path / "nope.parquet", engine="spark", where="x = 1")
    fifo = tmp_path / "pipe.parquet"
    os.mkfifo(fifo)  # Spark would block on it, or say it cannot infer a schema
    with pytest.raises(bubbleup.SourceError, match="is not a regular file"):
        bubbleup.analyze(fifo, engine="spark", where="x = 1")
    with pytest.raises(bubbleup.UsageError, match="runs on the Spark engine"):
        bubbleup.analyze(spark.range(3), engine="polars", where="id = 1")
    with pytest.raises(bubbleup.UsageError, match="unknown engine 'duckdb'"):
        bubbleup.analyze(SAMPLE, engine="duckdb", where="id = 1")
    with pytest.raises(bubbleup.SelectionError, match="the selection is empty"):
        bubbleup.analyze(SAMPLE, engine="spark", where="exit_reason = 'nope'")


def test_cli_errors(spark: Any) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["analyze", str(SAMPLE), "--engine", "spark", "--where", "exit_reasn = 'oom'"]
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: column 'exit_reasn' in --where not found; did you mean 'exit_reason'?"
    )
    result = runner.invoke(
        app,
        ["analyze", str(SAMPLE), "--where", "exit_reason = 'oom'", "--spark-master", "local[2]"],
    )
    assert result.exit_code == 2
    assert "--spark-master needs --engine spark" in result.stderr


def test_unreachable_master_fails_fast(spark: Any) -> None:
    with socket.socket() as probe:  # a port that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    runner = CliRunner()
    start = time.monotonic()
    result = runner.invoke(
        app,
        [
            "analyze",
            str(SAMPLE),
            "--engine",
            "spark",
            "--where",
            "exit_reason = 'oom'",
            "--spark-master",
            f"spark://127.0.0.1:{port}",
        ],
    )
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: cannot reach the Spark master spark://127.0.0.1:{port} ")
    assert time.monotonic() - start < spark_engine.CONNECT_TIMEOUT
    # a host that does not answer: bounded by the timeout
    start = time.monotonic()
    with pytest.raises(bubbleup.EngineError, match="cannot reach the Spark master"):
        spark_engine.check_reachable("sc://192.0.2.1:15002", timeout=0.5)  # TEST-NET-1
    assert time.monotonic() - start < 5


def test_missing_pyspark_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a)
    )
    result = CliRunner().invoke(
        app, ["analyze", str(SAMPLE), "--engine", "spark", "--where", "exit_reason = 'oom'"]
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: the Spark engine needs pyspark, which is not installed; install it with: "
        "pip install 'bubbleup[spark]'"
    )


def test_missing_or_old_java_names_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nojava"))
    problem = spark_engine.java_problem()
    assert problem is not None
    assert "needs Java 17 or newer" in problem
    assert "openjdk-17-jre-headless" in problem
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "no 'java' on PATH" in (spark_engine.java_problem() or "")
    fake = tmp_path / "old" / "bin" / "java"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(fake.parent.parent))
    assert "is Java 11" in (spark_engine.java_problem() or "")
    # and analyze reports it before trying to start a JVM
    monkeypatch.setattr(spark_engine.SparkSession, "getActiveSession", staticmethod(lambda: None))
    with pytest.raises(bubbleup.EngineError, match="needs Java 17 or newer"):
        bubbleup.analyze(SAMPLE, engine="spark", where="exit_reason = 'oom'")


def test_cli_subprocess_stderr_is_one_line(spark: Any) -> None:
    """A real process: the JVM's banner and logs stay off the terminal."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bubbleup",
            "analyze",
            str(SAMPLE),
            "--engine",
            "spark",
            "--spark-master",
            "local[1]",
            "--where",
            "exit_reasn = 'oom'",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "Error: column 'exit_reasn' in --where not found; did you mean 'exit_reason'?"
    ]
