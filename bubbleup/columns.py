"""``bubbleup columns``: what is in a source, so that a user can write ``--where``."""

from __future__ import annotations

from typing import Any

import polars as pl

from bubbleup.errors import SourceError, first_line
from bubbleup.load import Source, load
from bubbleup.profile import _NESTED, _TEMPORAL, MAX_NUMERIC_CATEGORIES, _kind

#: Columns measured by one query.
CHUNK = 64


def describe_columns(source: Source, *, skip_bad_lines: bool = False) -> pl.DataFrame:
    """Each column's type, how bubbleup treats it, distinct values and missing share.

    Nested fields are listed under their dotted names (``http.request.method``).

    ``distinct`` is an estimate (HyperLogLog) that counts missing as a value; ``example``
    is the most common value.

    Examples
    --------
    >>> cols = describe_columns("sample_data/builds.parquet")
    >>> cols.filter(pl.col("column") == "exit_reason")["kind"].item()
    'categorical'
    """
    loaded = load(source, skip_bad_lines=skip_bad_lines)
    schema = loaded.frame.collect_schema()
    names = list(schema)
    simple = [n for n in names if not isinstance(schema[n], _NESTED)]
    index = {n: i for i, n in enumerate(simple)}

    def measures(i: int, n: str) -> list[pl.Expr]:
        col = pl.col(n)
        return [
            col.approx_n_unique().alias(f"u{i}"),
            col.null_count().alias(f"n{i}"),
            col.drop_nulls().mode().first().cast(pl.String).alias(f"m{i}"),
        ]

    # a few columns per query: polars' cost grows with the square of a query's aggregations
    queries = [
        loaded.frame.select(
            [pl.len().alias("_rows")]
            + [
                e
                for i in range(start, min(start + CHUNK, len(simple)))
                for e in measures(i, simple[i])
            ]
        )
        for start in range(0, max(len(simple), 1), CHUNK)
    ]
    stats: dict[str, Any] = {}
    try:
        for query in queries:
            stats.update(query.collect(engine="streaming").row(0, named=True))
    except pl.exceptions.PolarsError as exc:
        raise SourceError(f"could not read {loaded.description}: {first_line(exc)}") from None
    rows = stats["_rows"]
    out: list[tuple[str, str, str, int | None, float | None, str | None]] = []
    for name in names:
        dtype = schema[name]
        if name not in simple:
            out.append((name, str(dtype), "nested", None, None, None))
            continue
        i = index[name]
        distinct = int(stats[f"u{i}"])
        kind = _kind(dtype) or ("time" if isinstance(dtype, _TEMPORAL) else "other")
        if kind == "numeric" and distinct > MAX_NUMERIC_CATEGORIES:
            kind = "numeric (ranges)"
        missing = stats[f"n{i}"] / rows if rows else 0.0
        out.append((name, str(dtype), kind, distinct, missing, stats[f"m{i}"]))
    return pl.DataFrame(
        out,
        schema={
            "column": pl.String,
            "type": pl.String,
            "kind": pl.String,
            "distinct": pl.Int64,
            "missing": pl.Float64,
            "example": pl.String,
        },
        orient="row",
    )
