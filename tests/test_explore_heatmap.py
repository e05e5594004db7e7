"""The heatmap of ``bubbleup explore``: weighted cells, time axes read from numbers or text.

Each figure is checked against a naive computation (a loop over the cells with numpy
comparisons) on a small file; a box's SQL is pasted into ``bubbleup analyze --where`` and
must pick the events a naive filter on the raw column picks.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from bubbleup.errors import WeightError
from bubbleup.interfaces.cli import app
from bubbleup.interfaces.explore.heatmap import Heatmap, box_sql, grid
from bubbleup.interfaces.explore.server import Server
from bubbleup.interfaces.explore.state import Explorer, View
from bubbleup.options import Options
from bubbleup.pipeline.split import compile_predicate
from tests.browser import chromium
from tests.test_explore import drag, fetch_heat, running, wait_ready

START = 1_763_560_800  # 2025-11-19 14:00:00 UTC, in seconds since 1970
SCALE = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def sampled_events(n: int = 3_000, seed: int = 5) -> pl.DataFrame:
    """Events every 2 s over 100 minutes (whole seconds: many sit on a cell edge); the
    slow ones after the first hour come from host ``h-bad`` and are sampled 1 in 50, the
    fast ones 1 in 1 or 1 in 10, so weighted and unweighted cells differ."""
    rng = np.random.default_rng(seed)
    seconds = START + 2 * np.arange(n)
    host = rng.choice(["h-1", "h-2", "h-3", "h-bad"], n)
    slow = (host == "h-bad") & (seconds >= START + 3600)
    duration = np.where(slow, rng.integers(2_000, 9_000, n), rng.integers(10, 1_500, n))
    rate = np.where(slow, 50, rng.choice([1, 10], n))
    return pl.DataFrame(
        {
            "ts": seconds,
            "duration_ms": duration,
            "host": host,
            "route": rng.choice(["/a", "/b", "/c"], n),
            "sample_rate": rate,
        }
    )


def with_time(frame: pl.DataFrame, unit: str) -> pl.DataFrame:
    """The events with ``ts`` as integers of ``unit`` since 1970, as ISO 8601 text
    (``iso``) or as UTC datetimes (``datetime``)."""
    if unit == "datetime":
        return frame.with_columns(ts=pl.from_epoch("ts").dt.replace_time_zone("UTC"))
    if unit == "iso":
        times = [
            dt.datetime.fromtimestamp(int(s), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            for s in frame["ts"]
        ]
        return frame.with_columns(ts=pl.Series(times))
    return frame.with_columns(ts=pl.col("ts") * SCALE[unit])


def seconds_of(raw: pl.Series, unit: str) -> np.ndarray:
    """The raw ``ts`` column as float seconds since 1970, read naively."""
    if unit == "datetime":
        return raw.dt.epoch("us").to_numpy() / 1e6
    if unit == "iso":
        return np.array(
            [dt.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() for t in raw]
        )
    return raw.to_numpy().astype(np.float64) / SCALE[unit]


def edge_seconds(h: Heatmap) -> np.ndarray:
    return np.array([dt.datetime.fromisoformat(e).timestamp() for e in h.time_edges])


def naive_cells(
    seconds: np.ndarray, values: np.ndarray, weights: np.ndarray, h: Heatmap
) -> np.ndarray:
    """The sum of ``weights`` per (value, time) cell, one cell at a time."""
    te, ve = edge_seconds(h), np.array(h.value_edges)
    out = np.zeros((len(ve) - 1, len(te) - 1))
    for j in range(len(ve) - 1):
        top = values <= ve[j + 1] if j == len(ve) - 2 else values < ve[j + 1]
        in_row = (values >= ve[j]) & top
        for i in range(len(te) - 1):
            in_cell = in_row & (seconds >= te[i]) & (seconds < te[i + 1])
            out[j, i] = weights[in_cell].sum()
    return out


def write(frame: pl.DataFrame, path: Path) -> Path:
    frame.write_parquet(path)
    return path


# -- weights ----------------------------------------------------------------------------------


def test_cells_count_events_weighted_as_the_answer_weighs_them(tmp_path: Path) -> None:
    frame = with_time(sampled_events(), "datetime")
    path = write(frame, tmp_path / "sampled.parquet")
    ex = Explorer(str(path))
    where = "route = '/a'"
    h = ex.heatmap(View(where))
    assert h is not None
    assert h.weight_column == "sample_rate"
    seconds = seconds_of(frame["ts"], "datetime")
    values = frame["duration_ms"].to_numpy().astype(np.float64)
    rate = frame["sample_rate"].to_numpy().astype(np.float64)
    selected = (frame["route"] == "/a").to_numpy()
    expected_sel = naive_cells(seconds, values, np.where(selected, rate, 0.0), h)
    expected_base = naive_cells(seconds, values, np.where(selected, 0.0, rate), h)
    np.testing.assert_allclose(np.array(h.selection), expected_sel)
    np.testing.assert_allclose(np.array(h.baseline), expected_base)
    # the test has teeth: counting each event once gives other cells
    unweighted = naive_cells(seconds, values, selected.astype(np.float64), h)
    assert not np.allclose(unweighted, expected_sel)
    # the same weights and sides as the answer
    totals = ex.answer(View(where))["result"].totals
    assert np.array(h.selection).sum() == pytest.approx(totals.selection_weight)
    assert np.array(h.baseline).sum() == pytest.approx(totals.baseline_weight)
    assert h.to_dict()["weight_column"] == "sample_rate"


def test_no_weight_counts_each_event_once_and_a_named_weight_is_used(tmp_path: Path) -> None:
    frame = with_time(sampled_events(), "datetime").with_columns(
        other=pl.col("sample_rate") % 7 + 1
    )
    path = write(frame, tmp_path / "sampled.parquet")
    seconds = seconds_of(frame["ts"], "datetime")
    values = frame["duration_ms"].to_numpy().astype(np.float64)
    selected = (frame["host"] == "h-bad").to_numpy()
    for weight, column, w in (
        (False, None, np.ones(frame.height)),
        ("other", "other", frame["other"].to_numpy().astype(np.float64)),
    ):
        ex = Explorer(str(path), Options(weight=weight))
        h = ex.heatmap(View("host = 'h-bad'"))
        assert h is not None
        assert h.weight_column == column
        expected = naive_cells(seconds, values, np.where(selected, w, 0.0), h)
        np.testing.assert_allclose(np.array(h.selection), expected)
        assert ex.default_value == "duration_ms"


def test_weights_far_from_one_are_rescaled_as_the_answer_rescales_them() -> None:
    frame = with_time(sampled_events(400), "datetime").with_columns(
        sample_rate=pl.col("sample_rate").cast(pl.Float64) * 1e300
    )
    g = grid(frame, time_column="ts", value_column="duration_ms")
    assert g.weight_column == "sample_rate"
    assert g.weight_scale < 1e-290  # a power of two, as bubbleup.analyze uses
    h = g.heatmap(np.zeros(frame.height, dtype=bool))
    assert np.isfinite(np.array(h.baseline)).all()
    json.dumps(h.to_dict(), allow_nan=False)  # what the server sends
    total = frame["sample_rate"].sum() * g.weight_scale
    assert np.array(h.baseline).sum() == pytest.approx(total)


def test_bad_weights_are_the_answers_errors(tmp_path: Path) -> None:
    frame = with_time(sampled_events(300), "datetime").with_columns(
        sample_rate=pl.when(pl.col("host") == "h-1").then(-1).otherwise(pl.col("sample_rate"))
    )
    ex = Explorer(write(frame, tmp_path / "negative.parquet"))
    with pytest.raises(Exception, match="negative values") as raised:
        ex.heatmap(View("route = '/a'"))
    with pytest.raises(type(raised.value), match="negative values"):
        ex.answer(View("route = '/a'"))


def test_a_weight_column_that_is_not_there_stops_explore_at_once(tmp_path: Path) -> None:
    # at start (the CLI prints it as one line), not at the first box
    path = write(with_time(sampled_events(200), "datetime"), tmp_path / "events.parquet")
    with pytest.raises(WeightError, match=r"^weight column 'rate' not found; did you mean"):
        Explorer(str(path), Options(weight="rate"))


# -- time axes from numbers and text ----------------------------------------------------------


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns", "iso"])
def test_epoch_and_text_times_have_a_time_axis_and_boxes_paste_into_where(
    tmp_path: Path, unit: str
) -> None:
    frame = with_time(sampled_events(), unit)
    path = write(frame, tmp_path / f"events_{unit}.parquet")
    ex = Explorer(str(path), Options(weight=False))
    h = ex.heatmap(View())
    assert h is not None
    assert (h.time_column, h.value_column) == ("ts", "duration_ms")
    seconds = seconds_of(frame["ts"], unit)
    values = frame["duration_ms"].to_numpy().astype(np.float64)
    cells = naive_cells(seconds, values, np.ones(frame.height), h)
    np.testing.assert_allclose(np.array(h.baseline), cells)
    assert cells.sum() == frame.height
    # a box over the second half of the time axis and the upper values
    nx, ny = len(h.time_edges) - 1, len(h.value_edges) - 1
    i0, i1, j0, j1 = nx // 2, nx - 1, ny // 2, ny - 1
    sql = box_sql(h, i0, i1, j0, j1)
    te = edge_seconds(h)
    # naive filter on the raw column, in its own unit (or its own text)
    if unit == "iso":
        in_time = (seconds >= te[i0]) & (seconds < te[i1 + 1])
    else:
        raw = frame["ts"].to_numpy()
        lo, hi = (round(te[k]) * SCALE[unit] for k in (i0, i1 + 1))
        in_time = (raw >= lo) & (raw < hi)
    in_value = (values >= h.value_edges[j0]) & (values <= h.value_edges[j1 + 1])
    naive = int((in_time & in_value).sum())
    assert naive == cells[j0 : j1 + 1, i0 : i1 + 1].sum()  # the box is its cells, exactly
    assert 0 < naive < frame.height
    # the box's SQL pasted into --where picks those events
    out = CliRunner().invoke(
        app, ["analyze", str(path), "--where", sql, "--no-weight", "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["selection"]["events"] == naive
    # and as the page's next selection: every selected event inside the box
    boxed = ex.heatmap(View(sql))
    assert boxed is not None
    sel = np.array(boxed.selection)
    assert sel.sum() == naive
    assert sel[j0 : j1 + 1, i0 : i1 + 1].sum() == naive


def test_a_zoned_time_column_gives_a_box_that_polars_accepts() -> None:
    frame = with_time(sampled_events(600), "datetime").with_columns(
        ts=pl.col("ts").dt.convert_time_zone("Europe/Paris")
    )
    g = grid(frame, time_column="ts", value_column="duration_ms", weight=False)
    h = g.heatmap(np.zeros(frame.height, dtype=bool))
    sql = box_sql(h, 3, 20, 0, len(h.value_edges) - 2)
    expr, _ = compile_predicate(sql, frame.schema)
    picked = frame.select(expr.alias("m"))["m"].sum()
    assert picked == np.array(h.baseline)[:, 3:21].sum() > 0


def test_boxes_on_a_float_axis_hold_exactly_their_cells() -> None:
    # values 0.0, 0.5 ... 30.0 on an axis from 0 to 30 in 30 rows: every other value sits
    # on a cell edge, where a box must not take the next row's events
    frame = with_time(sampled_events(600), "datetime").with_columns(
        load=pl.Series(np.arange(600) % 61 * 0.5)
    )
    g = grid(frame, time_column="ts", value_column="load", weight=False)
    h = g.heatmap(np.zeros(frame.height, dtype=bool))
    assert h.value_edges == [float(x) for x in range(31)]
    rows = np.array(h.baseline).sum(axis=1)
    last = len(h.time_edges) - 2
    for j0, j1 in ((0, 0), (3, 3), (4, 9), (29, 29), (0, 29)):
        expr, _ = compile_predicate(box_sql(h, 0, last, j0, j1), frame.schema)
        assert frame.select(expr.alias("m"))["m"].sum() == rows[j0 : j1 + 1].sum() > 0


# -- the page ---------------------------------------------------------------------------------


@pytest.fixture
def epoch_server(tmp_path: Path) -> Iterator[Server]:
    path = write(with_time(sampled_events(), "ms"), tmp_path / "epoch_ms.parquet")
    with running(Explorer(str(path))) as s:
        yield s


def test_the_page_says_its_cells_are_weighted_and_boxes_epoch_times(
    epoch_server: Server,
) -> None:
    with chromium() as browser:
        page = browser.open(epoch_server.url)
        wait_ready(page)
        legend = page.evaluate("document.querySelector('.bx-legend').textContent")
        assert "events, weighted by sample_rate" in legend
        note = page.evaluate(
            "document.querySelector('.bx-heat + .bx-legend + .bx-note').textContent"
        )
        assert note.startswith("ts × duration_ms")
        heat = fetch_heat(page)
        nx, ny = len(heat["time_edges"]) - 1, len(heat["value_edges"]) - 1
        j0 = next(j for j, e in enumerate(heat["value_edges"]) if e >= 2000)
        drag(page, (nx // 2 + 1, j0), (nx - 1, ny - 1))
        boxed = wait_ready(page)
        assert boxed["error"] == ""
        assert boxed["where"].startswith("ts >= TIMESTAMPTZ '2025-11-19 ")
        h = epoch_server.explorer.heatmap(View())  # the page's SQL is the library's
        assert h is not None
        assert boxed["where"] == box_sql(h, nx // 2 + 1, nx - 1, j0, ny - 1)
        assert boxed["first"] == "host = 'h-bad'"  # the planted cause
        assert boxed["command"].startswith("bubbleup analyze ")
        assert page.errors == []
