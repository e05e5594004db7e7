"""Outcomes: how what happened to the selected events differs from the baseline.

Outcome attributes (see :mod:`bubbleup.pipeline.roles`) are never explanations; this stage
describes them instead: for values (text, booleans, numbers with few values) the shares
of the most common values on each side, for numbers in ranges the weighted quantiles
(median, p90, p99) on each side; for both the distance between the two distributions
(total variation, as for every attribute) and its q-value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from bubbleup.pipeline.count import Totals
from bubbleup.pipeline.profile import Attribute

#: Quantile levels shown for numeric outcomes.
QUANTILES = (0.5, 0.9, 0.99)
#: Values shown per outcome with values.
TOP_VALUES = 5

VALUE_DTYPE = pl.Struct(
    {"value": pl.String, "selection_share": pl.Float64, "baseline_share": pl.Float64}
)

#: Columns of ``Result.outcomes``.
SCHEMA: dict[str, pl.DataType] = {
    "attribute": pl.String(),
    "kind": pl.String(),
    "reason": pl.String(),
    "distance": pl.Float64(),
    "q_value": pl.Float64(),
    "values": pl.List(VALUE_DTYPE),
    "selection_quantiles": pl.List(pl.Float64()),
    "baseline_quantiles": pl.List(pl.Float64()),
}


def weighted_quantiles(x: np.ndarray, w: np.ndarray, levels: Sequence[float]) -> list[float]:
    """Weighted quantiles of sorted values: the smallest ``x`` whose cumulative weight
    reaches ``level`` of the total (the inverse of the weighted distribution function).

    Empty or zero-weight input gives NaN.

    Examples
    --------
    >>> import numpy as np
    >>> weighted_quantiles(np.array([1.0, 2.0, 3.0, 4.0]), np.ones(4), [0.5, 0.9])
    [2.0, 4.0]
    >>> weighted_quantiles(np.array([1.0, 10.0]), np.array([1.0, 9.0]), [0.5])
    [10.0]
    """
    total = float(w.sum())
    if x.size == 0 or total <= 0:
        return [float("nan")] * len(levels)
    cum = np.cumsum(w)
    out = []
    for q in levels:
        i = int(np.searchsorted(cum, q * total * (1 - 1e-12), side="left"))
        out.append(float(x[min(i, x.size - 1)]))
    return out


def _shares(
    counts: pl.DataFrame, attr: Attribute, totals: Totals
) -> list[dict[str, float | str | None]]:
    rows = counts.filter((pl.col("attribute") == attr.name) & (pl.col("op") != "other"))
    rows = rows.with_columns(
        selection_share=pl.col("sel") / totals.selection_weight,
        baseline_share=pl.col("base") / totals.baseline_weight,
        shown=pl.when(pl.col("op") == "is_null").then(pl.lit(None)).otherwise(pl.col("value")),
    )
    rows = rows.with_columns(
        key=pl.max_horizontal(pl.col("selection_share"), pl.col("baseline_share"))
    ).sort(["key", "shown"], descending=[True, False], nulls_last=True)
    return [
        {
            "value": r["shown"],
            "selection_share": r["selection_share"],
            "baseline_share": r["baseline_share"],
        }
        for r in rows.head(TOP_VALUES).iter_rows(named=True)
    ]


def describe(
    attributes: Sequence[Attribute],
    counts: pl.DataFrame,
    values: Mapping[str, pl.DataFrame],
    tests: pl.DataFrame,
    totals: Totals,
) -> pl.DataFrame:
    """One row per outcome attribute, in order of decreasing distance.

    Parameters
    ----------
    attributes
        Every attribute analysed; only those with ``role == "outcome"`` are described.
    counts
        The counts table.
    values
        For each binned outcome (numbers in ranges), its value table from the engine's
        ``count_values`` (columns ``x``, ``sel``, ``base``, sorted by ``x``).
    tests
        The attribute tests (``attribute``, ``distance``, ``q_value``).
    totals
        The totals of both sides.

    Examples
    --------
    >>> import bubbleup
    >>> r = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
    >>> r.outcomes["attribute"].to_list()[:2]
    ['exit_code', 'peak_memory_pct']
    """
    by_name = {r["attribute"]: r for r in tests.iter_rows(named=True)}
    rows = []
    for attr in attributes:
        if attr.role != "outcome":
            continue
        test = by_name.get(attr.name, {})
        row: dict[str, object] = {
            "attribute": attr.name,
            "kind": attr.kind,
            "reason": attr.role_reason,
            "distance": float(test.get("distance") or 0.0),
            "q_value": float(test["q_value"]) if test.get("q_value") is not None else 1.0,
            "values": None,
            "selection_quantiles": None,
            "baseline_quantiles": None,
        }
        table = values.get(attr.name)
        if attr.binned and table is not None:
            x = table["x"].to_numpy()
            row["selection_quantiles"] = weighted_quantiles(x, table["sel"].to_numpy(), QUANTILES)
            row["baseline_quantiles"] = weighted_quantiles(x, table["base"].to_numpy(), QUANTILES)
        else:
            row["values"] = _shares(counts, attr, totals)
        rows.append(row)
    frame = pl.DataFrame(rows, schema=SCHEMA)
    return frame.sort(["distance", "attribute"], descending=[True, False])
