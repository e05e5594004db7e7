"""Time: the events' time column, time windows, before/after comparisons and the timeline.

- **The time column** is the one named with ``time_column``; else the one the kind of
  source names (OTLP spans: ``start_time``, logs: ``time``); else the only datetime or date
  column, or among several the first named ``timestamp``, ``time``, ``ts``,
  ``@timestamp``...; else a text or integer column with such a name whose values read as
  times. Text is read as ISO 8601 (a time without a zone is taken as UTC); integers as
  seconds, milliseconds, microseconds or nanoseconds since 1970 (by their size). Such a
  column is replaced by the times it holds (UTC).
- **since / until** limit the scope to ``since <= time < until``.
- **after** compares two periods of the same length: the selection is the events at or
  after the instant (up to ``until``, else the last event), narrowed by ``where`` if given;
  the baseline is the events in the same length of time before the instant, narrowed by
  ``baseline`` if given. ``filter`` narrows both sides.
- **The timeline** is the weighted count of selected and baseline events per time bucket
  (at most :data:`MAX_BUCKETS`, of a round length), shown as a sparkline.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import polars as pl

from bubbleup.errors import ColumnError, TimeError, UsageError, did_you_mean
from bubbleup.options import Options, option_name
from bubbleup.pipeline.items import quote_identifier, time_literal
from bubbleup.pipeline.split import Predicate, Split, compile_predicate, split

#: Column names taken as the time column, in order of preference.
TIME_NAMES = (
    "timestamp", "time", "ts", "@timestamp", "_time", "event_time", "start_time",
    "datetime", "created_at", "date",
)  # fmt: skip
#: The timeline has at most this many buckets.
MAX_BUCKETS = 48
_INTERVALS = (
    ("1s", 1), ("5s", 5), ("10s", 10), ("30s", 30), ("1m", 60), ("5m", 300), ("10m", 600),
    ("15m", 900), ("30m", 1800), ("1h", 3600), ("2h", 7200), ("3h", 10800), ("6h", 21600),
    ("12h", 43200), ("1d", 86400), ("7d", 604800), ("28d", 2419200), ("364d", 31449600),
)  # fmt: skip
_SPARKS = "▁▂▃▄▅▆▇█"
_SAMPLE = 1000


@dataclass(frozen=True)
class Window:
    """The time column and the window of one analysis.

    ``start`` and ``end`` bound the events considered (``start <= t < end``; ``None``: no
    bound); with ``after`` the selection is ``after <= t < end`` and the baseline
    ``start <= t < after``.
    """

    column: str | None
    expr: pl.Expr | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    after: dt.datetime | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def scope(self) -> pl.Expr | None:
        """The condition on time that limits the events considered, or ``None``."""
        if self.expr is None:
            return None
        parts = []
        if self.start is not None:
            parts.append(self.expr >= _lit(self.start))
        if self.end is not None:
            parts.append(self.expr < _lit(self.end))
        if not parts:
            return None
        out = parts[0]
        for p in parts[1:]:
            out = out & p
        return out


@dataclass(frozen=True)
class Timeline:
    """Weighted events per time bucket, on each side; the window used.

    ``every`` is the bucket length (polars duration text: ``1h``, ``15m``, ``1d``).
    """

    column: str
    every: str
    starts: tuple[dt.datetime, ...]
    selection: tuple[float, ...]
    baseline: tuple[float, ...]
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    after: dt.datetime | None = None
    #: with ``after``: the baseline is ``start <= t < after``, the selection
    #: ``after <= t < end``
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    @property
    def frame(self) -> pl.DataFrame:
        """The buckets as a DataFrame: ``start``, ``selection``, ``baseline`` (weighted
        events of each side in ``[start, start + every)``).

        Examples
        --------
        >>> import bubbleup
        >>> r = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
        >>> r.timeline.frame.columns, r.timeline.frame.height
        (['start', 'selection', 'baseline'], 48)
        """
        return pl.DataFrame(
            {"start": list(self.starts), "selection": self.selection, "baseline": self.baseline},
            schema_overrides={"selection": pl.Float64, "baseline": pl.Float64},
        )

    def __repr__(self) -> str:
        head = f"<bubbleup.Timeline of {self.column!r}, per {self.every}>"
        return head + "\n" + repr(self.frame)

    def _repr_html_(self) -> str:
        return str(self.frame._repr_html_())

    def to_dict(self) -> dict[str, Any]:
        """The ``timeline`` field of the JSON document."""
        return {
            "column": self.column,
            "every": self.every,
            "since": _iso(self.since),
            "until": _iso(self.until),
            "after": _iso(self.after),
            "buckets": [
                {"start": _iso(s), "selection": a, "baseline": b}
                for s, a, b in zip(self.starts, self.selection, self.baseline, strict=True)
            ],
        }

    def header_lines(self) -> list[tuple[str, str]]:
        """Lines for the header of the terminal view: the window and a sparkline."""
        lines = []
        if self.after is not None and self.start is not None and self.end is not None:
            after, before = self.end - self.after, self.after - self.start
            same = "the same length of time before" if after == before else (
                f"{show(self.start)} to {show(self.after)} ({_length(before)}, cut by --since)"
            )  # fmt: skip
            lines.append(("time", f"{self.column}: {show(self.after)} to {show(self.end)} "
                          f"({_length(after)}) vs {same}"))  # fmt: skip
        elif self.after is not None:
            lines.append(("time", f"{self.column}: after {show(self.after)} vs the same "
                          "length of time before"))  # fmt: skip
        elif self.since is not None or self.until is not None:
            bounds = [f"since {show(self.since)}"] if self.since else []
            bounds += [f"until {show(self.until)}"] if self.until else []
            lines.append(("time", f"{self.column}: {', '.join(bounds)}"))
        if self.starts:
            lines.append(
                (
                    "timeline",
                    f"{sparkline(self.selection)}  selection per {self.every} from "
                    f"{show(self.starts[0])} ({self.column})",
                )
            )
        return lines


def sparkline(values: tuple[float, ...] | list[float]) -> str:
    """One character per value, scaled to the largest; zero is a blank.

    Examples
    --------
    >>> sparkline([0, 1, 2, 4, 8])
    ' ▁▂▄█'
    """
    top = max(values, default=0.0)
    if top <= 0:
        return " " * len(values)
    n = len(_SPARKS)
    return "".join(
        " " if v <= 0 else _SPARKS[min(n - 1, max(0, math.ceil(v / top * n) - 1))] for v in values
    )


def show(t: dt.datetime | None) -> str:
    """A time as people read it: ``2026-11-20 14:00`` (seconds only when not zero).

    Examples
    --------
    >>> show(dt.datetime(2026, 11, 20, 14, 0)), show(dt.datetime(2026, 11, 20, 14, 0, 5))
    ('2026-11-20 14:00', '2026-11-20 14:00:05')
    """
    if t is None:
        return ""
    if t.second == 0 and t.microsecond == 0:
        return t.strftime("%Y-%m-%d %H:%M")
    return t.strftime("%Y-%m-%d %H:%M:%S") + (f".{t.microsecond:06d}" if t.microsecond else "")


def _length(span: dt.timedelta) -> str:
    """A length of time as people say it.

    Examples
    --------
    >>> _length(dt.timedelta(hours=1)), _length(dt.timedelta(minutes=59, seconds=57))
    ('1h', '59m 57s')
    """
    seconds = int(span.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if v]
    return " ".join(parts) or "0s"


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _lit(t: dt.datetime) -> pl.Expr:
    return pl.lit(t)


def parse_instant(value: str | dt.datetime | dt.date | None, option: str) -> dt.datetime | None:
    """Parse ``since`` / ``until`` / ``after`` (ISO 8601; a date is its midnight).

    ``option`` is the parameter, named in the error message as the caller's interface
    names it (:func:`bubbleup.options.option_name`).

    Examples
    --------
    >>> parse_instant("2026-11-20T14:00", "after")
    datetime.datetime(2026, 11, 20, 14, 0)
    >>> parse_instant("2026-11-20T14:00:00Z", "after").tzname()
    'UTC'
    """
    if value is None or isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    try:
        return dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise UsageError(
            f"{option_name(option)} {value!r} is not a time; use ISO 8601, such as "
            "2026-11-20T14:00 or 2026-11-20T14:00:00Z"
        ) from None


def _in_zone(t: dt.datetime | None, zone: str | None) -> dt.datetime | None:
    """An instant in the time column's zone (a naive instant is taken in that zone)."""
    if t is None:
        return None
    if zone is None:
        return t if t.tzinfo is None else t.astimezone(dt.UTC).replace(tzinfo=None)
    from zoneinfo import ZoneInfo

    z = ZoneInfo(zone)
    return t.replace(tzinfo=z) if t.tzinfo is None else t.astimezone(z)


def _sample(frame: pl.LazyFrame, name: str) -> pl.Series:
    return frame.select(pl.col(name).drop_nulls().head(_SAMPLE)).collect()[name]


def _epoch_unit(values: pl.Series) -> Literal["s", "ms", "us", "ns"] | None:
    """The unit of integer times since 1970 from their size, or ``None`` if implausible."""
    if values.is_empty():
        return None
    x = abs(float(np.median(values.cast(pl.Float64).to_numpy())))
    units: tuple[tuple[Literal["s", "ms", "us", "ns"], float], ...] = (
        ("s", 1), ("ms", 1e3), ("us", 1e6), ("ns", 1e9)
    )  # fmt: skip
    for unit, scale in units:
        if 3e8 * scale <= x < 4.2e9 * scale:  # 1979 to 2103
            return unit
    return None


def _time_expr(
    frame: pl.LazyFrame, name: str, dtype: pl.DataType, *, strict: bool
) -> pl.Expr | None:
    """The column as times (Datetime), or ``None`` (``strict``: an error) if it is not."""
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        return col
    if isinstance(dtype, pl.Date):
        return col.cast(pl.Datetime("us"))
    if dtype == pl.String:
        sample = _sample(frame, name)
        parsed = sample.str.to_datetime(time_zone="UTC", time_unit="us", strict=False)
        bad = sample.filter(parsed.is_null() & sample.is_not_null())
        if bad.is_empty() and not sample.is_empty():
            return col.str.to_datetime(time_zone="UTC", time_unit="us", strict=False)
        if strict:
            example = bad[0] if not bad.is_empty() else None
            raise TimeError(
                f"time column '{name}' holds text that is not a time"
                f"{f' ({example!r})' if example is not None else ''}; use ISO 8601 such as "
                f"2026-11-20T14:00:00Z, or name another column with {option_name('time_column')}"
            )
        return None
    if dtype.is_integer():
        unit = _epoch_unit(_sample(frame, name))
        if unit is not None:
            return pl.from_epoch(col, time_unit=unit).dt.replace_time_zone("UTC")
        if strict:
            raise TimeError(
                f"time column '{name}' holds integers that are not times since 1970 in "
                "seconds, milliseconds, microseconds or nanoseconds; name another column "
                f"with {option_name('time_column')}"
            )
        return None
    if strict:
        raise TimeError(
            f"time column '{name}' is {dtype}, not a time; name another column with "
            f"{option_name('time_column')}"
        )
    return None


def find_time_column(
    frame: pl.LazyFrame,
    schema: Mapping[str, pl.DataType],
    *,
    requested: str | None = None,
    hint: str | None = None,
    required: bool = False,
) -> tuple[str, pl.Expr] | None:
    """The time column and an expression giving its values as times (see the module).

    Raises
    ------
    ColumnError
        ``requested`` does not exist, or ``required`` and no time column is found.
    TimeError
        The requested (or required) column's values are not times.
    """
    if requested is not None:
        if requested not in schema:
            raise ColumnError(
                f"time column '{requested}' not found{did_you_mean(requested, schema)}"
            )
        expr = _time_expr(frame, requested, schema[requested], strict=True)
        assert expr is not None
        return requested, expr
    if hint is not None and hint in schema:
        expr = _time_expr(frame, hint, schema[hint], strict=required)
        if expr is not None:
            return hint, expr
    rank = {n: i for i, n in enumerate(TIME_NAMES)}

    def order(name: str) -> tuple[int, int]:
        return rank.get(name.lower(), len(rank)), list(schema).index(name)

    temporal = [n for n, t in schema.items() if isinstance(t, (pl.Datetime, pl.Date))]
    if temporal:
        datetimes = [n for n in temporal if isinstance(schema[n], pl.Datetime)] or temporal
        name = min(datetimes, key=order)
        expr = _time_expr(frame, name, schema[name], strict=True)
        assert expr is not None
        return name, expr
    named = sorted((n for n in schema if n.lower() in rank), key=order)
    for name in named:
        expr = _time_expr(frame, name, schema[name], strict=required and name == named[0])
        if expr is not None:
            return name, expr
    if required:
        raise ColumnError(
            "no time column found (no datetime column, nor one named timestamp, time, ts...); "
            f"name it with {option_name('time_column')}"
        )
    return None


def _range(frame: pl.LazyFrame, expr: pl.Expr) -> tuple[dt.datetime | None, dt.datetime | None]:
    row = frame.select(expr.min().alias("lo"), expr.max().alias("hi")).collect().row(0)
    return row[0], row[1]


def resolve(
    frame: pl.LazyFrame,
    schema: Mapping[str, pl.DataType],
    *,
    time_column: str | None = None,
    since: str | dt.datetime | None = None,
    until: str | dt.datetime | None = None,
    after: str | dt.datetime | None = None,
    hint: str | None = None,
) -> tuple[pl.LazyFrame, Window]:
    """Find the time column, read it as times, and limit ``frame`` to the window.

    Returns the frame (time column converted, events outside the window left out) and the
    window. Without a time column (and none asked for) the frame is returned unchanged.
    """
    t_since = parse_instant(since, "since")
    t_until = parse_instant(until, "until")
    t_after = parse_instant(after, "after")
    needed = any(t is not None for t in (t_since, t_until, t_after))
    found = find_time_column(
        frame, schema, requested=time_column, hint=hint, required=needed or bool(time_column)
    )
    if found is None:
        return frame, Window(None)
    name, expr = found
    if not isinstance(schema[name], (pl.Datetime, pl.Date)):
        frame = frame.with_columns(expr.alias(name))  # the column now holds times
        expr = pl.col(name)
    dtype = schema[name]
    zone = dtype.time_zone if isinstance(dtype, pl.Datetime) else None
    if not isinstance(dtype, (pl.Datetime, pl.Date)):
        zone = "UTC"  # text and integers are read as UTC times
    t_since, t_until, t_after = (_in_zone(t, zone) for t in (t_since, t_until, t_after))
    if t_since is not None and t_until is not None and t_since >= t_until:
        raise TimeError(
            f"{option_name('since')} {show(t_since)} is not before {option_name('until')} "
            f"{show(t_until)}"
        )
    window = Window(name, expr, t_since, t_until, t_after, t_since, t_until)
    if t_after is not None:
        lo, hi = _range(frame, expr)
        if lo is None or hi is None:
            raise TimeError(
                f"time column '{name}' has no values; {option_name('after')} needs times"
            )
        lo, hi = _in_zone(lo, zone), _in_zone(hi, zone)
        assert lo is not None
        assert hi is not None
        first = max(lo, t_since) if t_since is not None else lo
        last = min(hi, t_until) if t_until is not None else hi
        if not first < t_after <= last:
            raise TimeError(
                f"{option_name('after')} {show(t_after)} is outside the data's time range "
                f"({show(first)} to {show(last)} in '{name}'); choose an instant between them"
            )
        end = t_until if t_until is not None else _round_up(hi, hi - t_after)
        start = t_after - (end - t_after)
        if t_since is not None:
            start = max(start, t_since)
        window = replace(window, start=start, end=end)
    scope = window.scope()
    return (frame if scope is None else frame.filter(scope)), window


def _round_up(t: dt.datetime, span: dt.timedelta) -> dt.datetime:
    """Just after ``t``, rounded up to the minute (or second, for spans under an hour).

    Examples
    --------
    >>> _round_up(dt.datetime(2026, 11, 20, 23, 59, 57, 500), dt.timedelta(hours=10))
    datetime.datetime(2026, 11, 21, 0, 0)
    """
    step = dt.timedelta(minutes=1) if span >= dt.timedelta(hours=1) else dt.timedelta(seconds=1)
    if span < dt.timedelta(minutes=1):
        return t + dt.timedelta(microseconds=1)
    base = t.replace(second=0, microsecond=0) if step.seconds == 60 else t.replace(microsecond=0)
    return base + step


def sides(
    window: Window,
    schema: Mapping[str, pl.DataType],
    *,
    where: Predicate | None,
    baseline: Predicate | None,
) -> tuple[pl.Expr, pl.Expr, str, str]:
    """The selection and baseline of a before/after comparison, and their texts."""
    assert window.after is not None
    assert window.expr is not None
    assert window.start is not None
    t, col = window.expr, quote_identifier(window.column or "")
    after = t >= _lit(window.after)
    before = (t >= _lit(window.start)) & (t < _lit(window.after))
    dtype = schema.get(window.column or "")

    def bound(moment: dt.datetime) -> str:
        # a literal --where accepts for a date or datetime column; for times read from
        # text or numbers, the instant as text (the column holds no times to compare)
        if isinstance(dtype, (pl.Datetime, pl.Date)):
            aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
            micros = round(aware.timestamp() * 1e6)
            return time_literal(micros, str(dtype))
        return f"'{show(moment)}'"

    sel_text = f"{col} >= {bound(window.after)}"
    base_text = f"{col} >= {bound(window.start)} AND {col} < {bound(window.after)}"
    if where is not None:
        expr, _ = compile_predicate(where, schema, option="where")
        after = after & expr
        sel_text = f"{_wrap(where)} AND {sel_text}"
    if baseline is not None:
        expr, _ = compile_predicate(baseline, schema, option="baseline")
        before = before & expr
        base_text = f"{_wrap(baseline)} AND {base_text}"
    return after.fill_null(False), before.fill_null(False), sel_text, base_text


def _wrap(predicate: Predicate) -> str:
    text = predicate if isinstance(predicate, str) else str(predicate)
    return f"({text})" if " or " in text.lower() else text


def relabel(sp: Split, selection_text: str, baseline_text: str) -> Split:
    """The split with the texts shown for a before/after comparison."""
    return replace(sp, where=selection_text, baseline_text=baseline_text)


def resolve_options(
    frame: pl.LazyFrame, options: Options, *, hint: str | None = None
) -> tuple[pl.LazyFrame, Window]:
    """:func:`resolve` with the time options of an analysis (``time_column``, ``since``,
    ``until``, ``after``); ``hint`` is the time column the reader found, if any."""
    return resolve(
        frame,
        dict(frame.collect_schema()),
        time_column=options.time_column,
        since=options.since,
        until=options.until,
        after=options.after,
        hint=hint,
    )


def split_options(window: Window, schema: Mapping[str, pl.DataType], options: Options) -> Split:
    """:func:`split_in` with the selection options of an analysis."""
    return split_in(
        window,
        schema,
        where=options.where,
        baseline=options.baseline,
        filter=options.filter,
        weight=options.weight,
    )


def split_in(
    window: Window,
    schema: Mapping[str, pl.DataType],
    *,
    where: Predicate | None,
    baseline: Predicate | None = None,
    filter: Predicate | None = None,
    weight: str | bool | None = None,
) -> Split:
    """The sides of one analysis inside ``window`` (from :func:`resolve`).

    With ``after``, the selection is the events after it (and ``where``) and the baseline
    the same length of time before it (and ``baseline``); otherwise
    :func:`bubbleup.pipeline.split.split`, which needs ``where``.
    """
    if window.after is None:
        if where is None:
            raise UsageError("where is required (unless after gives the selection)")
        return split(schema, where=where, baseline=baseline, filter=filter, weight=weight)
    sel, base, sel_text, base_text = sides(window, schema, where=where, baseline=baseline)
    sp = split(schema, where=sel, baseline=base, filter=filter, weight=weight)
    return relabel(sp, sel_text, base_text)


def _every(span: dt.timedelta) -> str:
    """The shortest round bucket length that cuts ``span`` into at most MAX_BUCKETS.

    Examples
    --------
    >>> _every(dt.timedelta(hours=48)), _every(dt.timedelta(minutes=20))
    ('1h', '30s')
    """
    seconds = max(span.total_seconds(), 1.0)
    for text, length in _INTERVALS:
        if seconds / length <= MAX_BUCKETS:
            return text
    return _INTERVALS[-1][0]


def timeline(frame: pl.LazyFrame, sp: Split, window: Window) -> Timeline | None:
    """Weighted selected and baseline events per time bucket (one pass over the scope)."""
    if window.expr is None or window.column is None:
        return None
    lf = frame if sp.scope is None else frame.filter(sp.scope)
    t = window.expr
    lo, hi = window.start, window.end
    if lo is None or hi is None:
        dlo, dhi = _range(lf.filter(sp.selection | sp.baseline), t)
        if dlo is None or dhi is None:
            return None
        lo = lo if lo is not None else dlo
        hi = hi if hi is not None else dhi
    every = _every(hi - lo)
    counts = (
        lf.select(
            t.dt.truncate(every).alias("start"),
            sp.weight.alias("w"),
            sp.selection.alias("s"),
            sp.baseline.alias("b"),
        )
        .filter(pl.col("s") | pl.col("b"))
        .group_by("start")
        .agg(
            selection=(pl.col("w") * pl.col("s").cast(pl.Float64)).sum(),
            baseline=(pl.col("w") * pl.col("b").cast(pl.Float64)).sum(),
        )
        .collect()
    )
    dtype = counts.schema["start"]
    first = pl.select(pl.lit(lo).cast(dtype).dt.truncate(every)).item()
    grid = pl.datetime_range(first, hi, every, eager=True, closed="both").cast(dtype)
    full = (
        pl.DataFrame({"start": grid})
        .join(counts, on="start", how="left")
        .fill_null(0.0)
        .sort("start")
    )
    if window.end is not None:  # an exclusive end: no bucket starts at it
        full = full.filter(pl.col("start") < pl.lit(window.end).cast(dtype))
    return Timeline(
        column=window.column,
        every=every,
        starts=tuple(full["start"].to_list()),
        selection=tuple(full["selection"].to_list()),
        baseline=tuple(full["baseline"].to_list()),
        since=window.since,
        until=window.until,
        after=window.after,
        start=window.start,
        end=window.end,
    )
