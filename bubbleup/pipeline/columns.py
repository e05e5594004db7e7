"""``bubbleup columns``: what is in a source, so that a user can write ``--where``.

:func:`describe_columns` gives each column's type, how bubbleup treats it, its distinct
values, missing share and most common values with their shares; :func:`to_csv` and
:func:`to_markdown` write that as text. The same source gives the same bytes every time:
values that are as common as each other are ordered by value.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from bubbleup.errors import SourceError, UsageError, first_line
from bubbleup.pipeline.items import quote_sql
from bubbleup.pipeline.load import Source, load
from bubbleup.pipeline.profile import _NESTED, _TEMPORAL, MAX_NUMERIC_CATEGORIES, _kind
from bubbleup.printable import percent, printable

#: Most common values listed per column (``top`` of :func:`describe_columns`).
TOP_VALUES = 3
#: Characters of one value in the text forms (the JSON keeps values whole).
VALUE_CHARS = 40

_TOP_TYPE = pl.List(pl.Struct({"value": pl.String(), "share": pl.Float64()}))
_SCHEMA: dict[str, pl.DataType] = {
    "column": pl.String(),
    "type": pl.String(),
    "kind": pl.String(),
    "distinct": pl.Int64(),
    "missing": pl.Float64(),
    "example": pl.String(),
    "top_values": _TOP_TYPE,
}

#: Columns measured by one query.
CHUNK = 64


def _top_query(frame: pl.LazyFrame, name: str, dtype: pl.DataType, top: int) -> pl.LazyFrame:
    """The ``top`` most common values of one column, ties broken by the smaller value."""
    value = pl.col(name)
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        value = value.cast(pl.String)  # order ties by the text, not the dictionary codes
    return (
        frame.select(value.alias("value"))
        .drop_nulls()
        .group_by("value")
        .agg(pl.len().alias("n"))
        .top_k(top, by=["n", "value"], reverse=[False, True])
        .sort(["n", "value"], descending=[True, False])
        .select(pl.col("value").cast(pl.String), "n")
    )


def describe_columns(
    source: Source, *, top: int = TOP_VALUES, skip_bad_lines: bool = False
) -> pl.DataFrame:
    """Each column's type, how bubbleup treats it, distinct values and most common values.

    Nested fields are listed under their dotted names (``http.request.method``).

    Parameters
    ----------
    source
        Any source :func:`bubbleup.analyze` reads.
    top
        How many of the most common values to list per column.
    skip_bad_lines
        Skip malformed JSON lines instead of failing.

    Returns
    -------
    One row per column: ``column``, ``type``, ``kind`` (how bubbleup treats it),
    ``distinct`` (an estimate, HyperLogLog, that counts missing as a value), ``missing``
    (share of events), ``top_values`` (up to ``top`` ``{"value", "share"}``, most common
    first, equally common values in value order; ``share`` is of every event, missing
    included; values as text) and ``example`` (the first of ``top_values``). Nested
    columns (lists, structs) get no figures.

    Examples
    --------
    >>> cols = describe_columns("sample_data/builds.parquet")
    >>> row = cols.filter(pl.col("column") == "exit_reason").row(0, named=True)
    >>> row["kind"], row["example"]
    ('categorical', 'success')
    >>> [(v["value"], round(v["share"], 3)) for v in row["top_values"]]
    [('success', 0.456), ('test_failure', 0.356), ('canceled', 0.101)]
    """
    if top < 1:
        raise UsageError(f"top must be at least 1, not {top}")
    loaded = load(source, skip_bad_lines=skip_bad_lines)
    schema = loaded.frame.collect_schema()
    names = list(schema)
    simple = [n for n in names if not isinstance(schema[n], _NESTED)]
    index = {n: i for i, n in enumerate(simple)}
    # a few columns per query: polars' cost grows with the square of a query's aggregations
    queries = [
        loaded.frame.select(
            [pl.len().alias("_rows")]
            + [
                e
                for i in range(start, min(start + CHUNK, len(simple)))
                for e in (
                    pl.col(simple[i]).approx_n_unique().alias(f"u{i}"),
                    pl.col(simple[i]).null_count().alias(f"n{i}"),
                )
            ]
        )
        for start in range(0, max(len(simple), 1), CHUNK)
    ]
    tops = [_top_query(loaded.frame, n, schema[n], top) for n in simple]
    stats: dict[str, Any] = {}
    top_frames: list[pl.DataFrame] = []
    try:
        for query in queries:
            stats.update(query.collect(engine="streaming").row(0, named=True))
        for start in range(0, len(tops), CHUNK):
            top_frames += pl.collect_all(tops[start : start + CHUNK], engine="streaming")
    except pl.exceptions.PolarsError as exc:
        raise SourceError(f"could not read {loaded.description}: {first_line(exc)}") from None
    rows = stats["_rows"]
    out: list[dict[str, object]] = []
    for name in names:
        dtype = schema[name]
        if name not in simple:
            out.append({"column": name, "type": str(dtype), "kind": "nested", "top_values": []})
            continue
        i = index[name]
        distinct = int(stats[f"u{i}"])
        kind = _kind(dtype) or ("time" if isinstance(dtype, _TEMPORAL) else "other")
        if kind == "numeric" and distinct > MAX_NUMERIC_CATEGORIES:
            kind = "numeric (ranges)"
        values = [{"value": v, "share": n / rows} for v, n in top_frames[i].iter_rows()]
        out.append(
            {
                "column": name,
                "type": str(dtype),
                "kind": kind,
                "distinct": distinct,
                "missing": stats[f"n{i}"] / rows if rows else 0.0,
                "example": values[0]["value"] if values else None,
                "top_values": values,
            }
        )
    return pl.DataFrame(out, schema=_SCHEMA)


def values_hint(frame: pl.LazyFrame, names: list[str], *, top: int = 8, columns: int = 3) -> str:
    """The most common values of a few columns, for a message about an empty selection.

    Examples
    --------
    >>> values_hint(pl.LazyFrame({"reason": ["ok", "ok", "oom"]}), ["reason"])
    "most common values of reason: 'ok' 66.7%, 'oom' 33.3%"
    """
    schema = frame.collect_schema()
    names = [n for n in names if n in schema and not isinstance(schema[n], _NESTED)][:columns]
    if not names:
        return ""
    queries = [frame.select(pl.len())] + [_top_query(frame, n, schema[n], top) for n in names]
    try:
        total, *tops = pl.collect_all(queries, engine="streaming")
    except pl.exceptions.PolarsError:
        return ""  # only a hint: the message stands without it
    rows = total.item() or 1
    parts = [
        f"{printable(name)}: "
        + top_values_text(
            {
                "type": str(schema[name]),
                "top_values": [{"value": v, "share": n / rows} for v, n in found.iter_rows()],
            }
        )
        for name, found in zip(names, tops, strict=True)
        if not found.is_empty()
    ]
    return "most common values of " + "; of ".join(parts) if parts else ""


def value_text(value: str, dtype: str) -> str:
    """A value as ``--where`` takes it: text quoted (``'oom'``), numbers and times plain.

    Examples
    --------
    >>> value_text("oom", "String"), value_text("8192", "Int64"), value_text("it's", "String")
    ("'oom'", '8192', "'it''s'")
    """
    if dtype in ("String", "Categorical", "Enum") or dtype.startswith(("Categorical", "Enum")):
        return quote_sql(printable(value, limit=VALUE_CHARS))
    return printable(value, limit=VALUE_CHARS)


def top_values_text(row: dict[str, object], *, sep: str = ", ") -> str:
    """A row's most common values and their shares: ``'oom' 1.2%, 'timeout' 0.9%``.

    Examples
    --------
    >>> top_values_text({"type": "String", "top_values": [{"value": "oom", "share": 0.012}]})
    "'oom' 1.2%"
    """
    values = row.get("top_values") or []
    assert isinstance(values, list)
    return sep.join(
        f"{value_text(v['value'], str(row['type']))} {percent(v['share'])}" for v in values
    )


#: Headers of the text forms.
HEADERS = ("column", "type", "kind", "distinct", "missing", "top values")


def text_rows(frame: pl.DataFrame, *, sep: str = ", ") -> list[list[str]]:
    """The cells of the text forms (values escaped and cut), one list per column; ``sep``
    goes between the top values."""
    return [
        [
            printable(r["column"]),
            r["type"],
            r["kind"],
            "" if r["distinct"] is None else f"{r['distinct']:,}",
            "" if r["missing"] is None else percent(r["missing"]),
            top_values_text(r, sep=sep),
        ]
        for r in frame.iter_rows(named=True)
    ]


def to_csv(frame: pl.DataFrame) -> str:
    """The frame of :func:`describe_columns` as CSV, top values as one text field.

    Examples
    --------
    >>> print(to_csv(describe_columns("sample_data/builds.parquet")).splitlines()[0])
    column,type,kind,distinct,missing,example,top_values
    """
    flat = frame.with_columns(
        pl.Series(
            "top_values", [top_values_text(r) for r in frame.iter_rows(named=True)], pl.String
        )
    )
    return flat.write_csv()


def to_markdown(frame: pl.DataFrame) -> str:
    """The frame of :func:`describe_columns` as a Markdown table (``|`` escaped).

    Examples
    --------
    >>> print(to_markdown(describe_columns("sample_data/builds.parquet")).splitlines()[0])
    | column | type | kind | distinct | missing | top values |
    """

    def cell(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|")

    lines = [
        "| " + " | ".join(HEADERS) + " |",
        "| --- | --- | --- | ---: | ---: | --- |",
    ]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in text_rows(frame)]
    return "\n".join(lines) + "\n"
