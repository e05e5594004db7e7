"""Drill-down, example rows, the SQL built from explanations, the polars namespace."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
import shlex
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import bubbleup
from bubbleup.interfaces.cli import app
from bubbleup.pipeline.drill import items_sql
from tests.conftest import SAMPLE, item_holds, make_events

WHERE = "outcome = 'error'"


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return make_events(3000, seed=33, planted=True)


@pytest.fixture(scope="module")
def result(frame: pl.DataFrame) -> bubbleup.Result:
    # duration_ms is an outcome by convention: ranked here, for its ranges
    return bubbleup.analyze(frame, where=WHERE, context=["duration_ms"])


def _side_counts(frame: pl.DataFrame, condition: str, where: str = WHERE) -> tuple[int, int]:
    match = pl.sql_expr(condition).fill_null(False)
    sel = pl.sql_expr(where).fill_null(False)
    return frame.select(a=(match & sel).sum(), b=(match & ~sel).sum()).row(0)


def test_every_explanation_as_sql_selects_exactly_its_events(
    frame: pl.DataFrame, result: bubbleup.Result
) -> None:
    ops = set()
    for r in result.explanations.iter_rows(named=True):
        ops.update(i["op"] for i in r["items"])
        condition = items_sql(r["items"], result._dtypes())
        assert _side_counts(frame, condition) == (r["selection_events"], r["baseline_events"])
    assert len(ops) >= 3
    assert result.explanations["items"].list.len().max() >= 2  # conjunctions too


def test_every_counted_item_as_sql_selects_exactly_its_events(
    frame: pl.DataFrame, result: bubbleup.Result
) -> None:
    ops = set()
    for r in result.counts.filter(pl.col("op") != "other").iter_rows(named=True):
        ops.add(r["op"])
        condition = items_sql([r], result._dtypes())
        assert _side_counts(frame, condition) == (r["sel_events"], r["base_events"]), condition
    assert ops == {"=", "is_null", "<=", ">", "between"}


def test_awkward_names_and_values_are_quoted() -> None:
    frame = pl.DataFrame(
        {
            "ok": [False] * 60 + [True] * 40,
            "select": ["it's"] * 50 + ["x"] * 50,
            'a "b"': [1.5, float("nan"), None, 2.5] * 25,
            "x y": [True, False] * 50,
            "order": list(range(100)),
        }
    )
    result = bubbleup.analyze(frame, where="NOT ok")
    seen = set()
    for r in result.explanations.iter_rows(named=True):
        condition = items_sql(r["items"], result._dtypes())
        assert _side_counts(frame, condition, "NOT ok") == (
            r["selection_events"],
            r["baseline_events"],
        ), condition
        seen.add(condition)
    assert "\"select\" = 'it''s'" in seen
    assert '("a ""b""" IS NULL OR "a ""b""" = CAST(\'NaN\' AS DOUBLE))' in seen  # NaN is missing
    assert '"x y" = true' in seen


def test_drill_adds_the_explanation_to_the_scope(result: bubbleup.Result) -> None:
    for n in (1, 2, 5):
        row = result.explanations.row(n - 1, named=True)
        inside = result.drill(n)
        assert inside.where == WHERE
        assert inside.filter == items_sql(row["items"], result._dtypes())
        assert inside.totals.selection_events == row["selection_events"]
        assert inside.totals.baseline_events == row["baseline_events"]
        assert inside.totals.scope_events == row["selection_events"] + row["baseline_events"]
        for key in ("alpha", "min_lift", "min_share", "max_order"):
            assert inside.parameters[key] == result.parameters[key]
        attribute = row["items"][0]["attribute"]
        assert attribute not in set(inside.attributes["attribute"])  # now in a predicate


def test_drill_keeps_an_existing_scope(frame: pl.DataFrame) -> None:
    scoped = bubbleup.analyze(frame, where=WHERE, filter="tier = 'pro'")
    inside = scoped.drill(1)
    condition = items_sql(scoped.explanations["items"][0], scoped._dtypes())
    assert inside.filter == f"(tier = 'pro') AND ({condition})"
    again = inside.drill(1)
    assert again.filter.startswith(f"((tier = 'pro') AND ({condition})) AND (")
    by_expr = bubbleup.analyze(frame, where=WHERE, filter=pl.col("tier") == "pro").drill(1)
    assert by_expr.totals == inside.totals


def test_drill_out_of_range_names_the_valid_range(result: bubbleup.Result) -> None:
    count = result.explanations.height
    for n in (0, count + 1, -3):
        with pytest.raises(bubbleup.UsageError) as info:
            result.drill(n)
        assert str(info.value) == (
            f"there is no explanation {n} to drill into; they are numbered 1 to {count}"
        )


def test_drill_tells_the_sample_story() -> None:
    result = bubbleup.analyze(SAMPLE, where="exit_reason = 'oom'")
    ranks = dict(zip(result.explanations["label"], result.explanations["rank"], strict=True))
    kernel = ranks["kernel_version = '5.15.0-91-generic'"]
    inside = result.drill(kernel)  # kernel 5.15: what else do the OOM-killed builds share?
    top = inside.explanations.row(0, named=True)
    assert top["label"] == "build_tool = 'gradle'"
    assert top["selection_share"] > 0.99
    assert top["baseline_share"] < 0.06
    assert inside.time_ranges[0].scope[0].startswith("2026-11-20 14:00")  # the rollout
    both = result.drill(ranks["kernel_version = '5.15.0-91-generic' AND build_tool = 'gradle'"])
    causes = both.significant.filter(pl.col("explained_by").is_null())["label"].to_list()
    assert all(label.startswith("duration_ms") for label in causes)  # nothing else: dying early


def test_the_reproducing_command_reproduces(runner: CliRunner) -> None:
    inside = bubbleup.analyze(
        SAMPLE, where="exit_reason = 'oom'", min_lift=2.0, max_order=2, exclude=["branch"]
    ).drill(2)
    assert inside.origin is not None
    command = inside.origin.command()
    assert command is not None
    args = shlex.split(command)
    assert args[:2] == ["bubbleup", "analyze"]
    out = runner.invoke(app, [*args[1:], "--format", "json", "--top", "0"])
    assert out.exit_code == 0, out.stderr
    doc = json.loads(out.stdout)
    want = inside.to_dict()
    assert doc["scope"] == want["scope"]
    assert doc["parameters"] == want["parameters"]
    assert doc["explanations"] == want["explanations"]


def test_no_command_when_none_reproduces() -> None:
    from bubbleup.options import Options
    from bubbleup.pipeline.origin import Origin

    spark = Origin("e.parquet", Options(where="a = 1", engine="spark")).command()
    assert spark == "bubbleup analyze e.parquet --where 'a = 1' --engine spark"
    assert Origin("e.parquet", Options(where=pl.col("a") == 1)).command() is None
    assert Origin(pl.DataFrame({"a": [1]}), Options(where="a = 1")).command() is None
    options = Options(where="s = 'x'", weight="w")
    command = Origin(["a b.parquet", "c.parquet"], options).command()
    assert command == "bubbleup analyze 'a b.parquet' c.parquet --where \"s = 'x'\" --weight w"


def test_result_pickles_and_drills_after(tmp_path: Path) -> None:
    result = bubbleup.analyze(SAMPLE, where="exit_reason = 'oom'")
    data = pickle.dumps(result)
    assert len(data) < 1_000_000  # a trimmed counts table and the options, not the events
    back = pickle.loads(data)
    assert back.drill(1).totals == result.drill(1).totals


def test_rows_come_from_each_side(frame: pl.DataFrame, result: bubbleup.Result) -> None:
    rows = result.rows(limit=4)
    assert rows.columns[0] == "side"
    assert rows["side"].to_list() == ["selection"] * 4 + ["baseline"] * 4
    assert set(rows.columns[1:]) == set(frame.columns)
    ranked = result.attributes["attribute"].to_list()
    assert rows.columns[1 : 1 + len(ranked)] == ranked  # top attributes first
    sel = rows.filter(pl.col("side") == "selection")
    assert (sel["outcome"] == "error").all()
    assert (rows.filter(pl.col("side") == "baseline")["outcome"] != "error").all()
    # they are real events of the source
    assert frame.join(sel.drop("side"), on=frame.columns, how="semi", nulls_equal=True).height == 4


def test_rows_inside_an_explanation(frame: pl.DataFrame, result: bubbleup.Result) -> None:
    for n in range(1, min(result.explanations.height, 12) + 1):
        items = result.explanations["items"][n - 1].to_list()
        rows = result.rows(explanation=n, limit=3)
        assert rows.columns[1 : 1 + len(items)] == [i["attribute"] for i in items]
        for item in items:
            assert all(item_holds(item, v) for v in rows[item["attribute"]].to_list()), item


def test_rows_are_repeatable(result: bubbleup.Result) -> None:
    first = result.rows(limit=5, seed=1)
    assert first.equals(result.rows(limit=5, seed=1))
    assert not first.equals(result.rows(limit=5, seed=2))


def test_rows_respect_scope_and_baseline(frame: pl.DataFrame) -> None:
    result = bubbleup.analyze(frame, where=WHERE, baseline="version = 'v1'", filter="tier = 'pro'")
    rows = result.rows(limit=50)
    assert (rows["tier"] == "pro").all()
    base = rows.filter(pl.col("side") == "baseline")
    assert (base["version"] == "v1").all()
    assert (base["outcome"] != "error").all()
    want = frame.filter((pl.col("tier") == "pro") & (pl.col("outcome") == "error")).height
    assert min(want, 50) == rows.filter(pl.col("side") == "selection").height


def test_rows_errors(result: bubbleup.Result) -> None:
    with pytest.raises(bubbleup.UsageError, match="limit must be at least 1, not 0"):
        result.rows(limit=0)
    with pytest.raises(bubbleup.UsageError, match="they are numbered 1 to"):
        result.rows(explanation=10_000)
    orphan = dataclasses.replace(result, origin=None)
    with pytest.raises(bubbleup.UsageError, match="does not know its source"):
        orphan.rows()
    with pytest.raises(bubbleup.UsageError, match="does not know its source"):
        orphan.drill(1)


def test_side_column_clash() -> None:
    frame = pl.DataFrame({"side": ["l", "r"] * 20, "bad": [True, False, False, False] * 10})
    rows = bubbleup.analyze(frame, where="bad").rows(limit=2)
    assert rows.columns[:2] == ["bubbleup_side", "side"]


def test_polars_namespace(frame: pl.DataFrame, result: bubbleup.Result) -> None:
    eager = frame.bubbleup.analyze(where=WHERE, context=["duration_ms"])
    lazy = frame.lazy().bubbleup.analyze(
        where=pl.col("outcome") == "error", alpha=0.01, context=["duration_ms"]
    )
    assert eager.explanations.equals(result.explanations)
    assert lazy.parameters["alpha"] == 0.01
    assert lazy.explanations["label"].equals(result.explanations["label"])
    assert frame.bubbleup.columns()["column"].to_list() == frame.columns


def test_time_ranges() -> None:
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 1, 1, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "ts": [start + timedelta(hours=i) for i in range(48)],
            "bad": [i >= 40 for i in range(48)],
            "k": ["a", "b"] * 24,
        }
    )
    result = bubbleup.analyze(frame, where="bad")
    (tr,) = result.time_ranges
    assert tr.column == "ts"
    assert tr.scope == ("2026-01-01 00:00:00+00:00", "2026-01-02 23:00:00+00:00")
    assert tr.selection == ("2026-01-02 16:00:00+00:00", "2026-01-02 23:00:00+00:00")
    assert tr.baseline == ("2026-01-01 00:00:00+00:00", "2026-01-02 15:00:00+00:00")
    assert not math.isnan(result.attributes["distance"][0])
