"""Value distributions, their charts (SVG, terminal, matplotlib) against the raw events."""

from __future__ import annotations

import dataclasses
import io
import warnings

import polars as pl
import pytest
from rich.console import Console

import bubbleup
from bubbleup.outputs import charts
from bubbleup.pipeline import count
from tests.conftest import SAMPLE, make_events

WHERE = "outcome = 'error'"


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return make_events(4000, seed=21, planted=True)


@pytest.fixture(scope="module")
def result(frame: pl.DataFrame) -> bubbleup.Result:
    return bubbleup.analyze(frame, where=WHERE)


def _shares(frame: pl.DataFrame, column: str) -> dict[str | None, tuple[float, float]]:
    """Weighted share of each value on each side, straight from the events."""
    w = pl.col("sample_rate").cast(pl.Float64)
    sel = pl.col("outcome") == "error"
    totals = frame.select(s=w.filter(sel).sum(), b=w.filter(~sel).sum()).row(0)
    grouped = frame.group_by(column).agg(s=w.filter(sel).sum(), b=w.filter(~sel).sum())
    return {
        (None if v is None else str(v).lower()): (s / totals[0], b / totals[1])
        for v, s, b in grouped.iter_rows()
    }


def test_categorical_histogram_matches_the_events(
    frame: pl.DataFrame, result: bubbleup.Result
) -> None:
    hist = charts.histogram(result, "region")
    want = _shares(frame, "region")
    assert hist.height == len(want)  # 4 regions and missing: nothing folded
    for r in hist.iter_rows(named=True):
        key = None if r["type"] == "missing" else r["value"]
        assert r["selection_share"] == pytest.approx(want[key][0])
        assert r["baseline_share"] == pytest.approx(want[key][1])
    assert hist["selection_share"].to_list() == sorted(hist["selection_share"], reverse=True)
    assert hist["selection_share"].sum() == pytest.approx(1.0)


def test_many_values_fold_into_other(frame: pl.DataFrame, result: bubbleup.Result) -> None:
    hist = charts.histogram(result, "customer", top=5)
    assert hist.height == 6
    other = hist.row(5, named=True)
    assert other["type"] == "other"
    distinct = frame["customer"].n_unique()
    assert other["value"] == f"other ({distinct - 5:,} values)"
    assert hist["selection_share"].sum() == pytest.approx(1.0)
    assert hist["baseline_share"].sum() == pytest.approx(1.0)
    # the kept values are the most common on either side
    want = _shares(frame, "customer")
    biggest = sorted(want, key=lambda v: (-round(max(want[v]), 12), str(v)))[:5]
    assert set(hist["value"].head(5)) == set(biggest)


def test_numeric_histograms_keep_order(frame: pl.DataFrame, result: bubbleup.Result) -> None:
    mem = charts.histogram(result, "memory_mb")
    assert mem["value"].to_list() == ["2048", "4096", "8192", "(missing)"]
    binned = charts.histogram(result, "duration_ms")
    ranges = binned.filter(pl.col("type") == "range")
    assert ranges["value"][0].startswith("≤ ")
    assert ranges["value"][-1].startswith("> ")
    lows = ranges["low"].drop_nulls().to_list()
    assert lows == sorted(lows)
    assert binned["type"][-1] == "missing"
    # each range's share is the share of events in that range
    r = ranges.row(1, named=True)
    w = pl.col("sample_rate").cast(pl.Float64)
    sel = pl.col("outcome") == "error"
    inside = (pl.col("duration_ms") > r["low"]) & (pl.col("duration_ms") <= r["high"])
    got = frame.select(a=w.filter(sel & inside).sum() / w.filter(sel).sum()).item()
    assert r["selection_share"] == pytest.approx(got)


def test_unknown_attribute_names_the_analysed_ones(result: bubbleup.Result) -> None:
    with pytest.raises(bubbleup.ColumnError) as info:
        result.plot("outcome")
    message = str(info.value)
    assert message.startswith("attribute 'outcome' was not analysed (left out: used in a ")
    for name in result.attributes["attribute"]:
        assert name in message
    with pytest.raises(bubbleup.ColumnError, match="did you mean 'region'"):
        result.histogram("regoin")
    assert "\n" not in message


def test_svg_charts(result: bubbleup.Result) -> None:
    paired = charts.svg(result, "region")
    assert paired.startswith("<svg")
    assert paired.endswith("</svg>")
    assert paired.count("<rect") == 2 * charts.histogram(result, "region").height
    overlaid = charts.svg(result, "duration_ms")
    assert "value ranges" in overlaid
    assert overlaid.count("<rect") == 2 * charts.histogram(result, "duration_ms").height


def test_terminal_histograms(result: bubbleup.Result) -> None:
    console = Console(file=io.StringIO(), width=120, record=True)
    console.print(charts.histograms_renderable(result, attributes=3))
    text = console.export_text()
    for name in result.attributes["attribute"].head(3):
        assert f"{name}  (" in text
    assert "selection" in text
    assert "baseline" in text


def test_plot_returns_matplotlib_figures(result: bubbleup.Result) -> None:
    from matplotlib.figure import Figure

    for name, kind in (("region", "barh"), ("duration_ms", "bar"), ("memory_mb", "bar")):
        fig = result.plot(name)
        assert isinstance(fig, Figure)
        ax = fig.axes[0]
        assert ax.get_title() == f"{name}: selection vs baseline"
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert sorted(labels) == ["baseline", "selection"]
        bars = charts.histogram(result, name).height
        assert len(ax.patches) == 2 * bars, kind
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_shows_dollar_signs_literally() -> None:
    frame = pl.DataFrame(
        {"ok": [True] * 30 + [False] * 70, "price": ["$5 $x^2$"] * 30 + ["$$"] * 70}
    )
    result = bubbleup.analyze(frame, where="ok")
    fig = result.plot("price")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO(), format="svg")
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks == [r"\$5 \$x^2\$", r"\$\$"]  # escaped for matplotlib: drawn as typed


def test_sample_top_chart_is_the_kernel() -> None:
    result = bubbleup.analyze(SAMPLE, where="exit_reason = 'oom'")
    assert charts.top_attributes(result, 2) == ["kernel_version", "build_tool"]
    hist = result.histogram("kernel_version")
    assert hist.row(0, named=True)["value"] == "5.15.0-91-generic"
    assert hist.row(0, named=True)["selection_share"] == pytest.approx(0.867, abs=5e-4)


def test_kept_counts_fold_rare_values_without_changing_shares(result: bubbleup.Result) -> None:
    trimmed = dataclasses.replace(
        result, counts=count.keep_counts(result.counts, result.totals, keep=40)
    )
    customers = trimmed.counts.filter(pl.col("attribute") == "customer")
    assert customers.height == 41
    assert customers["op"][-1] == "other"
    full = charts.histogram(result, "customer", top=5)
    assert charts.histogram(trimmed, "customer", top=5).equals(full)
    assert trimmed.counts.filter(pl.col("attribute") == "duration_ms").equals(
        result.counts.filter(pl.col("attribute") == "duration_ms")
    )
