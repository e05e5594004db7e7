"""Time columns compared with text, the way people write it: ``ts >= '2026-11-20 14:00'``.

polars' SQL parser compares a datetime column only with a typed literal
(``TIMESTAMP '...'``, ``'...'::timestamptz``); a plain string gives a raw error about
comparing a datetime to a string. Before a predicate is parsed, :func:`type_time_text`
gives each string compared with a date or datetime column (``=``, ``<>``, ``<``, ``<=``,
``>``, ``>=``, either side, and ``BETWEEN 'a' AND 'b'``) the literal type of that column,
reading the text as ISO 8601 (``2026-11-20``, ``2026-11-20 14:00``, ``2026-11-20T14:00Z``,
``...+02:00``): ``TIMESTAMPTZ`` in UTC for a zoned column (an instant without a zone is
read in the column's zone), ``TIMESTAMP`` for a naive one, ``DATE`` for a date. Text
that is not a time, and every other string, is left as it is. The text shown to people
stays what they wrote.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from zoneinfo import ZoneInfo

import polars as pl

from bubbleup.pipeline.gate import Token, tokens
from bubbleup.pipeline.items import time_literal, time_operand

_COMPARISONS = frozenset({"=", "==", "<>", "!=", "<", "<=", ">", ">="})


def _instant(text: str) -> dt.datetime | None:
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _literal(token: Token, dtype: pl.DataType) -> str | None:
    """The typed literal for a string token compared with a column of ``dtype``."""
    moment = _instant(token.text[1:-1].replace("''", "'"))
    if moment is None:
        return None
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(dtype.time_zone))
    elif moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)  # naive columns: UTC
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    micros = round(aware.timestamp() * 1_000_000)
    if isinstance(dtype, pl.Date):
        if (moment.hour, moment.minute, moment.second, moment.microsecond) != (0, 0, 0, 0):
            return None  # a date compared with an instant: leave it to the parser
        micros = round(moment.replace(tzinfo=dt.UTC).timestamp() * 1_000_000)
    return time_literal(float(micros), str(dtype))


def _column(token: Token, schema: Mapping[str, pl.DataType]) -> pl.DataType | None:
    if token.kind == "word":
        name = token.text
    elif token.kind == "name" and token.text[0] in '"`':
        name = token.text[1:-1].replace(token.text[0] * 2, token.text[0])
    else:
        return None
    dtype = schema.get(name)
    return dtype if isinstance(dtype, (pl.Datetime, pl.Date)) else None


def type_time_text(text: str, schema: Mapping[str, pl.DataType]) -> str:
    """``text`` with each string compared with a date or datetime column typed as one.

    Examples
    --------
    >>> import polars as pl
    >>> schema = {"ts": pl.Datetime("us", "UTC"), "d": pl.Date(), "k": pl.String()}
    >>> print(type_time_text("ts >= '2026-11-20 14:00' AND k = '2026-11-20'", schema))
    ts >= TIMESTAMPTZ '2026-11-20 14:00:00+00:00' AND k = '2026-11-20'
    >>> print(type_time_text("d BETWEEN '2026-11-19' AND '2026-11-20'", schema))
    d BETWEEN DATE '2026-11-19' AND DATE '2026-11-20'
    """
    if not any(isinstance(t, (pl.Datetime, pl.Date)) for t in schema.values()):
        return text
    toks = tokens(text)
    edits: dict[int, tuple[Token, str]] = {}

    def typed(i: int, dtype: pl.DataType, column: int) -> None:
        if 0 <= i < len(toks) and toks[i].kind == "string":
            # a literal already typed (TIMESTAMP '...', DATE '...') or cast stays as it is
            before = toks[i - 1].text.upper() if i > 0 else ""
            after = toks[i + 1].text if i + 1 < len(toks) else ""
            if before in ("TIMESTAMP", "TIMESTAMPTZ", "DATE") or after == "::":
                return
            literal = _literal(toks[i], dtype)
            if literal is not None:
                edits[i] = (toks[i], literal)
                operand = time_operand(toks[column].text, str(dtype))
                if operand != toks[column].text:  # zoned other than UTC: compared in UTC
                    edits[column] = (toks[column], operand)

    for i, tok in enumerate(toks):
        if tok.kind == "op" and tok.text in _COMPARISONS and 0 < i < len(toks) - 1:
            left, right = _column(toks[i - 1], schema), _column(toks[i + 1], schema)
            if left is not None:
                typed(i + 1, left, i - 1)
            if right is not None:
                typed(i - 1, right, i + 1)
        elif tok.kind == "word" and tok.text.upper() == "BETWEEN" and i > 0:
            at = i - 2 if i > 1 and toks[i - 1].text.upper() == "NOT" else i - 1
            column = _column(toks[at], schema)
            if column is not None and i + 3 < len(toks) and toks[i + 2].text.upper() == "AND":
                typed(i + 1, column, at)
                typed(i + 3, column, at)
    if not edits:
        return text
    out, last = [], 0
    for i in sorted(edits):
        token, literal = edits[i]
        out += [text[last : token.at], literal]
        last = token.at + len(token.text)
    out.append(text[last:])
    return "".join(out)
