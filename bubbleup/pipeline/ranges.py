"""Numeric ranges: the contiguous run of bins (or ordered values) with the largest difference.

For a numeric attribute, eight separate bins are not an answer; ``memory_limit_mb <= 4096``
is. Over the attribute's bins (or its distinct values, in order) this finds the run whose
selection share minus baseline share is largest (a maximum-subarray scan) and turns it into
one item: ``<=`` when the run starts at the lowest values, ``>`` when it ends at the
highest, ``between`` otherwise. Missing values are never part of a range.

Because the run is chosen after looking at the data, its p-value is multiplied by the
number of runs it was chosen from (``m (m + 1) / 2 - 1`` for ``m`` bins), a Bonferroni
correction within the attribute, before it joins the Benjamini-Hochberg family.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from bubbleup.pipeline.count import COUNTS_SCHEMA, SUMS, Totals
from bubbleup.pipeline.profile import Attribute


def best_run(diffs: Sequence[float]) -> tuple[int, int, float]:
    """Maximum-subarray scan: the (start, end) inclusive run with the largest sum.

    Examples
    --------
    >>> best_run([-0.1, 0.2, 0.3, -0.4, 0.1])
    (1, 2, 0.5)
    """
    best = (0, 0, float("-inf"))
    start, running = 0, 0.0
    for i, d in enumerate(diffs):
        if running <= 0:
            start, running = i, d
        else:
            running += d
        if running > best[2] + 1e-15:
            best = (start, i, running)
    return best


def _ordered(rows: pl.DataFrame, attr: Attribute) -> pl.DataFrame:
    if attr.binned:
        ranged = rows.filter(pl.col("op") != "is_null")
        return ranged.sort(pl.col("low").fill_null(float("-inf")))
    values = rows.filter(pl.col("op") == "=")
    return values.sort(pl.col("value").cast(pl.Float64))


def range_items(
    counts: pl.DataFrame, attributes: Sequence[Attribute], totals: Totals
) -> pl.DataFrame:
    """One range item per numeric attribute whose best run is neither one value nor all.

    Returns counts-table rows (the run's bins summed) with a ``candidates`` column: how many
    runs the range was chosen from.
    """
    out = []
    n_s, n_b = totals.selection_weight, totals.baseline_weight
    numeric = [a.name for a in attributes if a.kind in ("numeric", "time")]
    # one pass over the counts table, not one per attribute (millions of rows when wide)
    by_name = counts.filter(pl.col("attribute").is_in(numeric)).partition_by(
        "attribute", as_dict=True
    )
    for attr in attributes:
        if attr.kind not in ("numeric", "time") or (attr.name,) not in by_name:
            continue
        rows = _ordered(by_name[(attr.name,)], attr)
        m = rows.height
        if m < 2:
            continue
        diffs = (rows["sel"] / n_s - rows["base"] / n_b).to_list()
        i, j, total = best_run(diffs)
        if total <= 0 or (i == 0 and j == m - 1) or (not attr.binned and i == j):
            continue
        if attr.binned:
            low = rows["low"][i]
            high = rows["high"][j]
        else:
            values = rows["value"].cast(pl.Float64)
            low = None if i == 0 else values[i - 1]
            high = None if j == m - 1 else values[j]
        run = rows.slice(i, j - i + 1)
        if low is None:
            op, value = "<=", high
        elif high is None:
            op, value = ">", low
        else:
            op, value = "between", None
        out.append(
            {
                "attribute": attr.name,
                "op": op,
                "value": None if value is None else repr(float(value)),
                "low": low,
                "high": high,
                **{c: run[c].sum() for c in SUMS},
                "candidates": m * (m + 1) // 2 - 1,
            }
        )
    schema = {**COUNTS_SCHEMA, "candidates": pl.Int64()}
    return pl.DataFrame(out, schema=schema) if out else pl.DataFrame(schema=schema)
