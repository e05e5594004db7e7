"""The heatmap of ``bubbleup explore``: events per (time, value) cell, on each side.

:func:`heatmap` bins the events in scope by time (columns) and by one numeric column (rows)
with polars, and counts the selected and the baseline events in each cell, weighted as
:func:`bubbleup.analyze` weighs them (``weight``: a ``sample_rate`` column by default, see
:func:`bubbleup.pipeline.split.resolve_weight`). It also gives each cell edge as a SQL
literal, so that a box dragged over cells ``i0..i1`` x ``j0..j1`` becomes
``time >= t[i0] AND time < t[i1 + 1] AND value >= v[j0] AND value < v[j1 + 1]``
(:func:`box_sql`) without any quoting in the browser: exactly the events of those cells.

Durations are skewed: when a column's values are positive and span more than
:data:`LOG_SPAN` times, the value axis is logarithmic.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from bubbleup.errors import ColumnError, did_you_mean
from bubbleup.pipeline.count import check_weights
from bubbleup.pipeline.items import format_number, quote_identifier, time_literal, time_operand
from bubbleup.pipeline.split import resolve_weight, weight_scale

#: Time buckets (columns) and value buckets (rows) of the heatmap.
TIME_BINS = 60
VALUE_BINS = 30
#: A value axis whose positive values span more than this ratio is drawn on a log scale.
LOG_SPAN = 50.0
#: Names that say a column is a duration or a latency (the default value axis).
DURATION = re.compile(r"(duration|latency|elapsed|response_time|_ms$|_us$|_ns$|_seconds$)", re.I)

NUMERIC = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)


def numeric_columns(schema: Mapping[str, pl.DataType]) -> list[str]:
    """The columns a heatmap can draw on its value axis, in schema order.

    Examples
    --------
    >>> numeric_columns({"a": pl.String(), "d": pl.Int64(), "f": pl.Float32()})
    ['d', 'f']
    """
    return [n for n, t in schema.items() if t.is_numeric() and not isinstance(t, pl.Decimal)]


def default_value_column(
    schema: Mapping[str, pl.DataType], *, skip: Sequence[str] = ()
) -> str | None:
    """The first duration-like numeric column (by name), else the first numeric column.

    Examples
    --------
    >>> default_value_column({"retries": pl.Int64(), "duration_ms": pl.Int64()})
    'duration_ms'
    >>> default_value_column({"retries": pl.Int64()}), default_value_column({"a": pl.String()})
    ('retries', None)
    """
    names = [n for n in numeric_columns(schema) if n not in skip]
    for name in names:
        if DURATION.search(name):
            return name
    return names[0] if names else None


def check_value_column(name: str, schema: Mapping[str, pl.DataType]) -> None:
    """Raise :class:`~bubbleup.errors.ColumnError` unless ``name`` is a numeric column."""
    if name not in schema:
        raise ColumnError(f"column '{name}' not found{did_you_mean(name, schema)}")
    if name not in numeric_columns(schema):
        raise ColumnError(
            f"column '{name}' is {schema[name]}, not a number; pick a numeric column "
            f"for the heatmap ({', '.join(numeric_columns(schema)[:8])})"
        )


@dataclass(frozen=True)
class Heatmap:
    """Counts per cell and the cell edges.

    ``selection[j][i]`` and ``baseline[j][i]`` are the events in value bucket ``j`` (from
    the lowest values up) and time bucket ``i``, each counted with its weight
    (``weight_column``, times ``weight_scale``; ``None``: each event once). Buckets are
    ``[lo, hi)``, the last value bucket ``[lo, hi]``. ``time_edges`` are ISO 8601 texts,
    ``time_sql`` / ``value_sql`` the same edges as SQL literals, ``time_ident`` the time
    column as compared with them, ``value_upper_sql`` the comparison that closes a box
    ending at each edge (``< 2.5``; ``<= 399`` for whole numbers; ``<=`` at the last one).
    """

    time_column: str
    value_column: str
    log: bool
    time_edges: list[str]
    time_ident: str
    time_sql: list[str]
    value_edges: list[float]
    value_sql: list[str]
    value_upper_sql: list[str]
    selection: list[list[float]]
    baseline: list[list[float]]
    missing: float
    weight_column: str | None = None
    weight_scale: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        """The heatmap as JSON-ready data (what the page draws)."""
        return {
            "time_column": self.time_column,
            "value_column": self.value_column,
            "time_ident": self.time_ident,
            "value_ident": quote_identifier(self.value_column),
            "log": self.log,
            "time_edges": self.time_edges,
            "time_sql": self.time_sql,
            "value_edges": self.value_edges,
            "value_sql": self.value_sql,
            "value_upper_sql": self.value_upper_sql,
            "selection": self.selection,
            "baseline": self.baseline,
            "missing": self.missing,
            "weight_column": self.weight_column,
            "weight_scale": self.weight_scale,
        }


def _micros(t: dt.datetime) -> float:
    """An instant as microseconds since 1970 (a naive one read as UTC)."""
    return (t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)).timestamp() * 1e6


def _value_edges(lo: float, hi: float, *, integer: bool, bins: int) -> tuple[list[float], bool]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        hi = lo + 1
    log = lo > 0 and hi / lo > LOG_SPAN
    raw = np.geomspace(lo, hi, bins + 1) if log else np.linspace(lo, hi, bins + 1)
    if integer:
        raw = np.concatenate([[math.floor(lo)], np.ceil(raw[1:])])
        raw = np.unique(raw)
        if len(raw) < 2:
            raw = np.array([raw[0], raw[0] + 1])
    edges = [float(x) for x in raw]
    return edges, log


@dataclass(frozen=True)
class Grid:
    """The cells of a heatmap over one scope: edges, and each event's cell and weight.

    ``cells[r]`` is the cell of event ``r`` of the frame (``i * rows + j`` for time bucket
    ``i`` and value bucket ``j``), or -1 for an event out of scope or without a time or a
    value; ``weights[r]`` its weight times ``weight_scale`` (``None``: every event counts
    1). A new selection over the same scope costs one pass over a boolean mask.
    """

    time_column: str
    value_column: str
    time_dtype: pl.DataType
    integer: bool
    log: bool
    time_edges: list[dt.datetime]
    value_edges: list[float]
    cells: np.ndarray
    weights: np.ndarray | None
    weight_column: str | None
    weight_scale: float
    totals: np.ndarray
    missing: float

    def count(self, mask: np.ndarray) -> np.ndarray:
        """(Weighted) events per cell among those where ``mask`` is true, as (value, time)
        rows."""
        keep = mask & (self.cells >= 0)
        weights = None if self.weights is None else self.weights[keep]
        flat = np.bincount(self.cells[keep], weights=weights, minlength=self.totals.size)
        return self._rows(flat)

    def _rows(self, flat: np.ndarray) -> np.ndarray:
        # cell k = i * rows + j: one row per time bucket; the heatmap wants rows of values
        rows = len(self.value_edges) - 1
        return flat.reshape(len(self.time_edges) - 1, rows).T

    def heatmap(self, selected: np.ndarray, baseline: np.ndarray | None = None) -> Heatmap:
        """The heatmap of a selection (and a baseline; ``None``: every other event)."""
        sel = self.count(selected)
        base = self._rows(self.totals) - sel if baseline is None else self.count(baseline)
        edges = self.value_edges
        return Heatmap(
            time_column=self.time_column,
            value_column=self.value_column,
            log=self.log,
            time_edges=[e.isoformat() for e in self.time_edges],
            time_ident=time_operand(quote_identifier(self.time_column), str(self.time_dtype)),
            time_sql=[time_literal(_micros(e), str(self.time_dtype)) for e in self.time_edges],
            value_edges=edges,
            value_sql=[format_number(x) for x in edges],
            value_upper_sql=_uppers(edges, integer=self.integer),
            selection=sel.tolist(),
            baseline=base.tolist(),
            missing=self.missing,
            weight_column=self.weight_column,
            weight_scale=self.weight_scale,
        )


def grid(
    frame: pl.DataFrame,
    *,
    time_column: str,
    value_column: str,
    scope: pl.Expr | None = None,
    weight: str | bool | None = None,
    time_bins: int = TIME_BINS,
    value_bins: int = VALUE_BINS,
) -> Grid:
    """Bin the events in scope by time and value (the edges span the events in scope).

    ``weight`` is what :func:`bubbleup.analyze` takes: a column name, ``None`` for a
    ``sample_rate``-like column if there is one, ``False`` for none. Weights are checked
    and rescaled as the answer's are (:func:`~bubbleup.pipeline.count.check_weights`,
    :func:`~bubbleup.pipeline.split.weight_scale`).

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.read_parquet("sample_data/builds.parquet")
    >>> g = grid(df, time_column="ts", value_column="duration_ms")
    >>> g.log, len(g.time_edges), len(g.value_edges), g.weight_column
    (True, 61, 31, 'sample_rate')
    >>> int(g.totals.sum()) == df["sample_rate"].sum()
    True
    """
    dtype = frame.schema[time_column]
    if not isinstance(dtype, pl.Datetime):
        raise ColumnError(
            f"time column '{time_column}' is {dtype}, not a datetime; the heatmap needs one"
        )
    zone = dtype.time_zone
    inscope = frame if scope is None else frame.filter(scope)
    v = pl.col(value_column).cast(pl.Float64)
    if frame.schema[value_column].is_float():
        v = pl.when(v.is_finite()).then(v)  # NaN and infinities count as missing
    t = pl.col(time_column)
    ok = v.is_not_null() & t.is_not_null()
    w, weight_column, _auto = resolve_weight(weight, frame.schema)
    stats = inscope.select(
        v.min().alias("vlo"),
        v.max().alias("vhi"),
        t.min().alias("tlo"),
        t.max().alias("thi"),
        w.filter(~ok).sum().alias("missing"),
        w.is_nan().sum().alias("_w_nan"),
        w.min().alias("_w_min"),
        w.max().alias("_w_max"),
    ).row(0, named=True)
    check_weights(weight_column, stats)
    scale = weight_scale(stats["_w_max"])  # 1.0 without a weight column
    if stats["vlo"] is None:
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC if zone else None)
        stats.update(vlo=0.0, vhi=1.0, tlo=epoch, thi=epoch)
    integer = frame.schema[value_column] in NUMERIC
    edges, log = _value_edges(stats["vlo"], stats["vhi"], integer=integer, bins=value_bins)
    tlo, thi = stats["tlo"], stats["thi"]
    # whole seconds, and the last edge after the last event, so that every event falls in
    # a bucket and the edges read well in SQL
    tlo = tlo.replace(microsecond=0)
    step = dt.timedelta(seconds=math.ceil(((thi - tlo).total_seconds() + 1) / time_bins))
    t_edges = [tlo + step * k for k in range(time_bins + 1)]
    t0 = int(tlo.replace(tzinfo=tlo.tzinfo or dt.UTC).timestamp() * 1_000_000)
    step_us = max(step / dt.timedelta(microseconds=1), 1.0)
    ti = ((t.dt.epoch("us") - t0).cast(pl.Float64) / step_us).floor().clip(0, time_bins - 1)
    inner = pl.Series(edges[1:-1], dtype=pl.Float64)
    vj = pl.lit(inner).search_sorted(v, side="right")
    n_rows = len(edges) - 1
    keep = ok if scope is None else ok & scope.fill_null(False)
    key = pl.when(keep).then(ti.cast(pl.Int32) * n_rows + vj.cast(pl.Int32)).otherwise(-1)
    cells = frame.select(key.cast(pl.Int32).alias("k"))["k"].to_numpy()
    weights = None
    missing: float = int(stats["missing"] or 0)
    if weight_column is not None:
        weights = frame.select((w * scale).alias("w"))["w"].to_numpy()
        missing = float(stats["missing"] or 0.0) * scale
    inside = cells >= 0
    totals = np.bincount(
        cells[inside],
        weights=None if weights is None else weights[inside],
        minlength=n_rows * time_bins,
    )
    return Grid(
        time_column=time_column,
        value_column=value_column,
        time_dtype=dtype,
        integer=integer,
        log=log,
        time_edges=t_edges,
        value_edges=edges,
        cells=cells,
        weights=weights,
        weight_column=weight_column,
        weight_scale=scale,
        totals=totals,
        missing=missing,
    )


def heatmap(
    frame: pl.DataFrame,
    *,
    time_column: str,
    value_column: str,
    selected: pl.Expr,
    baseline: pl.Expr | None = None,
    scope: pl.Expr | None = None,
    weight: str | bool | None = None,
    time_bins: int = TIME_BINS,
    value_bins: int = VALUE_BINS,
) -> Heatmap:
    """Count the selected and the baseline events per (time, value) cell.

    Parameters
    ----------
    frame
        The events (kept in memory by the app).
    time_column, value_column
        A datetime column, and a numeric column.
    selected, baseline, scope
        Boolean expressions (null counts as false): the selection, the baseline
        (``None``: every other event in scope) and the scope (``None``: every event).
    weight
        Each event's weight, as :func:`bubbleup.analyze` takes it (default: a
        ``sample_rate`` column if there is one; ``False``: each event counts once).

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.read_parquet("sample_data/builds.parquet")
    >>> sel = pl.col("exit_reason") == "oom"
    >>> h = heatmap(df, time_column="ts", value_column="duration_ms", selected=sel)
    >>> h.log, len(h.time_edges), len(h.selection[0]), h.weight_column
    (True, 61, 60, 'sample_rate')
    >>> cells = sum(map(sum, h.selection)) + sum(map(sum, h.baseline)) + h.missing
    >>> cells == df["sample_rate"].sum()
    True
    >>> once = heatmap(df, time_column="ts", value_column="duration_ms", selected=sel,
    ...                weight=False)
    >>> sum(map(sum, once.selection)) == df.filter(sel).height
    True
    """
    g = grid(
        frame,
        time_column=time_column,
        value_column=value_column,
        scope=scope,
        weight=weight,
        time_bins=time_bins,
        value_bins=value_bins,
    )
    return g.heatmap(mask(frame, selected), None if baseline is None else mask(frame, baseline))


def mask(frame: pl.DataFrame, condition: pl.Expr) -> np.ndarray:
    """A boolean expression over the frame as a numpy mask (null counts as false)."""
    out: np.ndarray = frame.select(condition.fill_null(False).alias("m"))["m"].to_numpy()
    return out


def _uppers(edges: list[float], *, integer: bool) -> list[str]:
    """The comparison that closes a box ending at each edge: buckets are ``[lo, hi)``, so
    ``< hi``, or ``<= hi - 1`` for whole numbers; the last bucket is closed (``<= hi``).

    Examples
    --------
    >>> _uppers([0.0, 2.5, 5.0], integer=False), _uppers([0.0, 3.0, 6.0], integer=True)
    (['< 0', '< 2.5', '<= 5'], ['<= -1', '<= 2', '<= 6'])
    """
    last = f"<= {format_number(edges[-1])}"
    if not integer:
        return [f"< {format_number(x)}" for x in edges[:-1]] + [last]
    return [f"<= {format_number(x - 1)}" for x in edges[:-1]] + [last]


def box_sql(h: Heatmap, i0: int, i1: int, j0: int, j1: int) -> str:
    """The SQL of a box over time buckets ``i0..i1`` and value buckets ``j0..j1``.

    It selects exactly the events counted in those cells, and pastes into ``--where``.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.read_parquet("sample_data/builds.parquet")
    >>> sel = pl.col("exit_reason") == "oom"
    >>> h = heatmap(df, time_column="ts", value_column="duration_ms", selected=sel)
    >>> print(box_sql(h, 30, 59, 20, 29))  # doctest: +NORMALIZE_WHITESPACE
    ts >= TIMESTAMPTZ '2026-11-20 00:00:01+00:00' AND ts < TIMESTAMPTZ '2026-11-21 00:00:01+00:00'
    AND duration_ms >= 687211 AND duration_ms <= 18014999
    """
    i0, i1 = sorted((i0, i1))
    j0, j1 = sorted((j0, j1))
    t, v = h.time_ident, quote_identifier(h.value_column)
    return (
        f"{t} >= {h.time_sql[i0]} AND {t} < {h.time_sql[i1 + 1]} "
        f"AND {v} >= {h.value_sql[j0]} AND {v} {h.value_upper_sql[j1 + 1]}"
    )
