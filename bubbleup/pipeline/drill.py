"""Drill-down: run the analysis again inside one explanation.

BubbleUp's loop is "these are weird; what else do they share?". :func:`drill` takes
explanation N of a Result, turns its items into a SQL condition (:func:`items_sql`), adds
it to the scope (``--filter``) and analyses again: among kernel-5.15 builds, what do the
OOM-killed ones have that the others do not?
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from bubbleup.errors import UsageError
from bubbleup.pipeline.items import (
    duration_literal,
    is_time,
    quote_identifier,
    quote_sql,
    time_literal,
    time_operand,
)

if TYPE_CHECKING:
    from bubbleup.pipeline.analyze import Progress
    from bubbleup.pipeline.result import Result


def _number(x: float) -> str:
    if math.isfinite(x) and x == int(x) and abs(x) < 2**53:
        return str(int(x))
    if not math.isfinite(x):
        return f"CAST('{x!r}' AS DOUBLE)"  # 'inf', '-inf', 'nan'
    return repr(x)


def _literal(value: str, dtype: str) -> str:
    if dtype == "Boolean":
        return "true" if value == "true" else "false"
    if dtype.startswith(("Int", "UInt")):
        return str(int(value))
    if dtype.startswith("Float"):
        return _number(float(value))
    if dtype.startswith("Decimal"):
        return str(value)
    return quote_sql(value)


def item_sql(item: Mapping[str, Any], dtype: str) -> str:
    """One item (``{attribute, op, value, low, high}``) as a SQL condition.

    ``dtype`` is the column's polars type name (``String``, ``Int64``...). Missing floats
    include NaN, as in the count stage; ranges use the exact bin edges.

    Examples
    --------
    >>> print(item_sql({"attribute": "kernel", "op": "=", "value": "5.15"}, "String"))
    kernel = '5.15'
    >>> print(item_sql({"attribute": "d", "op": "between", "low": 1.5, "high": 300.0}, "Int64"))
    (d > 1.5 AND d <= 300)
    >>> print(item_sql({"attribute": "x", "op": "is_null"}, "Float64"))
    (x IS NULL OR x = CAST('NaN' AS DOUBLE))
    """
    col = quote_identifier(str(item["attribute"]))
    op = item["op"]
    if op == "is_null":
        if dtype.startswith("Float"):
            return f"({col} IS NULL OR {col} = CAST('NaN' AS DOUBLE))"
        return f"{col} IS NULL"
    if op == "=":
        if dtype.startswith("Duration"):
            return f"{col} = {duration_literal(float(item['value']))}"
        return f"{col} = {_literal(str(item['value']), dtype)}"
    bound = (lambda x: time_literal(x, dtype)) if is_time(dtype) else _number
    if dtype.startswith("Duration"):
        bound = duration_literal
    if is_time(dtype) and op != "is_null":
        col = time_operand(col, dtype)
    if op == "<=":
        return f"{col} <= {bound(float(item['high']))}"
    if op == ">":
        return f"{col} > {bound(float(item['low']))}"
    if op == "between":
        low, high = bound(float(item["low"])), bound(float(item["high"]))
        return f"({col} > {low} AND {col} <= {high})"
    raise UsageError(f"unknown item operator {op!r}")


def items_sql(items: Iterable[Mapping[str, Any]], dtypes: Mapping[str, str]) -> str:
    """The conjunction of items as one SQL condition.

    Examples
    --------
    >>> print(items_sql([{"attribute": "a", "op": "=", "value": "x"},
    ...                  {"attribute": "n", "op": "=", "value": "4"}], {"n": "Int64"}))
    a = 'x' AND n = 4
    """
    return " AND ".join(item_sql(i, dtypes.get(str(i["attribute"]), "String")) for i in items)


def explanation(result: Result, n: int, *, purpose: str = "") -> dict[str, Any]:
    """Return explanation ``n`` (its rank, 1 = first row) as a dict.

    Raises :class:`~bubbleup.errors.UsageError` naming the valid range when there is no
    explanation ``n``; ``purpose`` ends the message's first clause (``" to drill into"``).

    Examples
    --------
    >>> import bubbleup, polars as pl
    >>> events = pl.DataFrame({"bad": [True, False] * 50, "k": ["a", "b", "a", "a"] * 25})
    >>> r = bubbleup.analyze(events, where="bad")
    >>> explanation(r, 1)["label"]
    "k = 'a'"
    >>> explanation(r, 7)
    Traceback (most recent call last):
    ...
    bubbleup.errors.UsageError: there is no explanation 7; they are numbered 1 to 1
    """
    count = result.explanations.height
    if count == 0:
        raise UsageError(f"there is no explanation {n}{purpose}: the result has none")
    if not 1 <= n <= count:
        raise UsageError(f"there is no explanation {n}{purpose}; they are numbered 1 to {count}")
    row: dict[str, Any] = result.explanations.row(n - 1, named=True)
    return row


def explanation_sql(result: Result, n: int, *, purpose: str = "") -> str:
    """Explanation ``n`` of ``result`` as a SQL condition.

    Examples
    --------
    >>> import bubbleup
    >>> r = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
    >>> print(explanation_sql(r, 1))
    kernel_version = '5.15.0-91-generic' AND build_tool = 'gradle'
    """
    row = explanation(result, n, purpose=purpose)
    return items_sql(row["items"], result._dtypes())


def _combine(old: str | pl.Expr | None, condition: str) -> str | pl.Expr:
    if old is None:
        return condition
    if isinstance(old, pl.Expr):
        return old & pl.sql_expr(condition)
    return f"({old}) AND ({condition})"


def drill(result: Result, n: int, *, progress: Progress | None = None) -> Result:
    """Analyse again with explanation ``n`` added to the scope.

    The selection and the baseline keep their predicates; the scope becomes the old scope
    and explanation ``n``, so the new answer says what else the selected events inside
    ``n`` share that the baseline events inside ``n`` do not.

    Examples
    --------
    >>> import bubbleup
    >>> r = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
    >>> r.explanations["label"][1]
    "kernel_version = '5.15.0-91-generic'"
    >>> inside = drill(r, 2)
    >>> print(inside.filter)
    kernel_version = '5.15.0-91-generic'
    >>> inside.explanations["label"][0]
    "build_tool = 'gradle'"
    """
    from bubbleup.pipeline.analyze import analyze

    condition = explanation_sql(result, n, purpose=" to drill into")
    if result.origin is None:
        raise UsageError(
            "this Result does not know its source; make it with bubbleup.analyze() to drill"
        )
    options = result.origin.rerun(filter=_combine(result.origin.options.filter, condition))
    return analyze(result.origin.source, options, progress=progress)
