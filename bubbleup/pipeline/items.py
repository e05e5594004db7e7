"""Items: one condition on one attribute, as data, as text and as a polars expression.

An item is ``{attribute, op, value, low, high}`` with ``op`` one of ``=`` (``value`` as
text), ``is_null``, ``<=`` (``high``), ``>`` (``low``) and ``between``
(``low < x <= high``). Explanations are lists of items that all hold.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Mapping
from typing import Any

import polars as pl

from bubbleup.pipeline.gate import FORBIDDEN_WORDS
from bubbleup.pipeline.profile import Attribute, attribute_number

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


_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@functools.lru_cache(maxsize=4096)
def _bare_is_column(name: str) -> bool:
    try:
        return pl.sql_expr(f"{name} IS NULL").meta.root_names() == [name]
    except pl.exceptions.PolarsError:
        return False


def quote_identifier(name: str) -> str:
    """A column name for SQL: bare when polars' parser reads it as that column, else quoted.

    Quoted names take double quotes, doubled inside. Keywords (``select``, ``date``...),
    words the predicate gate refuses bare (``load``, ``show``: :mod:`bubbleup.pipeline.gate`)
    and dotted names (``http.route``, which SQL would read as a struct field) are quoted.

    Examples
    --------
    >>> print(quote_identifier("kernel"), quote_identifier("exit reason"))
    kernel "exit reason"
    >>> print(quote_identifier('say "hi"'), quote_identifier("select"))
    "say ""hi""\" "select"
    >>> print(quote_identifier("http.route"), quote_identifier("load"))
    "http.route" "load"
    """
    if _BARE.match(name) and name.upper() not in FORBIDDEN_WORDS and _bare_is_column(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def is_time(dtype: str | None) -> bool:
    """Whether a polars type name is a date or a datetime (times counted in microseconds).

    Examples
    --------
    >>> is_time("Datetime(time_unit='us', time_zone='UTC')"), is_time("Date"), is_time("Int64")
    (True, True, False)
    """
    return dtype is not None and (dtype == "Date" or dtype.startswith("Datetime"))


def time_text(micros: float, dtype: str) -> str:
    """An instant (microseconds since 1970, UTC) as ISO-8601 text for a column of ``dtype``.

    Dates as ``YYYY-MM-DD``; datetimes as ``YYYY-MM-DD HH:MM:SS`` (with microseconds when
    there are any), with ``+00:00`` when the column has a time zone.

    Examples
    --------
    >>> time_text(86_400_000_000.0, "Date")
    '1970-01-02'
    >>> time_text(1.5e6, "Datetime(time_unit='us', time_zone=None)")
    '1970-01-01 00:00:01.500000'
    """
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=round(micros))
    if dtype == "Date":
        return moment.date().isoformat()
    spec = "seconds" if moment.microsecond == 0 else "microseconds"
    text = moment.replace(tzinfo=None).isoformat(sep=" ", timespec=spec)
    return text + "+00:00" if "time_zone=None" not in dtype else text


def time_literal(micros: float, dtype: str) -> str:
    """An instant as a SQL literal that polars compares with a column of ``dtype``.

    Examples
    --------
    >>> print(time_literal(0.0, "Datetime(time_unit='us', time_zone='UTC')"))
    TIMESTAMPTZ '1970-01-01 00:00:00+00:00'
    >>> print(time_literal(0.0, "Datetime(time_unit='ns', time_zone=None)"))
    TIMESTAMP '1970-01-01 00:00:00'
    """
    text = time_text(micros, dtype)
    if dtype == "Date":
        return f"DATE '{text}'"
    return f"TIMESTAMP '{text}'" if "time_zone=None" in dtype else f"TIMESTAMPTZ '{text}'"


def time_operand(column: str, dtype: str | None) -> str:
    """A (quoted) column as compared with :func:`time_literal`: a column zoned other than
    UTC is cast to UTC first (polars compares zoned times of one zone only).

    Examples
    --------
    >>> print(time_operand("ts", "Datetime(time_unit='us', time_zone='Europe/Paris')"))
    CAST(ts AS TIMESTAMPTZ)
    >>> print(time_operand("ts", "Datetime(time_unit='us', time_zone='UTC')"))
    ts
    """
    if dtype is None or not dtype.startswith("Datetime"):
        return column
    if "time_zone=None" in dtype or "time_zone='UTC'" in dtype:
        return column
    return f"CAST({column} AS TIMESTAMPTZ)"


def duration_literal(millis: float) -> str:
    """A duration (in milliseconds, as bubbleup counts durations) as a SQL literal.

    Examples
    --------
    >>> duration_literal(1500.0), duration_literal(4974.75)
    ("INTERVAL '1500 milliseconds'", "INTERVAL '4974750 microseconds'")
    """
    if millis == int(millis):
        return f"INTERVAL '{int(millis)} milliseconds'"
    return f"INTERVAL '{round(millis * 1000)} microseconds'"


def _bound(x: float, dtype: str | None) -> str:
    if dtype is not None and dtype.startswith("Duration"):
        return duration_literal(x)
    return time_literal(x, dtype) if dtype is not None and is_time(dtype) else format_number(x)


def item_label(item: Item, *, quoted: bool, dtype: str | None = None) -> str:
    """Render one item as a SQL condition a person reads, and ``--where`` accepts as it is.

    Column names are quoted where SQL needs it (``"http.route"``); a range reads
    ``x > 1 AND x <= 5``; the bounds of a time range are literals of the column's type.

    Examples
    --------
    >>> item_label({"attribute": "x", "op": "between", "low": 1.0, "high": 5.0}, quoted=False)
    'x > 1 AND x <= 5'
    >>> print(item_label({"attribute": "http.route", "op": "=", "value": "/a"}, quoted=True))
    "http.route" = '/a'
    """
    attribute, op = quote_identifier(str(item["attribute"])), item["op"]
    if op == "is_null":
        return f"{attribute} IS NULL"
    if op == "=":
        value = str(item["value"])
        if dtype is not None and dtype.startswith("Duration"):
            return f"{attribute} = {duration_literal(float(value))}"
        return f"{attribute} = {quote_sql(value) if quoted else _plain(value)}"
    if is_time(dtype):
        attribute = time_operand(attribute, dtype)
    if op == "<=":
        return f"{attribute} <= {_bound(float(item['high']), dtype)}"
    if op == ">":
        return f"{attribute} > {_bound(float(item['low']), dtype)}"
    low, high = _bound(float(item["low"]), dtype), _bound(float(item["high"]), dtype)
    return f"{attribute} > {low} AND {attribute} <= {high}"


def item_condition(item: Item, attr: Attribute) -> pl.Expr:
    """A polars expression that is true exactly for the events the item describes.

    Missing values (and NaN) match only ``is_null``; the result is never null.
    """
    col = pl.col(attr.name)
    op = item["op"]
    if attr.kind in ("numeric", "time") or attr.binned:
        x = attribute_number(attr)
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
