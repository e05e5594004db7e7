"""Nested columns flattened to dotted names, and the union of several files' schemas.

Flattening: a struct column ``http`` with a field ``request`` holding a field ``method``
becomes the column ``http.request.method``; lists stay lists.

Union by name: the events of every file are put together by column name; a column that a
file lacks is missing (null) in that file's events. When files disagree on a column's type
it is widened as follows, and any other disagreement is an error naming the column and two
files that disagree:

=================================  ============================================
types in the files                 read as
=================================  ============================================
no values (null) and any type T    T
integers of different sizes        Int64 (UInt64 when both are unsigned 64-bit)
integers and floats                Float64
String, Categorical, Enum          String
Date and Datetime                  Datetime, at the finest time unit
Datetime with different units      Datetime, at the finest time unit
lists of A and lists of B          list of the widened item type
=================================  ============================================

Datetimes in different time zones, numbers and text, booleans and numbers, and every
other pair are not widened: there is no reading that is right for every file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from bubbleup.errors import SourceError

_UNIT_ORDER = {"ms": 0, "us": 1, "ns": 2}


def flat_columns(schema: Mapping[str, pl.DataType]) -> list[tuple[str, tuple[str, ...]]]:
    """Each leaf column of ``schema`` as (dotted name, path of field names).

    Examples
    --------
    >>> req = pl.Struct({"n": pl.Int8})
    >>> s = {"id": pl.Int64(), "http": pl.Struct({"method": pl.String, "req": req})}
    >>> flat_columns(s)
    [('id', ('id',)), ('http.method', ('http', 'method')), ('http.req.n', ('http', 'req', 'n'))]
    """
    out: list[tuple[str, tuple[str, ...]]] = []

    def walk(path: tuple[str, ...], dtype: Any) -> None:
        if isinstance(dtype, pl.Struct) and dtype.fields:
            for f in dtype.fields:
                walk((*path, f.name), f.dtype)
        else:
            out.append((".".join(path), path))

    for name, dtype in schema.items():
        walk((name,), dtype)
    return out


def flatten(frame: pl.LazyFrame, *, where: str) -> pl.LazyFrame:
    """Replace struct columns by one column per leaf field, named with dots.

    ``where`` names the source in the error raised when a flattened name collides with a
    column that already has it.
    """
    schema = frame.collect_schema()
    if not any(isinstance(t, pl.Struct) for t in schema.dtypes()):
        return frame
    exprs: list[pl.Expr] = []
    seen: dict[str, tuple[str, ...]] = {}
    for name, path in flat_columns(schema):
        if name in seen:
            raise SourceError(
                f"{where}: the column name '{name}' is used twice once nested fields are "
                "flattened to dotted names; rename one of the two"
            )
        seen[name] = path
        expr = pl.col(path[0])
        for field in path[1:]:
            expr = expr.struct.field(field)
        exprs.append(expr.alias(name))
    return frame.select(exprs)


def _instance(dtype: Any) -> pl.DataType:
    """A polars type as an instance (``pl.Int64`` -> ``pl.Int64()``)."""
    return dtype() if isinstance(dtype, type) else dtype  # type: ignore[no-any-return]


def widen(first: Any, second: Any) -> pl.DataType | None:
    """The type that holds the values of both ``first`` and ``second``, or ``None`` (see the table).

    Examples
    --------
    >>> widen(pl.Int32(), pl.Int64()), widen(pl.Int64(), pl.Float32())
    (Int64, Float64)
    >>> widen(pl.Date(), pl.Datetime("ms")), widen(pl.Null(), pl.String())
    (Datetime(time_unit='ms', time_zone=None), String)
    >>> widen(pl.Int64(), pl.String()) is None
    True
    """
    a, b = _instance(first), _instance(second)
    if a == b:
        return a
    if a == pl.Null:
        return b
    if b == pl.Null:
        return a
    if a.is_integer() and b.is_integer():
        return pl.UInt64() if a == b == pl.UInt64 else pl.Int64()
    if a.is_numeric() and b.is_numeric():
        return pl.Float64()
    textual = (pl.String, pl.Categorical, pl.Enum)
    if isinstance(a, textual) and isinstance(b, textual):
        return pl.String()
    if isinstance(a, pl.Datetime) and isinstance(b, pl.Datetime):
        if a.time_zone != b.time_zone:
            return None
        unit = max(a.time_unit, b.time_unit, key=lambda u: _UNIT_ORDER[u])
        return pl.Datetime(unit, a.time_zone)
    if {type(a), type(b)} == {pl.Date, pl.Datetime}:
        return a if isinstance(a, pl.Datetime) else b
    if isinstance(a, pl.List) and isinstance(b, pl.List):
        inner = widen(a.inner, b.inner)
        return None if inner is None else pl.List(inner)
    return None


def union(
    schemas: Sequence[tuple[str, Mapping[str, pl.DataType]]],
) -> dict[str, pl.DataType]:
    """The union by name of the (already flattened) schemas of several files.

    Columns come in the order they are first seen. A type conflict that :func:`widen` does
    not resolve raises a :class:`SourceError` naming the column and two of the files.
    """
    out: dict[str, pl.DataType] = {}
    first_file: dict[str, tuple[str, pl.DataType]] = {}
    for file, schema in schemas:
        for name, dtype in schema.items():
            if name not in out:
                out[name] = dtype
                first_file[name] = (file, dtype)
                continue
            wide = widen(out[name], dtype)
            if wide is None:
                other, other_type = first_file[name]
                raise SourceError(
                    f"column '{name}' has different types in different files: {other_type} "
                    f"in {other}, {dtype} in {file}; make the files agree (or read them "
                    "separately)"
                )
            out[name] = wide
            if dtype != pl.Null and first_file[name][1] == pl.Null:
                first_file[name] = (file, dtype)
    return out


def conform(frame: pl.LazyFrame, target: Mapping[str, pl.DataType]) -> pl.LazyFrame:
    """Select ``target``'s columns, in order, cast to its types; missing ones as nulls."""
    have = frame.collect_schema()
    exprs = []
    for name, dtype in target.items():
        if name not in have:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
        elif have[name] == dtype:
            exprs.append(pl.col(name))
        else:
            exprs.append(pl.col(name).cast(dtype))
    return frame.select(exprs)
