"""Profile stage: decide which attributes take part in the analysis, and how.

One pass over the events in scope measures every candidate column (distinct values,
missing values, quantiles of numbers); from that each column becomes an :class:`Attribute`
of a kind (categorical, boolean, numeric) or is left out with a reason the user can read.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from bubbleup.errors import ColumnError, did_you_mean

#: Text columns whose (estimated) distinct values reach this share of the events are
#: identifiers, left out: ``IDENTIFIER_SHARE`` up to ``EXACT_QUANTILE_ROWS`` events, the
#: lower ``LARGE_IDENTIFIER_SHARE`` above, where the estimate is less precise (polars
#: estimated 100M unique ids as 91.6M) and counting such a column value by value would
#: take gigabytes.
IDENTIFIER_SHARE = 0.95
LARGE_IDENTIFIER_SHARE = 0.8
#: Numeric columns with at most this many distinct values are ordered categories.
MAX_NUMERIC_CATEGORIES = 24
#: Quantile levels that place the bin edges of numeric columns with many values.
SCOPE_QUANTILES = tuple(i / 16 for i in range(1, 16))
SELECTION_QUANTILES = tuple(i / 8 for i in range(1, 8))
#: Up to this many events in scope (in the selection), quantiles of the scope (of the
#: selection) are exact (linear interpolation, the definition of Spark's ``percentile``);
#: above, they are estimated on an evenly spaced sample of about ``QUANTILE_SAMPLE`` events.
EXACT_QUANTILE_ROWS = 1_000_000
QUANTILE_SAMPLE = 200_000

_TEMPORAL = (pl.Date, pl.Datetime, pl.Time, pl.Duration)
_NESTED = (pl.List, pl.Array, pl.Struct, pl.Binary, pl.Object)


@dataclass(frozen=True)
class Attribute:
    """One column taking part in the analysis.

    ``kind`` is ``categorical`` (strings, categoricals, enums), ``boolean`` or ``numeric``.
    A numeric attribute with ``edges`` is counted in bins ``x <= e0``, ``e0 < x <= e1``,
    ..., ``x > e_last``; without edges each value is its own (ordered) category.
    """

    name: str
    kind: str
    dtype: str
    distinct: int
    nulls: int
    edges: tuple[float, ...] = ()

    @property
    def binned(self) -> bool:
        """Whether the attribute is counted in value ranges rather than single values."""
        return bool(self.edges)


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
    if dtype.is_numeric():
        return "numeric"
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
    >>> select_columns(["a.x", "a.y", "b"], ["a.*"], option="--columns")
    ['a.x', 'a.y']
    """
    if patterns is None:
        return list(names)
    chosen: set[str] = set()
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            hits = fnmatch.filter(names, pattern)
            if not hits:
                raise ColumnError(f"{option} pattern '{pattern}' matches no column")
            chosen.update(hits)
        elif pattern in names:
            chosen.add(pattern)
        else:
            raise ColumnError(
                f"column '{pattern}' in {option} not found{did_you_mean(pattern, names)}"
            )
    return [n for n in names if n in chosen]


def candidates(
    schema: Mapping[str, pl.DataType],
    *,
    columns: Sequence[str] | None,
    exclude: Sequence[str] | None,
    predicate_columns: frozenset[str],
    weight_column: str | None,
) -> tuple[list[str], list[LeftOut]]:
    """Split the schema into columns to measure and columns left out by their type or role."""
    names = list(schema)
    wanted = select_columns(names, columns, option="--columns")
    excluded = set(select_columns(names, exclude, option="--exclude")) if exclude else set()
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
        elif isinstance(dtype, _TEMPORAL):
            left.append(LeftOut(name, "time column, not ranked"))
        elif isinstance(dtype, _NESTED):
            left.append(LeftOut(name, f"nested type {dtype}, not supported yet"))
        elif dtype == pl.Null:
            left.append(LeftOut(name, "all values missing"))
        elif _kind(dtype) is None:
            left.append(LeftOut(name, f"unsupported type {dtype}"))
        else:
            keep.append(name)
    return keep, left


def stats_exprs(schema: Mapping[str, pl.DataType], names: Sequence[str]) -> list[pl.Expr]:
    """Aggregations measuring each candidate column (``u{i}``: distinct values, an estimate
    counting missing as a value; ``n{i}``: missing values), for one streaming ``select``.

    Quantiles are measured apart, on the numeric columns only (see
    :func:`quantile_stride`), so that this pass streams in bounded memory.
    """
    exprs: list[pl.Expr] = []
    for i, name in enumerate(names):
        col = pl.col(name)
        exprs += [col.approx_n_unique().alias(f"u{i}"), col.null_count().alias(f"n{i}")]
    return exprs


def quantile_stride(rows: int) -> int:
    """Take every ``stride``-th value to estimate quantiles of ``rows`` values.

    1 (every value: exact quantiles) up to :data:`EXACT_QUANTILE_ROWS`, else an evenly
    spaced sample of about :data:`QUANTILE_SAMPLE` values.

    Examples
    --------
    >>> quantile_stride(1_000_000), quantile_stride(100_000_000)
    (1, 500)
    """
    return 1 if rows <= EXACT_QUANTILE_ROWS else max(1, rows // QUANTILE_SAMPLE)


def finite(col: pl.Expr) -> pl.Expr:
    """A numeric column as Float64 with NaN as missing."""
    x = col.cast(pl.Float64)
    return pl.when(x.is_nan()).then(None).otherwise(x)


def numeric_names(schema: Mapping[str, pl.DataType], names: Sequence[str]) -> list[str]:
    """The names of numeric columns, in order."""
    return [n for n in names if _kind(schema[n]) == "numeric"]


def quantile_stats(
    scope: pl.DataFrame, selection: pl.DataFrame, names: Sequence[str]
) -> dict[str, list[float | None]]:
    """``q{i}`` and ``s{i}``: quantiles of the ``i``-th name in two small frames of values
    (every or every ``stride``-th value of the scope and of the selection), by linear
    interpolation, the definition of Spark's ``percentile``."""
    out: dict[str, list[float | None]] = {}
    for frame, levels, key in (
        (scope, SCOPE_QUANTILES, "q"),
        (selection, SELECTION_QUANTILES, "s"),
    ):
        if frame.width == 0:
            continue
        row = frame.select(
            pl.col(c).quantile(list(levels), interpolation="linear") for c in frame.columns
        ).row(0, named=True)
        for i, name in enumerate(names):
            if name in row:
                out[f"{key}{i}"] = row[name]
    return out


def _edges(
    scope_q: list[float | None] | None, sel_q: list[float | None] | None
) -> tuple[float, ...]:
    values = {float(v) for v in (scope_q or []) + (sel_q or []) if v is not None}
    return tuple(sorted(v for v in values if v == v and abs(v) != float("inf")))


def build_profile(
    schema: Mapping[str, pl.DataType],
    names: Sequence[str],
    stats: Mapping[str, object],
    *,
    n_rows: int,
    left_out: Sequence[LeftOut],
) -> Profile:
    """Turn the measured statistics into attributes and reasons for leaving columns out."""
    attrs: list[Attribute] = []
    left = list(left_out)
    for i, name in enumerate(names):
        dtype = schema[name]
        kind = _kind(dtype)
        assert kind is not None
        nulls = int(stats[f"n{i}"])  # type: ignore[call-overload]
        distinct = int(stats[f"u{i}"])  # type: ignore[call-overload]
        if nulls == n_rows:
            left.append(LeftOut(name, "all values missing"))
            continue
        if distinct <= 1:  # approx_n_unique counts missing as a value
            left.append(LeftOut(name, "constant"))
            continue
        share = IDENTIFIER_SHARE if n_rows <= EXACT_QUANTILE_ROWS else LARGE_IDENTIFIER_SHARE
        if kind == "categorical" and n_rows >= 100 and distinct >= share * n_rows:
            left.append(LeftOut(name, "identifier: nearly every value is unique"))
            continue
        edges: tuple[float, ...] = ()
        if kind == "numeric" and distinct > MAX_NUMERIC_CATEGORIES:
            edges = _edges(stats.get(f"q{i}"), stats.get(f"s{i}"))  # type: ignore[arg-type]
        attrs.append(Attribute(name, kind, str(dtype), distinct, nulls, edges))
    return Profile(tuple(attrs), tuple(left))
