"""The time span each side covers, for the header of reports.

Time columns take no part in the ranking, but "when" is half of what a reader of an
incident report wants to know: this reads the first and last value of each date or
datetime column (at most :data:`MAX_COLUMNS` of them) in the scope, the selection and the
baseline, in one small query over those columns only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from bubbleup.errors import SourceError, first_line
from bubbleup.pipeline.split import Split

#: Time columns described, in schema order.
MAX_COLUMNS = 3


@dataclass(frozen=True)
class TimeRange:
    """First and last value of one time column on each side (text, ``None`` if empty)."""

    column: str
    scope: tuple[str | None, str | None]
    selection: tuple[str | None, str | None]
    baseline: tuple[str | None, str | None]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(value)


def time_columns(schema: Mapping[str, pl.DataType]) -> list[str]:
    """The date and datetime columns of a schema, at most :data:`MAX_COLUMNS`.

    Examples
    --------
    >>> import polars as pl
    >>> time_columns({"ts": pl.Datetime(), "x": pl.Int64(), "day": pl.Date()})
    ['ts', 'day']
    """
    names = [n for n, t in schema.items() if isinstance(t, (pl.Datetime, pl.Date))]
    return names[:MAX_COLUMNS]


def time_ranges(
    frame: pl.LazyFrame, sp: Split, schema: Mapping[str, pl.DataType]
) -> tuple[TimeRange, ...]:
    """Measure the time span of the scope, the selection and the baseline.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import date
    >>> from bubbleup.pipeline.split import split
    >>> lf = pl.LazyFrame({"day": [date(2026, 1, d) for d in (1, 2, 3)], "x": [0, 1, 1]})
    >>> sp = split(lf.collect_schema(), where="x = 1", weight=False)
    >>> time_ranges(lf, sp, lf.collect_schema())[0].selection
    ('2026-01-02', '2026-01-03')
    """
    names = time_columns(schema)
    if not names:
        return ()
    lf = frame if sp.scope is None else frame.filter(sp.scope)
    exprs = []
    for i, name in enumerate(names):
        col = pl.col(name)
        for side, mask in (("a", None), ("s", sp.selection), ("b", sp.baseline)):
            x = col if mask is None else col.filter(mask)
            exprs += [x.min().alias(f"{side}{i}_lo"), x.max().alias(f"{side}{i}_hi")]
    try:
        row = lf.select(exprs).collect(engine="streaming").row(0, named=True)
    except pl.exceptions.PolarsError as exc:
        raise SourceError(f"could not read the time columns: {first_line(exc)}") from None
    return tuple(
        TimeRange(
            column=name,
            scope=(_text(row[f"a{i}_lo"]), _text(row[f"a{i}_hi"])),
            selection=(_text(row[f"s{i}_lo"]), _text(row[f"s{i}_hi"])),
            baseline=(_text(row[f"b{i}_lo"]), _text(row[f"b{i}_hi"])),
        )
        for i, name in enumerate(names)
    )
