"""Profile stage: decide which attributes take part in the analysis, and how.

One pass over the events in scope measures every candidate column (distinct values,
missing values, quantiles of numbers, the first and last time); from that each column
becomes an :class:`Attribute` of a kind (categorical, boolean, numeric, time) and a role
(context or outcome, see :mod:`bubbleup.pipeline.roles`) or is left out with a reason the user can
read.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

import polars as pl

from bubbleup.errors import ColumnError, did_you_mean
from bubbleup.options import option_name

#: Numeric columns with at most this many distinct values are ordered categories.
MAX_NUMERIC_CATEGORIES = 24
#: Quantile levels that place the bin edges of numeric columns with many values.
SCOPE_QUANTILES = tuple(i / 16 for i in range(1, 16))
SELECTION_QUANTILES = tuple(i / 8 for i in range(1, 8))
#: Up to this many events in scope, the column statistics (quantiles, distinct values) are
#: exact (quantiles with linear interpolation, the same definition as Spark's
#: ``percentile``); above, they come from an evenly spaced sample of about
#: ``QUANTILE_SAMPLE`` events. The counts themselves are always exact.
EXACT_QUANTILE_ROWS = 1_000_000
QUANTILE_SAMPLE = 200_000
#: ... as long as events x columns stays under this: exact statistics hold every value of
#: every column (1M x 400 took 11 s and 5 GB to measure; sampled, a fraction).
EXACT_QUANTILE_CELLS = 50_000_000
#: Above ``EXACT_QUANTILE_ROWS`` events, the quantiles of the selection's numbers may come
#: from a sample of at least this many selected events (when the engine can draw one).
SELECTION_SAMPLE = 20_000
#: Categorical attributes with more distinct values than this (in the sample) are counted
#: in two phases: values seen in the selection first, then only those in the baseline.
TWO_PHASE_DISTINCT = 2_000

#: Why list columns are left out.
LIST_REASON = (
    "list: not ranked yet (an event holds several values); "
    "select on it with array_contains(name, 'value')"
)

_TEMPORAL = (pl.Date, pl.Datetime)
#: Time columns are counted on a regular grid of at most this many bins (round lengths:
#: 1m, 5m, 15m, 30m, 1h...), like the timeline; a time range is a contiguous run of bins.
MAX_TIME_BINS = 96
#: Bin lengths tried for time columns, in seconds.
TIME_STEPS = (
    1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800,
    2419200, 31449600,
)  # fmt: skip
#: Time columns are handled as microseconds since 1970-01-01 (UTC for zoned times).
MICROS = 1_000_000
_NESTED = (pl.List, pl.Array, pl.Struct, pl.Binary, pl.Object)


@dataclass(frozen=True)
class Attribute:
    """One column taking part in the analysis.

    ``kind`` is ``categorical`` (strings, categoricals, enums), ``boolean``, ``numeric``
    (durations in milliseconds) or ``time`` (dates and datetimes, as microseconds since
    1970). A numeric or time attribute with ``edges`` is counted in bins ``x <= e0``,
    ``e0 < x <= e1``, ..., ``x > e_last``; without edges each value is its own (ordered)
    category. Time edges are a regular grid. ``role`` is ``context`` (a candidate
    explanation) or ``outcome`` (described, never an explanation), with ``role_reason``.
    """

    name: str
    kind: str
    dtype: str
    distinct: int
    nulls: int
    edges: tuple[float, ...] = ()
    two_phase: bool = False
    role: str = "context"
    role_reason: str = ""

    @property
    def binned(self) -> bool:
        """Whether the attribute is counted in value ranges rather than single values."""
        return bool(self.edges)


#: Why a column of (nearly) unique values is left out.
IDENTIFIER = "identifier: nearly every value is unique"


@dataclass(frozen=True)
class LeftOut:
    """A column that does not take part, and why."""

    column: str
    reason: str


@dataclass(frozen=True)
class Profile:
    """The outcome of the profile stage."""

    attributes: tuple[Attribute, ...]
    left_out: tuple[LeftOut, ...]


def _kind(dtype: pl.DataType) -> str | None:
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_numeric() or isinstance(dtype, pl.Duration):
        return "numeric"
    if isinstance(dtype, _TEMPORAL):
        return "time"
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, (pl.Categorical, pl.Enum)):
        return "categorical"
    return None


def select_columns(
    names: Sequence[str], patterns: Sequence[str] | None, *, option: str
) -> list[str]:
    """Return the names matched by ``patterns`` (names or globs), in schema order.

    A plain name that matches nothing is an error with a did-you-mean; a glob that matches
    nothing is an error too.

    Examples
    --------
    >>> select_columns(["a.x", "a.y", "b"], ["a.*"], option="columns")
    ['a.x', 'a.y']
    """
    if patterns is None:
        return list(names)
    option = option_name(option)  # as the caller's interface names it
    chosen: set[str] = set()
    for pattern in patterns:
        if pattern in names:  # a column's own name, even with glob characters ("[x]")
            chosen.add(pattern)
        elif any(ch in pattern for ch in "*?["):
            hits = fnmatch.filter(names, pattern)
            if not hits:
                raise ColumnError(f"{option} pattern '{pattern}' matches no column")
            chosen.update(hits)
        else:
            raise ColumnError(
                f"column '{pattern}' in {option} not found{did_you_mean(pattern, names)}"
            )
    return [n for n in names if n in chosen]


def number(name: str, dtype: pl.DataType) -> pl.Expr:
    """A column as Float64 numbers: durations in milliseconds, times in microseconds since
    1970 (UTC), numbers as they are; NaN stays NaN.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> df = pl.DataFrame({"t": [dt.datetime(1970, 1, 1, 0, 0, 1)]})
    >>> df.select(number("t", df.schema["t"]))["t"].to_list()
    [1000000.0]
    """
    col = pl.col(name)
    if isinstance(dtype, pl.Duration):
        return col.dt.total_microseconds().cast(pl.Float64) / 1000.0
    if isinstance(dtype, _TEMPORAL):
        return col.dt.epoch("us").cast(pl.Float64)
    return col.cast(pl.Float64)


def attribute_number(attr: Attribute) -> pl.Expr:
    """The attribute's column as Float64 numbers, as :func:`number` (from its kind and type)."""
    if attr.kind == "time":
        return pl.col(attr.name).dt.epoch("us").cast(pl.Float64)
    if attr.dtype.startswith("Duration"):
        return pl.col(attr.name).dt.total_microseconds().cast(pl.Float64) / 1000.0
    return pl.col(attr.name).cast(pl.Float64)


def time_edges(low: float, high: float) -> tuple[float, ...]:
    """The inner edges of the regular grid that cuts ``[low, high]`` (microseconds) into at
    most :data:`MAX_TIME_BINS` bins of a round length, aligned on multiples of it.

    Examples
    --------
    >>> e = time_edges(0.0, 2 * 86400 * MICROS)  # two days: half-hour bins
    >>> len(e), (e[1] - e[0]) / (60 * MICROS)
    (95, 30.0)
    """
    span = max((high - low) / MICROS, 1.0)
    step = next((s for s in TIME_STEPS if span / s <= MAX_TIME_BINS), TIME_STEPS[-1]) * MICROS
    first = (low // step + 1) * step
    count = int(max(0.0, (high - first) // step)) + 1
    edges = [first + i * step for i in range(count)]
    return tuple(e for e in edges if low < e < high) or ((low + high) / 2,)


def candidates(
    schema: Mapping[str, pl.DataType],
    *,
    columns: Sequence[str] | None,
    exclude: Sequence[str] | None,
    predicate_columns: frozenset[str],
    weight_column: str | None,
    window_column: str | None = None,
) -> tuple[list[str], list[LeftOut]]:
    """Split the schema into columns to measure and columns left out by their type or role.

    ``window_column`` is the time column of a time window (``--since``, ``--after``...):
    the window says when, so it takes no part, like a predicate's columns.
    """
    names = list(schema)
    wanted = select_columns(names, columns, option="columns")
    excluded = set(select_columns(names, exclude, option="exclude")) if exclude else set()
    keep: list[str] = []
    left: list[LeftOut] = []
    for name in wanted:
        dtype = schema[name]
        if name in excluded:
            left.append(LeftOut(name, "excluded by --exclude"))
        elif name == weight_column:
            left.append(LeftOut(name, "weight column"))
        elif name in predicate_columns:
            left.append(LeftOut(name, "used in a predicate"))
        elif name == window_column:
            left.append(LeftOut(name, "time column of the time window"))
        elif isinstance(dtype, pl.Time):
            left.append(LeftOut(name, "time of day, not ranked"))
        elif isinstance(dtype, (pl.List, pl.Array)):
            left.append(LeftOut(name, LIST_REASON))
        elif isinstance(dtype, _NESTED):
            left.append(LeftOut(name, f"nested type {dtype}, not supported yet"))
        elif dtype == pl.Null:
            left.append(LeftOut(name, "all values missing"))
        elif _kind(dtype) is None:
            left.append(LeftOut(name, f"unsupported type {dtype}"))
        else:
            keep.append(name)
    return keep, left


def time_bounds(schema: Mapping[str, pl.DataType], names: Sequence[str]) -> list[pl.Expr]:
    """First and last time (``tlo{i}``, ``thi{i}``, in microseconds) of each time column,
    measured exactly in the totals pass: the grid of time bins spans every event.
    """
    out: list[pl.Expr] = []
    for i, name in enumerate(names):
        if _kind(schema[name]) == "time":
            x = number(name, schema[name])
            out += [x.min().alias(f"tlo{i}"), x.max().alias(f"thi{i}")]
    return out


def sample_stride(n_rows: int, n_columns: int = 1) -> int:
    """Every how many events the column statistics look at (1: all of them).

    Examples
    --------
    >>> sample_stride(200_000, 30), sample_stride(10_000_000, 30), sample_stride(1_000_000, 400)
    (1, 50, 5)
    """
    exact = n_rows <= EXACT_QUANTILE_ROWS and n_rows * n_columns <= EXACT_QUANTILE_CELLS
    return 1 if exact else max(1, n_rows // QUANTILE_SAMPLE)


def scope_queries(
    frame: pl.LazyFrame,
    schema: Mapping[str, pl.DataType],
    names: Sequence[str],
    *,
    n_rows: int,
    sample: pl.LazyFrame | None = None,
    per_query: int | None = None,
) -> list[pl.LazyFrame]:
    """Queries of the scope: ``u{i}``, distinct values (missing counts as one), and
    ``q{i}``, quantiles of numbers, for the ``i``-th of ``names``; ``_sample``, events seen.

    They run on an evenly spaced sample of the scope (every event up to
    ``EXACT_QUANTILE_ROWS``). Sampling whole rows (not one column at a time) lets polars
    stream the scan. ``sample`` replaces the evenly spaced sample by a sample of blocks of
    events (see :func:`bubbleup.engines.parquet.sample`). Each query measures a slice of at
    most ``per_query`` names.

    Examples
    --------
    >>> lf = pl.LazyFrame({"k": ["a", "b", "b"], "x": [1.0, 2.0, 3.0]})
    >>> [q.collect().row(0, named=True)["u0"] for q in scope_queries(
    ...     lf, lf.collect_schema(), ["k", "x"], n_rows=3)]
    [2]
    """
    stride = sample_stride(n_rows, len(names))
    if sample is None:
        sample = frame
        if stride > 1:  # every stride-th row; a row-index filter streams, gather_every not
            index = "__bubbleup_row"
            sample = frame.with_row_index(index).filter(pl.col(index) % stride == 0)
            sample = sample.drop(index)
    step = max(per_query or len(names), 1)
    numbered = list(enumerate(names))
    queries = []
    for start in range(0, max(len(names), 1), step):
        on_sample: list[pl.Expr] = [pl.len().alias("_sample")]
        for i, name in numbered[start : start + step]:
            # exact on the sample: polars' lazy approx_n_unique was off by 15% on 200,000
            # unique ids (171,924), enough to miss an identifier
            on_sample.append(pl.col(name).n_unique().alias(f"u{i}"))
            if _kind(schema[name]) == "numeric":
                x = _not_nan(number(name, schema[name]))
                on_sample.append(
                    x.quantile(list(SCOPE_QUANTILES), interpolation="linear").alias(f"q{i}")
                )
        queries.append(sample.select(on_sample))
    return queries


def ranged(
    schema: Mapping[str, pl.DataType], names: Sequence[str], stats: Mapping[str, object]
) -> list[str]:
    """The numbers among ``names`` with so many distinct values (``u{i}`` in ``stats``) that
    they get ranges: only those need the selection's quantiles (see :func:`build_profile`).

    Examples
    --------
    >>> ranged({"x": pl.Float64(), "n": pl.Int64(), "k": pl.String()}, ["x", "n", "k"],
    ...        {"u0": 5000, "u1": 3, "u2": 90})
    ['x']
    """
    return [
        name
        for i, name in enumerate(names)
        if _kind(schema[name]) == "numeric" and int(stats[f"u{i}"]) > MAX_NUMERIC_CATEGORIES  # type: ignore[call-overload]
    ]


def selection_queries(
    frame: pl.LazyFrame,
    schema: Mapping[str, pl.DataType],
    names: Sequence[str],
    *,
    selection: pl.Expr,
    selected: pl.LazyFrame | None = None,
    per_query: int | None = None,
    numbers: Collection[str] | None = None,
) -> list[pl.LazyFrame]:
    """Queries of the selection: ``s{i}``, quantiles of the ``i``-th of ``names`` among the
    selected events, for the ``numbers`` among them (default: every number; none: no query);
    ``_selected``, events selected.

    ``selected`` replaces the scan of every event by a sample of blocks of them. Each query
    measures at most ``per_query`` numbers, so the selection is read once when it holds up
    to ``per_query`` numbers.

    Examples
    --------
    >>> lf = pl.LazyFrame({"k": ["a", "b", "b"], "x": [1.0, 2.0, 3.0]})
    >>> (q,) = selection_queries(lf, lf.collect_schema(), ["k", "x"], selection=pl.col("x") > 1)
    >>> q.collect().row(0, named=True)["s1"]
    [2.125, 2.25, 2.375, 2.5, 2.625, 2.75, 2.875]
    >>> selection_queries(lf, lf.collect_schema(), ["k", "x"], selection=pl.lit(True),
    ...                   numbers=[])
    []
    """
    wanted = [
        (i, name)
        for i, name in enumerate(names)
        if _kind(schema[name]) == "numeric" and (numbers is None or name in numbers)
    ]
    step = max(per_query or len(names), 1)
    on = (frame if selected is None else selected).filter(selection)
    queries = []
    for start in range(0, len(wanted), step):
        on_selection: list[pl.Expr] = [pl.len().alias("_selected")]
        for i, name in wanted[start : start + step]:
            x = _not_nan(number(name, schema[name]))
            on_selection.append(
                x.quantile(list(SELECTION_QUANTILES), interpolation="linear").alias(f"s{i}")
            )
        queries.append(on.select(on_selection))
    return queries


def _not_nan(x: pl.Expr) -> pl.Expr:
    return pl.when(x.is_nan()).then(None).otherwise(x)


def _edges(
    scope_q: list[float | None] | None,
    sel_q: list[float | None] | None,
    *,
    integer: bool = False,
) -> tuple[float, ...]:
    """Bin edges from quantiles; for integers, rounded down: for a whole number x,
    ``x <= 4732.5`` is ``x <= 4732``, so the bins hold the same events and read as the
    column's values.

    Examples
    --------
    >>> _edges([1007.0, 4732.5], [68.3125], integer=True)
    (68.0, 1007.0, 4732.0)
    """
    values = {float(v) for v in (scope_q or []) + (sel_q or []) if v is not None}
    finite = (v for v in values if v == v and abs(v) != float("inf"))
    if integer:
        finite = (float(math.floor(v)) for v in finite)
    return tuple(sorted(set(finite)))


def build_profile(
    schema: Mapping[str, pl.DataType],
    names: Sequence[str],
    stats: Mapping[str, object],
    *,
    n_rows: int,
    left_out: Sequence[LeftOut],
    roles: Mapping[str, str] | None = None,
) -> Profile:
    """Turn the measured statistics into attributes and reasons for leaving columns out.

    Decisions that need exact counts (constant or all-missing columns) are taken after the
    count stage, by :func:`finalize`. ``roles`` maps the outcome columns to the reason
    they are outcomes (:func:`bubbleup.pipeline.roles.outcome_columns`); the rest are context.
    """
    attrs: list[Attribute] = []
    left = list(left_out)
    # engines that estimate distinct values over every event report no sample size
    sample = int(stats.get("_sample") or n_rows)  # type: ignore[call-overload]
    for i, name in enumerate(names):
        dtype = schema[name]
        kind = _kind(dtype)
        assert kind is not None
        distinct = int(stats[f"u{i}"])  # type: ignore[call-overload]
        if kind == "categorical" and sample >= 100 and distinct >= 0.95 * sample:
            left.append(LeftOut(name, IDENTIFIER))
            continue
        edges: tuple[float, ...] = ()
        if kind == "time":
            low, high = stats.get(f"tlo{i}"), stats.get(f"thi{i}")
            if low is None or high is None:
                left.append(LeftOut(name, "all values missing"))
                continue
            edges = time_edges(float(low), float(high))  # type: ignore[arg-type]
        elif kind == "numeric" and distinct > MAX_NUMERIC_CATEGORIES:
            edges = _edges(
                stats.get(f"q{i}"),  # type: ignore[arg-type]
                stats.get(f"s{i}"),  # type: ignore[arg-type]
                integer=dtype.is_integer(),
            )
            if not edges:  # numbers, but every value missing
                left.append(LeftOut(name, "all values missing"))
                continue
        two_phase = kind == "categorical" and distinct > TWO_PHASE_DISTINCT
        reason = (roles or {}).get(name)
        role = "context" if reason is None else "outcome"
        attrs.append(
            Attribute(name, kind, str(dtype), distinct, 0, edges, two_phase, role, reason or "")
        )
    return Profile(tuple(attrs), tuple(left))


def finalize(
    profile: Profile, counts: pl.DataFrame, *, baseline_weight: float, baseline_events: int
) -> tuple[Profile, pl.DataFrame]:
    """Drop constant and all-missing attributes, now that their exact counts are known.

    Sets each attribute's missing count (events in the selection or the baseline) and its
    exact number of distinct values (missing included; bins for binned numbers are not
    values: those keep the estimate).
    Attributes counted in two phases (only the values seen in the selection) get one more
    row, ``op = "other"``: the baseline events with any other value.
    """
    summary = {
        r["attribute"]: r
        for r in counts.group_by("attribute")
        .agg(
            groups=pl.len(),
            nulls=(pl.col("sel_events") + pl.col("base_events"))
            .filter(pl.col("op") == "is_null")
            .sum(),
            values=(pl.col("op") != "is_null").sum(),
        )
        .iter_rows(named=True)
    }
    attrs: list[Attribute] = []
    left = list(profile.left_out)
    for a in profile.attributes:
        row = summary.get(a.name)
        if row is None or row["values"] == 0:
            left.append(LeftOut(a.name, "all values missing"))
            continue
        if row["groups"] <= 1 and not a.binned:
            left.append(LeftOut(a.name, "constant"))
            continue
        # every engine counts every value (two-phase ones too): exact, unlike the estimate
        # of measure, from a sample above a million events
        distinct = a.distinct if a.binned else int(row["groups"])
        attrs.append(replace(a, distinct=distinct, nulls=int(row["nulls"])))
    kept = {a.name for a in attrs}
    counts = counts.filter(pl.col("attribute").is_in(kept))
    two_phase = [a.name for a in attrs if a.two_phase]
    if two_phase:
        # canonical form, whatever the engine counted: values never selected go to "other"
        counts = counts.filter(
            ~(
                pl.col("attribute").is_in(two_phase)
                & (pl.col("op") == "=")
                & (pl.col("sel_events") == 0)
            )
        )
        listed = (
            counts.filter(pl.col("attribute").is_in(two_phase))
            .group_by("attribute", maintain_order=True)
            .agg(pl.col("base").sum(), pl.col("base_events").sum())
        )
        other = listed.select(
            "attribute",
            op=pl.lit("other"),
            value=pl.lit(None, dtype=pl.String),
            low=pl.lit(None, dtype=pl.Float64),
            high=pl.lit(None, dtype=pl.Float64),
            sel=pl.lit(0.0),
            base=(baseline_weight - pl.col("base")).clip(lower_bound=0.0),
            sel_events=pl.lit(0, dtype=pl.Int64),
            base_events=(baseline_events - pl.col("base_events")).clip(lower_bound=0),
        ).filter(pl.col("base_events") > 0)
        counts = pl.concat([counts, other.select(counts.columns)], how="vertical_relaxed")
    return Profile(tuple(attrs), tuple(left)), counts
