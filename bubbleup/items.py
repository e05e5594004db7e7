"""Items: one condition on one attribute, as data, as text and as a polars expression.

An item is ``{attribute, op, value, low, high}`` with ``op`` one of ``=`` (``value`` as
text), ``is_null``, ``<=`` (``high``), ``>`` (``low``) and ``between``
(``low < x <= high``). Explanations are lists of items that all hold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import polars as pl

from bubbleup.profile import Attribute

ITEM_DTYPE = pl.Struct(
    {
        "attribute": pl.String,
        "op": pl.String,
        "value": pl.String,
        "low": pl.Float64,
        "high": pl.Float64,
    }
)

Item = Mapping[str, Any]


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


def item_label(item: Item, *, quoted: bool) -> str:
    """Render one item as text close to SQL (``kernel = '5.15'``, ``x IS NULL``...).

    Examples
    --------
    >>> item_label({"attribute": "x", "op": "between", "low": 1.0, "high": 5.0}, quoted=False)
    '1 < x <= 5'
    """
    attribute, op = item["attribute"], item["op"]
    if op == "is_null":
        return f"{attribute} IS NULL"
    if op == "=":
        value = str(item["value"])
        return f"{attribute} = {quote_sql(value) if quoted else _plain(value)}"
    if op == "<=":
        return f"{attribute} <= {format_number(float(item['high']))}"
    if op == ">":
        return f"{attribute} > {format_number(float(item['low']))}"
    return (
        f"{format_number(float(item['low']))} < {attribute} <= {format_number(float(item['high']))}"
    )


def item_condition(item: Item, attr: Attribute) -> pl.Expr:
    """A polars expression that is true exactly for the events the item describes.

    Missing values (and NaN) match only ``is_null``; the result is never null.
    """
    col = pl.col(attr.name)
    op = item["op"]
    if attr.kind == "numeric" or attr.binned:
        x = col.cast(pl.Float64)
        missing = x.is_null() | x.is_nan()
    else:
        x = col
        missing = col.is_null()
    if op == "is_null":
        cond = missing
    elif op == "=":
        value = item["value"]
        if attr.kind == "boolean":
            cond = col == (value == "true")
        elif attr.kind == "numeric":
            cond = x == float(value)
        else:
            cond = col.cast(pl.String) == value
    elif op == "<=":
        cond = x <= float(item["high"])
    elif op == ">":
        cond = x > float(item["low"])
    else:
        cond = (x > float(item["low"])) & (x <= float(item["high"]))
    if op != "is_null":
        cond = cond & ~missing
    return cond.fill_null(False)
