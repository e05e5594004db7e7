"""Count stage (polars engine): the only stage that reads every event.

It runs two passes over the events in scope, each a single polars query plan:

1. :func:`measure`: the totals of the selection and the baseline (weighted, raw and with
   squared weights, for effective sample sizes) and the statistics the profile stage needs.
2. :func:`count`: one ``group_by`` per attribute, all collected together on the streaming
   engine, giving the weighted and raw counts of every value (or value range) on each side.

The result of :func:`count` is the *counts table*, the seam between engines and statistics
(see ``docs/design.md``): one row per item with ``attribute``, ``op``, ``value``, ``low``,
``high``, ``sel``, ``base``, ``sel_events`` and ``base_events``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from bubbleup.errors import PredicateError, SourceError, WeightError, first_line
from bubbleup.options import option_name
from bubbleup.pipeline.items import Item, item_condition
from bubbleup.pipeline.profile import (
    QUANTILE_SAMPLE,
    SELECTION_SAMPLE,
    Attribute,
    attribute_number,
    ranged,
    sample_stride,
    scope_queries,
    selection_queries,
    time_bounds,
)
from bubbleup.pipeline.split import Split, predicate_failure

#: The summed columns of the counts table (and of the pattern table).
SUMS = ("sel", "base", "sel_events", "base_events")

#: Schema of the counts table every engine returns.
COUNTS_SCHEMA: dict[str, pl.DataType] = {
    "attribute": pl.String(),
    "op": pl.String(),
    "value": pl.String(),
    "low": pl.Float64(),
    "high": pl.Float64(),
    "sel": pl.Float64(),
    "base": pl.Float64(),
    "sel_events": pl.Int64(),
    "base_events": pl.Int64(),
}


@dataclass(frozen=True)
class Totals:
    """Sizes of the scope, the selection and the baseline."""

    scope_events: int
    selection_events: int
    baseline_events: int
    selection_weight: float
    baseline_weight: float
    selection_weight_sq: float
    baseline_weight_sq: float

    @property
    def selection_eff(self) -> float:
        """Kish effective sample size of the selection: (sum w)^2 / sum w^2."""
        return _kish(self.selection_weight, self.selection_weight_sq)

    @property
    def baseline_eff(self) -> float:
        """Kish effective sample size of the baseline."""
        return _kish(self.baseline_weight, self.baseline_weight_sq)


def _kish(total: float, total_sq: float) -> float:
    return total * total / total_sq if total_sq > 0 else 0.0


#: Each query of a ``collect_all`` scans its own columns: with common-subplan elimination
#: polars caches the shared scan, which holds every column of every row in memory.
_NO_CSE = pl.QueryOptFlags(comm_subplan_elim=False)


#: Queries collected together at most (``batch``), and columns measured by one query:
#: polars plans a ``collect_all`` as one graph whose cost grows with the square of its
#: aggregations (2,000 ``n_unique`` in one graph 2.7 s, 4,000 10 s). In small batches the
#: work is linear in the number of columns (measuring 2,000 columns, a third of them
#: numbers: 7.0 s in batches of 8 queries of 64 columns, 1.7 s in pairs of 32; bench/README.md).
COLLECT_BATCH = 8
STATS_BATCH = 2
STATS_COLUMNS = 32


#: Queries over at most this many values (events x columns read) run on polars' in-memory
#: engine, as do queries of a sample already in memory: the streaming engine's set-up per
#: aggregation dominates small queries (measuring 999 columns of 2,000 events: 1.77 s
#: streaming, 0.13 s in memory; the 200,000-event sample of 2M x 41: 0.27 -> 0.15 s, the
#: same statistics). Above it, streaming keeps the memory bounded.
SMALL_VALUES = 1 << 22

Engine = Literal["streaming", "in-memory"]


def engine_for(rows: int | None, columns: int, *, in_memory: bool = False) -> Engine:
    """The polars engine for queries reading ``columns`` columns of ``rows`` events (see
    :data:`SMALL_VALUES`); ``in_memory``: their input is a frame already in memory.

    ``rows`` is ``None`` when the events the queries read are not known to be few: a frame
    whose plan filters a scan the reader cannot filter (a row index, a LazyFrame of the
    user's) would be read whole into memory by the in-memory engine, however few events
    pass the filter (10M x 50 events, 1,000 kept by row index: 5.1 GB in memory, 1.4 GB
    streaming).

    Examples
    --------
    >>> engine_for(2_000, 32), engine_for(10_000_000, 32), engine_for(None, 32)
    ('in-memory', 'streaming', 'streaming')
    >>> engine_for(None, 32, in_memory=True)
    'in-memory'
    """
    if in_memory or (rows is not None and rows * max(columns, 1) <= SMALL_VALUES):
        return "in-memory"
    return "streaming"


def _collect(
    frames: list[pl.LazyFrame],
    what: str,
    batch: int = COLLECT_BATCH,
    *,
    engine: Engine = "streaming",
) -> list[pl.DataFrame]:
    try:
        return [
            result
            for start in range(0, len(frames), batch)
            for result in pl.collect_all(
                frames[start : start + batch], engine=engine, optimizations=_NO_CSE
            )
        ]
    except pl.exceptions.ColumnNotFoundError:
        raise
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise SourceError(f"could not read the events while {what}: {first_line(exc)}") from None


def _scoped(frame: pl.LazyFrame, split: Split) -> pl.LazyFrame:
    return frame if split.scope is None else frame.filter(split.scope)


#: Draws a sample for the column statistics: ``sampler(rows, wanted, columns)`` returns
#: about ``rows`` of the ``wanted`` events (those in scope, or those selected) with
#: ``columns``, unfiltered (the caller filters), or ``None`` to let polars scan everything.
Sampler = Callable[[int, int, Sequence[str]], pl.DataFrame | None]


def blame_predicate(frame: pl.LazyFrame, split: Split) -> PredicateError | None:
    """After a pass over the events failed: the predicate that fails on its own, if one does.

    Compiling a predicate checks its columns and types on no events; some errors only show
    on the data (``CAST(region AS INT)`` on text that is not a number). Each predicate is
    run alone (the filter on every event, the others inside its scope) to name the culprit
    instead of blaming the source.

    Examples
    --------
    >>> from bubbleup.pipeline.split import split as make_split
    >>> events = pl.LazyFrame({"region": ["eu", "us"]})
    >>> sp = make_split({"region": pl.String()}, where="CAST(region AS INT) > 1")
    >>> print(str(blame_predicate(events, sp)).split(":")[0])
    cannot evaluate where predicate 'CAST(region AS INT) > 1'
    """
    checks = [("where", split.where, split.selection)]
    if not split.complement:
        checks.append(("baseline", split.baseline_text, split.baseline))
    scoped = _scoped(frame, split)
    runs = [(option, text, scoped, expr) for option, text, expr in checks]
    if split.scope is not None and split.filter_text is not None:
        runs.insert(0, ("filter", split.filter_text, frame, split.scope))
    for option, text, events, expr in runs:
        try:
            events.select(expr.sum()).collect(engine="streaming")
        except pl.exceptions.PolarsError as exc:
            return predicate_failure(option_name(option), text, exc)
    return None


#: A sample that holds fewer than this share of the events it was drawn for is not used
#: (the statistics then come from every event): blocks spread evenly over the source can
#: all miss a scope or a selection that sits between them.
MIN_SAMPLE_SHARE = 0.25


def _enough(
    drawn: pl.DataFrame | None, split: Split, rows: int, *, selection: bool = False
) -> pl.LazyFrame | None:
    """The scoped sample, if it holds enough of the events it is for (else ``None``)."""
    if drawn is None:
        return None
    scoped = _scoped(drawn.lazy(), split)
    wanted = scoped.filter(split.selection) if selection else scoped
    held = wanted.select(pl.len()).collect().item()
    return scoped if held >= MIN_SAMPLE_SHARE * rows else None


def measure(
    frame: pl.LazyFrame,
    split: Split,
    schema: Mapping[str, pl.DataType],
    names: Sequence[str],
    *,
    sampler: Sampler | None = None,
    plain: bool = False,
) -> tuple[Totals, dict[str, Any]]:
    """Return the totals and the per-column statistics (see
    :func:`~bubbleup.pipeline.profile.scope_queries` and
    :func:`~bubbleup.pipeline.profile.selection_queries`).

    ``plain``: ``frame`` reads Parquet files as they are or a table in memory, so that a
    query of few events (see :func:`engine_for`) may run in memory.

    The totals come first (a pass over the predicate and weight columns only); then the
    column statistics of the scope, then the selection's quantiles of the numbers that get
    ranges, from samples when the scope has more than
    :data:`~bubbleup.pipeline.profile.EXACT_QUANTILE_ROWS` events and ``sampler`` can draw them.
    """
    lf = _scoped(frame, split)
    w, s, b = split.weight, split.selection, split.baseline
    totals = [
        pl.len().alias("_scope"),
        s.sum().alias("_sel_n"),
        b.sum().alias("_base_n"),
        w.filter(s).sum().alias("_sel_w"),
        w.filter(b).sum().alias("_base_w"),
        (w * w).filter(s).sum().alias("_sel_w2"),
        (w * w).filter(b).sum().alias("_base_w2"),
        w.min().alias("_w_min"),
        w.max().alias("_w_max"),
        w.is_nan().sum().alias("_w_nan"),
        *time_bounds(schema, names),
    ]
    try:
        first = _collect([lf.select(totals)], "counting events")[0]
    except (pl.exceptions.PolarsError, SourceError):
        blamed = blame_predicate(frame, split)
        if blamed is None:
            raise
        raise blamed from None
    row: dict[str, Any] = dict(first.row(0, named=True))
    n_rows, n_selected = int(row["_scope"]), int(row["_sel_n"] or 0)
    if sample_stride(n_rows, len(names)) == 1 or n_selected == 0:
        sampler = None  # every event is measured (or nothing is selected)
    predicates = sorted(split.predicate_columns)
    sample = None
    if sampler is not None:
        sample = _enough(
            sampler(QUANTILE_SAMPLE, n_rows, [*predicates, *names]), split, QUANTILE_SAMPLE
        )
    queries = scope_queries(
        lf, schema, names, n_rows=n_rows, sample=sample, per_query=STATS_COLUMNS
    )
    kept = _SCOPE_STATS.get()
    memo: Mapping[str, dict[str, Any]] = {} if kept is None else kept
    keys = [None if kept is None else _plan_key(q) for q in queries]
    todo = [q for q, key in zip(queries, keys, strict=True) if key is None or key not in memo]
    columns = min(len(names), STATS_COLUMNS)
    rows = n_rows if plain else None
    engine = engine_for(rows, columns, in_memory=sample is not None)
    fresh = iter(_collect(todo, "measuring columns", STATS_BATCH, engine=engine))
    for key in keys:
        if key is not None and key in memo:
            part = memo[key]
        else:
            part = next(fresh).row(0, named=True)
            if key is not None:
                _remember(key, part)
        row.update(part)
    # the selection's quantiles, of the numbers that get ranges only (the others are
    # counted value by value): the selection is read for fewer columns
    numbers = ranged(schema, names, row)
    selected = None
    if sampler is not None and numbers and n_selected > SELECTION_SAMPLE:
        drawn = sampler(SELECTION_SAMPLE, n_selected, [*predicates, *numbers])
        selected = _enough(drawn, split, SELECTION_SAMPLE, selection=True)
    on_selection = selection_queries(
        lf, schema, names, selection=s, selected=selected, per_query=STATS_COLUMNS, numbers=numbers
    )
    engine = engine_for(rows, columns, in_memory=selected is not None)
    for quantiles in _collect(on_selection, "measuring columns", STATS_BATCH, engine=engine):
        row.update(quantiles.row(0, named=True))
    return totals_from_row(row, split), row


#: Statistics of a scope kept by :func:`keep_scope_stats` (queries, not scopes: a few per
#: scope).
SCOPE_STATS_KEPT = 64
_SCOPE_STATS: ContextVar[OrderedDict[str, dict[str, Any]] | None] = ContextVar(
    "bubbleup_scope_stats", default=None
)


def _remember(key: str, part: dict[str, Any]) -> None:
    memo = _SCOPE_STATS.get()
    if memo is not None:
        memo[key] = part
        while len(memo) > SCOPE_STATS_KEPT:
            memo.popitem(last=False)


def _plan_key(query: pl.LazyFrame) -> str:
    """The key of a query of :func:`~bubbleup.pipeline.profile.scope_queries`.

    Those queries (distinct values, quantiles of the scope) depend on the events, the scope
    and the columns only, not on the selection: their unoptimised plans name all three.
    """
    return query.explain(optimized=False)


@contextmanager
def keep_scope_stats(memo: OrderedDict[str, dict[str, Any]]) -> Iterator[None]:
    """Inside, :func:`measure` keeps the statistics of each scope in ``memo`` and reuses them.

    For a caller that asks many questions of the same events (the explore page: one
    frame, a new selection per box): the scope's column statistics do not depend on the
    selection, so a new box over the same scope costs only the selection's own pass. The
    caller owns ``memo`` and must use it for one source only (its keys are query plans,
    which name the scope and columns but not the data).
    """
    token = _SCOPE_STATS.set(memo)
    try:
        yield
    finally:
        _SCOPE_STATS.reset(token)


def check_weights(column: str | None, row: Mapping[str, Any]) -> None:
    """Raise :class:`~bubbleup.errors.WeightError` unless the weights are numbers >= 0.

    ``row`` holds ``_w_nan`` (how many weights are NaN), ``_w_min`` and ``_w_max``; no
    check without a weight ``column``.

    Examples
    --------
    >>> check_weights("w", {"_w_nan": 0, "_w_min": 0.5, "_w_max": 5.0})
    >>> check_weights("w", {"_w_nan": 0, "_w_min": -1.0, "_w_max": 5.0})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bubbleup.errors.WeightError: weight column 'w' has negative values (minimum -1); ...
    """
    if column is None:
        return
    if row["_w_nan"]:
        raise WeightError(
            f"weight column '{column}' has NaN values; "
            f"fix the data or pass {option_name('no_weight')}"
        )
    if row.get("_w_max") is not None and math.isinf(row["_w_max"]):
        raise WeightError(
            f"weight column '{column}' has infinite values; weights must be finite numbers >= 0"
        )
    if row["_w_min"] is not None and row["_w_min"] < 0:
        raise WeightError(
            f"weight column '{column}' has negative values "
            f"(minimum {row['_w_min']:g}); weights must be >= 0"
        )


def totals_from_row(row: Mapping[str, Any], split: Split) -> Totals:
    """Check the weights and build the :class:`Totals` from a measured row (any engine).

    ``row`` holds ``_scope``, ``_sel_n``, ``_base_n``, ``_sel_w``, ``_base_w``,
    ``_sel_w2``, ``_base_w2`` (sums over no event may be null), ``_w_min``, ``_w_max`` and
    ``_w_nan``.
    """
    check_weights(split.weight_column, row)
    return Totals(
        scope_events=int(row["_scope"]),
        selection_events=int(row["_sel_n"] or 0),
        baseline_events=int(row["_base_n"] or 0),
        selection_weight=float(row["_sel_w"] or 0.0),
        baseline_weight=float(row["_base_w"] or 0.0),
        selection_weight_sq=float(row["_sel_w2"] or 0.0),
        baseline_weight_sq=float(row["_base_w2"] or 0.0),
    )


def key_expr(attr: Attribute) -> pl.Expr:
    """The grouping key of an attribute: its value, or its bin number when it is binned."""
    col = pl.col(attr.name)
    if attr.kind == "time":
        # a regular grid: the bin number is arithmetic, not one comparison per edge
        x = attribute_number(attr)
        e0, n = attr.edges[0], len(attr.edges)
        step = attr.edges[1] - e0 if n > 1 else 1.0
        index = ((x - e0) / step).ceil().clip(0, n).cast(pl.Int32)
        return pl.when(x.is_null()).then(None).otherwise(index).alias("k")
    if attr.binned:
        x = attribute_number(attr)
        x = pl.when(x.is_nan()).then(None).otherwise(x)
        index = pl.sum_horizontal([(x > e).cast(pl.Int32) for e in attr.edges])
        return pl.when(x.is_null()).then(None).otherwise(index).alias("k")
    if attr.dtype.startswith("Duration"):
        return attribute_number(attr).alias("k")
    if attr.dtype.startswith("Float"):
        col = pl.when(col.is_nan()).then(None).otherwise(col)
    if attr.kind == "categorical":
        col = col.cast(pl.String)
    return col.alias("k")


def items_table(attr: Attribute, grouped: pl.DataFrame) -> pl.DataFrame:
    """Turn one attribute's group-by result into counts-table rows, in a stable order (see
    :func:`label_values` and :func:`label_bins`).

    For an attribute counted in two phases, the values never selected (which
    :func:`bubbleup.pipeline.profile.finalize` folds into one ``other`` row) come last, in
    no particular order: sorting the hundreds of thousands of values of an id only to
    drop them cost as much as a third of counting them.
    """
    frame = grouped.select(pl.lit(0, dtype=pl.UInt32).alias("_j"), "k", *SUMS)
    if attr.binned:
        return label_bins(frame, [attr]).drop("_j")
    if not attr.two_phase:
        return label_values(frame, [attr]).drop("_j")
    kept = (pl.col("sel_events") > 0) | pl.col("k").is_null()
    selected = label_values(frame.filter(kept), [attr])
    return pl.concat([selected, _labelled(frame.filter(~kept), [attr])]).drop("_j")


#: The columns that say which events an item is about.
LABELS_SCHEMA: dict[str, pl.DataType] = {
    "op": pl.String(),
    "value": pl.String(),
    "low": pl.Float64(),
    "high": pl.Float64(),
}


def bin_label(
    edges: Sequence[float], key: int | None
) -> tuple[str, str | None, float | None, float | None]:
    """``op``, ``value``, ``low`` and ``high`` of bin ``key`` of a number binned at ``edges``
    (bin ``i`` holds the numbers above ``edges[i - 1]`` and up to ``edges[i]``; ``None``:
    the missing values).

    Examples
    --------
    >>> [bin_label((10.0, 20.5), key)[0] for key in (0, 1, 2, None)]
    ['<=', 'between', '>', 'is_null']
    >>> bin_label((10.0, 20.5), 0), bin_label((10.0, 20.5), 1)
    (('<=', '10', None, 10.0), ('between', None, 10.0, 20.5))
    """
    if key is None:
        return "is_null", None, None, None
    if key == 0:
        return "<=", _num_text(edges[0]), None, edges[0]
    if key == len(edges):
        return ">", _num_text(edges[-1]), edges[-1], None
    return "between", None, edges[key - 1], edges[key]


def _num_text(x: float) -> str:
    return str(int(x)) if math.isfinite(x) and x == int(x) and abs(x) < 2**53 else repr(x)


def _value_counts(lf: pl.LazyFrame, split: Split, keys: list[pl.Expr]) -> pl.LazyFrame:
    s, b, w = pl.col("_s"), pl.col("_b"), pl.col("_w")
    q = lf.select(
        *keys, split.weight.alias("_w"), split.selection.alias("_s"), split.baseline.alias("_b")
    )
    if not split.complement:
        q = q.filter(s | b)
    return q.group_by([f"k{j}" for j in range(len(keys))]).agg(
        sel=(w * s.cast(pl.Float64)).sum(),
        base=(w * b.cast(pl.Float64)).sum(),
        sel_events=s.sum().cast(pl.Int64),
        base_events=b.sum().cast(pl.Int64),
    )


def count(frame: pl.LazyFrame, split: Split, attributes: Sequence[Attribute]) -> pl.DataFrame:
    """Return the counts table: weighted and raw counts of every item on both sides.

    Attributes marked ``two_phase`` (many distinct values) are counted alone, every value
    of them: their number of distinct values (measured on a sample above a million events)
    is then exact, and so is the Benjamini-Hochberg family (a 400,000-value column showed
    91,513 on the sample: q-values too small). Their values never selected are summarised
    later by :func:`bubbleup.pipeline.profile.finalize`. Counting only the selection's values took
    about as long (1.2M events, 400,000 values: 9-10 s against 8-14 s, noisy) and about
    100 MB less memory.

    Examples
    --------
    >>> import polars as pl
    >>> from bubbleup.pipeline.split import split as make_split
    >>> from bubbleup.pipeline.profile import Attribute
    >>> lf = pl.LazyFrame({"k": ["a", "a", "b"], "x": [1, 2, 3]})
    >>> sp = make_split(lf.collect_schema(), where="x > 1", weight=False)
    >>> count(lf, sp, [Attribute("k", "categorical", "String", 2, 0)]).select(
    ...     "value", "sel", "base").rows()
    [('a', 1.0, 1.0), ('b', 1.0, 0.0)]
    """
    return concat_counts(count_each(frame, split, attributes))


def count_each(
    frame: pl.LazyFrame, split: Split, attributes: Sequence[Attribute]
) -> list[pl.DataFrame]:
    """The rows of :func:`count`, one frame per attribute, in the order of ``attributes``."""
    if not attributes:
        return []
    lf = _scoped(frame, split)
    groups = packs(attributes)
    queries = []
    for group in groups:
        keys = [key_expr(attributes[i]).alias(f"k{j}") for j, i in enumerate(group)]
        queries.append(_value_counts(lf, split, keys))
    results = _collect(queries, "counting values")
    return unpack(attributes, groups, results)


def concat_counts(parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """One counts table from per-attribute parts (an empty table of the schema for none)."""
    if not parts:
        return pl.DataFrame(schema=COUNTS_SCHEMA)
    return pl.concat(parts, how="vertical")


#: Attributes with few values are counted together, in one ``group_by`` over their
#: combined values, while the product of their numbers of values stays below this. Each
#: query computes the side and the weight of an event once for all its attributes: at 10M
#: events x 21 small columns, 7 queries took half the time of 21.
PACK_GROUPS = 4096


def _values(attr: Attribute) -> int:
    return len(attr.edges) + 2 if attr.binned else attr.distinct + 1


def packs(attributes: Sequence[Attribute]) -> list[list[int]]:
    """Group attribute indices into queries (see :data:`PACK_GROUPS`); any engine.

    Examples
    --------
    >>> from bubbleup.pipeline.profile import Attribute
    >>> attrs = [Attribute(n, "categorical", "String", d, 0) for n, d in
    ...          [("a", 10), ("b", 100_000), ("c", 20), ("d", 2)]]
    >>> packs(attrs)
    [[3, 0, 2], [1]]
    """
    sizes = [_values(a) for a in attributes]
    alone = {i for i, a in enumerate(attributes) if a.two_phase}  # many values: one query
    return pack_sizes(sizes, PACK_GROUPS, alone=alone)


def pack_sizes(sizes: Sequence[int], limit: int, *, alone: Collection[int] = ()) -> list[list[int]]:
    """Group indices, smallest sizes first, while the product of their sizes stays within
    ``limit``; the indices in ``alone`` get a group each.

    Examples
    --------
    >>> pack_sizes([10, 100_000, 20, 2], 4096)
    [[3, 0, 2], [1]]
    """
    out: list[list[int]] = []
    current: list[int] = []
    product = 1
    for i in sorted(range(len(sizes)), key=lambda i: (sizes[i], i)):
        if i in alone:
            out.append([i])
            continue
        if current and product * sizes[i] > limit:
            out.append(current)
            current, product = [], 1
        current.append(i)
        product *= sizes[i]
    if current:
        out.append(current)
    return out


def unpack(
    attributes: Sequence[Attribute],
    groups: Sequence[Sequence[int]],
    results: Sequence[pl.DataFrame],
) -> list[pl.DataFrame]:
    """The counts table's rows, one frame per attribute in the order of ``attributes``, from
    the results of packed queries (keys ``k0``, ``k1``...).

    Attributes counted in two phases (very many values) get their rows one by one
    (:func:`items_table`: their values never selected are not sorted); the others all
    together (:func:`rows_of`).
    """
    parts: dict[int, pl.DataFrame] = {}
    keyed: dict[tuple[bool, pl.DataType], list[pl.DataFrame]] = {}
    for group, res in zip(groups, results, strict=True):
        for j, i in enumerate(group):
            key = f"k{j}"
            if len(group) == 1:
                grouped = res.select(pl.col(key).alias("k"), *SUMS)
            else:
                grouped = res.group_by(key).agg(pl.col(SUMS).sum()).rename({key: "k"})
            attr = attributes[i]
            if attr.two_phase:
                parts[i] = items_table(attr, grouped)
                continue
            keyed.setdefault((attr.binned, grouped.schema["k"]), []).append(
                grouped.select(
                    pl.lit(i, dtype=pl.UInt32).alias("_j"),
                    "k",
                    *[pl.col(c).cast(COUNTS_SCHEMA[c]) for c in SUMS],
                )
            )
    tables = [
        (label_bins if binned else label_values)(pl.concat(frames), attributes)
        for (binned, _), frames in keyed.items()
    ]
    together = rows_of(tables, len(attributes))
    return [parts[i] if i in parts else together[i] for i in range(len(attributes))]


def label_values(frame: pl.DataFrame, attributes: Sequence[Attribute]) -> pl.DataFrame:
    """Counts-table rows (and ``_j``) from ``frame``: ``_j``, the index of an attribute in
    ``attributes`` counted value by value, ``k``, a value (one key type), and the counts.

    Per attribute, missing first, then the values in order; for an attribute counted in
    two phases the values ever selected, then the others (which
    :func:`~bubbleup.pipeline.profile.finalize` folds into one row), in order too.
    """
    k = pl.col("k")
    two_phase = [j for j, a in enumerate(attributes) if a.two_phase]
    later = pl.col("_j").is_in(two_phase) & (pl.col("sel_events") == 0) & k.is_not_null()
    ordered = frame.with_columns(_later=later).sort(["_j", "_later", "k"], nulls_last=False)
    return _labelled(ordered, attributes)


def _labelled(frame: pl.DataFrame, attributes: Sequence[Attribute]) -> pl.DataFrame:
    """The rows of :func:`label_values`, in the order of ``frame``."""
    k = pl.col("k")
    names = {j: a.name for j, a in enumerate(attributes)}
    return frame.select(
        "_j",
        pl.col("_j").replace_strict(names, return_dtype=pl.String).alias("attribute"),
        pl.when(k.is_null()).then(pl.lit("is_null")).otherwise(pl.lit("=")).alias("op"),
        k.cast(pl.String).alias("value"),
        pl.lit(None, dtype=pl.Float64).alias("low"),
        pl.lit(None, dtype=pl.Float64).alias("high"),
        *[pl.col(c).cast(COUNTS_SCHEMA[c]) for c in SUMS],
    )


def label_bins(frame: pl.DataFrame, attributes: Sequence[Attribute]) -> pl.DataFrame:
    """Counts-table rows (and ``_j``) of binned attributes from ``frame``: ``_j``, the index
    of an attribute in ``attributes``, ``k``, a bin (see :func:`bin_label`; missing:
    null), and the counts. Per attribute, missing first, then the bins in order."""
    frame = frame.sort(["_j", "k"], nulls_last=False)
    index = frame.get_column("_j").to_list()
    labels = [
        bin_label(attributes[j].edges, key)
        for j, key in zip(index, frame.get_column("k").to_list(), strict=True)
    ]
    return pl.concat(
        [
            frame.select(
                "_j", pl.Series("attribute", [attributes[j].name for j in index], pl.String)
            ),
            pl.DataFrame(labels, schema=LABELS_SCHEMA, orient="row"),
            frame.select([pl.col(c).cast(COUNTS_SCHEMA[c]) for c in SUMS]),
        ],
        how="horizontal",
    )


def rows_of(tables: Sequence[pl.DataFrame], n: int) -> list[pl.DataFrame]:
    """The rows of each of ``n`` attributes (an empty frame for those without), from tables
    of labelled rows with ``_j`` (see :func:`label_values`), keeping each one's order.

    Labelling every attribute of a key type at once: a polars operation costs 0.1-0.3 ms of
    planning whatever its size, and one attribute at a time took 8-10 of them (1,000
    attributes of 2-12 values: 1.7 s of a 2.7 s analysis).
    """
    if not tables:
        empty = pl.DataFrame(schema=COUNTS_SCHEMA)
        return [empty] * n
    table = pl.concat(tables, how="vertical").sort("_j", maintain_order=True)
    sizes = np.bincount(table.get_column("_j").to_numpy(), minlength=n)
    table = table.drop("_j")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return [table.slice(int(start), int(size)) for start, size in zip(starts, sizes, strict=True)]


#: Schema of the pattern table returned by :func:`count_patterns`.
PATTERNS_SCHEMA: dict[str, pl.DataType] = {
    "mask": pl.UInt64(),
    "sel": pl.Float64(),
    "base": pl.Float64(),
    "sel_events": pl.Int64(),
    "base_events": pl.Int64(),
}

#: At most this many items can be combined in one pattern pass (bits of a UInt64).
MAX_PATTERN_ITEMS = 63


def count_patterns(
    frame: pl.LazyFrame,
    split: Split,
    items: Sequence[Item],
    attributes: Mapping[str, Attribute],
) -> pl.DataFrame:
    """Count every combination of ``items`` that occurs, in one pass over the events.

    Each event gets a bit mask (bit ``i`` set when item ``i`` holds); the result has one
    row per distinct mask with the weighted and raw counts on both sides. The counts of
    any conjunction of the items follow by summing the rows whose mask contains its bits.

    Examples
    --------
    >>> import polars as pl
    >>> from bubbleup.pipeline.split import split as make_split
    >>> from bubbleup.pipeline.profile import Attribute
    >>> lf = pl.LazyFrame({"k": ["a", "a", "b"], "x": [1, 2, 3]})
    >>> sp = make_split(lf.collect_schema(), where="x > 1", weight=False)
    >>> attrs = {"k": Attribute("k", "categorical", "String", 2, 0)}
    >>> item = {"attribute": "k", "op": "=", "value": "a", "low": None, "high": None}
    >>> count_patterns(lf, sp, [item], attrs).sort("mask").select("mask", "sel", "base").rows()
    [(0, 1.0, 0.0), (1, 1.0, 1.0)]
    """
    if not 0 < len(items) <= MAX_PATTERN_ITEMS:
        raise ValueError(f"count_patterns takes 1 to {MAX_PATTERN_ITEMS} items")
    bits = [
        item_condition(item, attributes[item["attribute"]]).cast(pl.UInt64)
        * pl.lit(1 << i, dtype=pl.UInt64)
        for i, item in enumerate(items)
    ]
    s, b, w = pl.col("_s"), pl.col("_b"), pl.col("_w")
    query = (
        _scoped(frame, split)
        .select(
            pl.sum_horizontal(bits).cast(pl.UInt64).alias("mask"),
            split.weight.alias("_w"),
            split.selection.alias("_s"),
            split.baseline.alias("_b"),
        )
        .filter(s | b)
        .group_by("mask")
        .agg(
            sel=(w * s.cast(pl.Float64)).sum(),
            base=(w * b.cast(pl.Float64)).sum(),
            sel_events=s.sum().cast(pl.Int64),
            base_events=b.sum().cast(pl.Int64),
        )
    )
    result = _collect([query], "counting combinations")[0]
    return result.select([pl.col(c).cast(t) for c, t in PATTERNS_SCHEMA.items()]).sort("mask")


#: Columns of each table :func:`count_values` returns.
VALUES_SCHEMA = {"x": pl.Float64(), "sel": pl.Float64(), "base": pl.Float64()}


def count_values(
    frame: pl.LazyFrame, split: Split, attributes: Sequence[Attribute], *, stride: int = 1
) -> list[pl.DataFrame]:
    """Weighted events per distinct number of each attribute, on both sides (one pass).

    Each table has one row per distinct value ``x`` (as :func:`~bubbleup.pipeline.profile.number`
    makes it; missing and NaN left out) with the weighted events ``sel`` and ``base``,
    sorted by ``x``: enough for exact weighted quantiles of the outcomes (see
    :func:`bubbleup.pipeline.outcomes.weighted_quantiles`). ``stride > 1`` counts every
    ``stride``-th event in scope only (a sample, as for the column statistics).

    Examples
    --------
    >>> import polars as pl
    >>> from bubbleup.pipeline.split import split as make_split
    >>> from bubbleup.pipeline.profile import Attribute
    >>> lf = pl.LazyFrame({"d": [5, 5, 9], "x": [1, 2, 3]})
    >>> sp = make_split(lf.collect_schema(), where="x > 1", weight=False)
    >>> count_values(lf, sp, [Attribute("d", "numeric", "Int64", 2, 0)])[0].rows()
    [(5.0, 1.0, 1.0), (9.0, 1.0, 0.0)]
    """
    if not attributes:
        return []
    lf = _scoped(frame, split)
    if stride > 1:  # every stride-th event, as the column statistics (a row-index filter streams)
        index = "__bubbleup_row"
        lf = lf.with_row_index(index).filter(pl.col(index) % stride == 0).drop(index)
    queries = []
    for attr in attributes:
        x = attribute_number(attr)
        known = lf.filter(x.is_not_null() & x.is_not_nan())
        queries.append(_value_counts(known, split, [x.alias("k0")]).rename({"k0": "x"}))
    return [
        t.select([pl.col(c).cast(d) for c, d in VALUES_SCHEMA.items()]).sort("x")
        for t in _collect(queries, "counting outcome values")
    ]


#: Values of one attribute kept on a Result; the rest are summed into one ``other`` row.
KEPT_VALUES = 500


def keep_counts(counts: pl.DataFrame, totals: Totals, *, keep: int = KEPT_VALUES) -> pl.DataFrame:
    """The part of the counts table a Result keeps for its charts.

    Per attribute, the ``keep`` values most common on either side (at least 32, so numeric
    attributes, with at most 25 values or ranges, are always whole); the others are summed
    into one row with ``op`` ``other``, so each side's shares still add up to 1 while a
    column with a million values costs a few hundred rows. The ``other`` row's ``value`` is
    the number of values it stands for, or null when that is not known (the count stage
    sums the baseline values it did not list into such a row). Extra columns are dropped.

    Examples
    --------
    >>> import bubbleup
    >>> r = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
    >>> r.counts.filter(pl.col("attribute") == "customer_id").height
    501
    >>> customers = r.counts.filter(pl.col("attribute") == "customer_id")
    >>> customers["op"][-1], customers["value"][-1]  # how many values: unknown here
    ('other', None)
    >>> customers["sel"].sum() == r.totals.selection_weight
    True
    """
    columns = ["attribute", "op", "value", "low", "high", "sel", "base"]
    columns += ["sel_events", "base_events"]
    if counts.is_empty() or not set(columns) <= set(counts.columns):
        return counts.select([c for c in columns if c in counts.columns])
    keep = max(keep, 32)
    n_s = totals.selection_weight or 1.0
    n_b = totals.baseline_weight or 1.0
    is_other = pl.col("op") == "other"
    share = pl.max_horizontal(pl.col("sel") / n_s, pl.col("base") / n_b)
    ranked = (
        counts.select(columns)
        .with_row_index("_order")
        .with_columns(
            _rank=pl.when(is_other)
            .then(-1.0)  # rows that already sum other values are folded, whatever their size
            .otherwise(share)
            .rank("ordinal", descending=True)
            .over("attribute")
        )
    )
    fold = (pl.col("_rank") > keep) | is_other
    kept = ranked.filter(~fold).sort("_order").drop("_order", "_rank")
    rest = ranked.filter(fold)
    if rest.is_empty():
        return kept
    folded = (
        rest.group_by("attribute", maintain_order=True)
        .agg(
            _listed=(~is_other).sum(),
            _known=pl.col("value").filter(is_other).cast(pl.Int64, strict=False).sum(),
            _unknown=(is_other & pl.col("value").is_null()).any(),
            sel=pl.col("sel").sum(),
            base=pl.col("base").sum(),
            sel_events=pl.col("sel_events").sum(),
            base_events=pl.col("base_events").sum(),
        )
        .with_columns(
            op=pl.lit("other"),
            value=pl.when(pl.col("_unknown"))
            .then(None)
            .otherwise((pl.col("_listed") + pl.col("_known")).cast(pl.String)),
            low=pl.lit(None, pl.Float64),
            high=pl.lit(None, pl.Float64),
        )
        .select(columns)
    )
    return pl.concat([kept, folded.cast(kept.schema)])
