"""Explain stage: from scored items to the ranked explanations a user reads.

An explanation is a conjunction of items; each item is one condition on one attribute
(``=``, ``is_null``, ``<=``, ``>``, ``between``). This stage adds Benjamini-Hochberg
q-values over every explanation tested, decides which are significant, and orders them:
significant first, then by difference (selection share minus baseline share), ties broken
by attribute and value so that the same input always gives the same order.
"""

from __future__ import annotations

import math

import polars as pl

from bubbleup.score import bh_qvalues

ITEM_DTYPE = pl.Struct(
    {
        "attribute": pl.String,
        "op": pl.String,
        "value": pl.String,
        "low": pl.Float64,
        "high": pl.Float64,
    }
)


def format_number(x: float) -> str:
    """Format a bin edge compactly and exactly enough to read and to paste into SQL.

    Examples
    --------
    >>> format_number(4096.0), format_number(0.25), format_number(1234.5678)
    ('4096', '0.25', '1234.5678')
    """
    if math.isfinite(x) and x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.6g}" if abs(x) >= 1e6 or abs(x) < 1e-3 else f"{x:.10g}"


def quote_sql(text: str) -> str:
    """Quote a string as a SQL literal.

    Examples
    --------
    >>> quote_sql("it's")
    "'it''s'"
    """
    return "'" + text.replace("'", "''") + "'"


def _plain(text: str) -> str:
    """Numbers as they read best (``8192.0`` as ``8192``); other text unchanged."""
    try:
        return format_number(float(text)) if text.endswith(".0") else text
    except ValueError:
        return text


def item_label(
    attribute: str,
    op: str,
    value: str | None,
    low: float | None,
    high: float | None,
    *,
    quoted: bool,
) -> str:
    """Render one item as text close to SQL (``kernel = '5.15'``, ``x IS NULL``...)."""
    if op == "is_null":
        return f"{attribute} IS NULL"
    if op == "=":
        shown = quote_sql(value or "") if quoted else _plain(str(value))
        return f"{attribute} = {shown}"
    if op == "<=":
        return f"{attribute} <= {format_number(float(high if high is not None else 0))}"
    if op == ">":
        return f"{attribute} > {format_number(float(low if low is not None else 0))}"
    return f"{format_number(float(low or 0))} < {attribute} <= {format_number(float(high or 0))}"


def explain(
    scored: pl.DataFrame,
    kinds: dict[str, str],
    *,
    alpha: float,
    min_lift: float,
    min_share: float,
) -> pl.DataFrame:
    """Rank single-item explanations and mark the significant ones.

    ``significant`` means ``q_value < alpha``, ``lift >= min_lift`` and
    ``selection_share >= min_share``.
    """
    q = bh_qvalues(scored["p_value"].to_numpy())
    labels = [
        item_label(
            r["attribute"],
            r["op"],
            r["value"],
            r["low"],
            r["high"],
            quoted=kinds.get(r["attribute"]) == "categorical",
        )
        for r in scored.select("attribute", "op", "value", "low", "high").iter_rows(named=True)
    ]
    out = scored.with_columns(
        q_value=pl.Series(q, dtype=pl.Float64),
        label=pl.Series(labels, dtype=pl.String),
        items=pl.concat_list(
            pl.struct(
                pl.col("attribute"), pl.col("op"), pl.col("value"), pl.col("low"), pl.col("high")
            )
        ).cast(pl.List(ITEM_DTYPE)),
    ).with_columns(
        significant=(pl.col("q_value") < alpha)
        & (pl.col("lift") >= min_lift)
        & (pl.col("selection_share") >= min_share),
    )
    out = out.sort(
        ["significant", "difference", "attribute", "label"],
        descending=[True, True, False, False],
        maintain_order=True,
    ).with_row_index("rank", offset=1)
    return out.select(
        pl.col("rank").cast(pl.Int64),
        "label",
        "items",
        pl.col("sel").alias("selection_count"),
        pl.col("base").alias("baseline_count"),
        pl.col("sel_events").alias("selection_events"),
        pl.col("base_events").alias("baseline_events"),
        "selection_share",
        "baseline_share",
        "difference",
        "lift",
        "selection_rate",
        "p_value",
        "q_value",
        "significant",
    )
