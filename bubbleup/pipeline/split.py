"""Split stage: compile the scope, selection, baseline and weight into polars expressions.

Predicates are SQL ``WHERE`` clauses parsed by polars' own SQL parser
(:func:`polars.sql_expr`), or polars expressions; user text is never run as Python. A
predicate that evaluates to null does not match.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import polars as pl

from bubbleup.errors import (
    ColumnError,
    PredicateError,
    WeightError,
    did_you_mean,
    first_line,
)
from bubbleup.options import option_name
from bubbleup.pipeline import gate
from bubbleup.pipeline.timetext import type_time_text
from bubbleup.printable import printable

#: Column names taken as the weight when ``weight`` is left to auto-detect.
AUTO_WEIGHT_COLUMNS = ("sample_rate", "SampleRate", "samplerate", "sampleRate")

Predicate = str | pl.Expr


@dataclass(frozen=True)
class Split:
    """The compiled predicates and weight of one analysis."""

    selection: pl.Expr
    baseline: pl.Expr
    scope: pl.Expr | None
    weight: pl.Expr
    where: str
    baseline_text: str
    filter_text: str | None
    weight_column: str | None
    weight_auto: bool
    predicate_columns: frozenset[str] = field(default_factory=frozenset)
    #: True when the baseline is every event in scope that is not selected.
    complement: bool = True
    #: Every weight was multiplied by this power of two (see :func:`weight_scale`).
    weight_scale: float = 1.0


def predicate_text(predicate: Predicate) -> str:
    """Return the text shown for a predicate (SQL as given, or the expression's repr)."""
    return predicate if isinstance(predicate, str) else str(predicate)


def _dotted_name(root: str, text: str, schema: Mapping[str, pl.DataType]) -> str | None:
    """The dotted column name (``http.route``) written unquoted where ``root`` starts.

    SQL reads ``http.route`` as the field ``route`` of a column ``http``; a flattened
    column needs quotes: ``"http.route"``.

    Examples
    --------
    >>> _dotted_name("http", "http.route = '/a'", {"http.route": pl.String()})
    'http.route'
    """
    for match in re.finditer(rf"(?<![\w\".]){re.escape(root)}((?:\.\w+)+)", text):
        parts = (root + match.group(1)).split(".")
        for end in range(len(parts), 1, -1):
            name = ".".join(parts[:end])
            if name in schema:
                return name
    return None


def _reason(exc: BaseException) -> str:
    """A polars error as one line: every line of the reason, not polars' expression dump.

    Examples
    --------
    >>> _reason(ValueError("regex parse error:\\n    (\\n    ^\\nerror: unclosed group\\n\\n"
    ...                    "This error occurred in the following expression:\\n\\tcol"))
    'regex parse error: ( ^ error: unclosed group'
    """
    text = str(exc).split("This error occurred", 1)[0].split("\n\nResolved plan", 1)[0]
    return " ".join(line.strip() for line in text.splitlines() if line.strip()) or first_line(exc)


def predicate_failure(option: str, text: str, exc: BaseException) -> PredicateError:
    """The error for a predicate that polars cannot evaluate (``option`` as shown).

    Examples
    --------
    >>> print(predicate_failure("where", "x > 'a'", ValueError("cannot compare string")))
    cannot evaluate where predicate "x > 'a'": cannot compare string
    """
    return PredicateError(
        f"cannot evaluate {option} predicate {gate.shown(text)}: {printable(_reason(exc))}"
    )


def compile_predicate(
    predicate: Predicate, schema: Mapping[str, pl.DataType], *, option: str = "where"
) -> tuple[pl.Expr, frozenset[str]]:
    """Compile a predicate into a null-safe boolean expression.

    Parameters
    ----------
    predicate
        A SQL ``WHERE`` clause (``"exit_reason = 'oom'"``) or a boolean polars expression.
    schema
        The source's schema, used to check column names and the result type.
    option
        The parameter that gave the predicate, named in error messages as the caller's
        interface names it (:func:`bubbleup.options.option_name`: ``where`` or ``--where``).

    Returns
    -------
    The expression (null results become ``False``) and the set of columns it reads.

    Examples
    --------
    >>> import polars as pl
    >>> expr, cols = compile_predicate("x > 1", {"x": pl.Int64()})
    >>> sorted(cols)
    ['x']
    >>> pl.DataFrame({"x": [0, 2, None]}).select(expr)["x"].to_list()
    [False, True, False]
    """
    option = option_name(option)
    if isinstance(predicate, str):
        text = gate.check(predicate, option)
        try:
            expr = pl.sql_expr(type_time_text(text, schema))
        except pl.exceptions.PolarsError as exc:
            reason = first_line(exc, "syntax error")
            raise PredicateError(
                f"malformed {option} predicate {gate.shown(text)}: {printable(reason)}; use "
                "SQL WHERE syntax, e.g. \"exit_reason = 'oom' AND duration_ms > 5000\""
            ) from None
        if not expr.meta.eq(expr.meta.undo_aliases()):
            raise gate.named(option, text, expr.meta.output_name())
        gate.check_polars_tree(expr.meta.serialize(format="json"), text, option)
    elif isinstance(predicate, pl.Expr):
        text, expr = str(predicate), predicate
    else:
        raise PredicateError(
            f"{option} must be a SQL string or a polars expression, not {type(predicate).__name__}"
        )
    try:
        columns = frozenset(expr.meta.root_names())
    except pl.exceptions.PolarsError:
        columns = frozenset()
    for name in sorted(columns):
        if name not in schema:
            hint = did_you_mean(name, schema)
            dotted = _dotted_name(name, predicate, schema) if isinstance(predicate, str) else None
            if dotted:
                hint = f'; names with dots take double quotes in SQL: "{dotted}"'
            elif not hint and isinstance(predicate, str) and f'"{name}"' in predicate:
                hint = "; text values take single quotes in SQL ('oom', not \"oom\")"
            raise ColumnError(f"column '{name}' in {option} not found{hint}")
    try:  # run on no events: the type, and errors such as a bad regex, before any data is read
        empty = pl.LazyFrame(schema={c: schema[c] for c in columns})
        dtype = empty.select(expr.alias("_p")).collect().schema["_p"]
    except pl.exceptions.PolarsError as exc:
        raise predicate_failure(option, text, exc) from None
    if dtype != pl.Boolean:
        raise PredicateError(
            f"{option} predicate {gate.shown(text)} gives {dtype} values, not true/false; "
            'write a comparison such as "duration_ms > 5000"'
        )
    return expr.fill_null(False), columns


def resolve_weight(
    weight: str | bool | None,  # noqa: FBT001 - None/False/name are three distinct modes
    schema: Mapping[str, pl.DataType],
) -> tuple[pl.Expr, str | None, bool]:
    """Pick the weight column.

    ``None`` auto-detects a ``sample_rate``-like column; ``False`` weighs every event 1; a
    string names the column. Missing weights count as 1.

    Returns
    -------
    The Float64 weight expression, the column name (or ``None``) and whether it was
    auto-detected.

    Examples
    --------
    >>> import polars as pl
    >>> resolve_weight(None, {"sample_rate": pl.Int64()})[1:]
    ('sample_rate', True)
    >>> resolve_weight(False, {"sample_rate": pl.Int64()})[1:]
    (None, False)
    """
    auto = False
    name: str | None
    if weight is None:
        name = next((c for c in AUTO_WEIGHT_COLUMNS if c in schema), None)
        auto = name is not None
    elif weight is False:
        name = None
    elif weight is True:
        raise WeightError("weight=True is ambiguous; pass a column name, None (auto) or False")
    else:
        name = weight
    if name is None:
        return pl.lit(1.0, dtype=pl.Float64), None, False
    if name not in schema:
        raise WeightError(f"weight column '{name}' not found{did_you_mean(name, schema)}")
    dtype = schema[name]
    if not dtype.is_numeric() or dtype == pl.Boolean:
        raise WeightError(
            f"weight column '{name}' is {dtype}, not numeric; "
            f"choose a numeric column or pass {option_name('no_weight')}"
        )
    return pl.col(name).cast(pl.Float64).fill_null(1.0), name, auto


#: Weights whose largest value lies outside ``[2**-WEIGHT_RANGE, 2**WEIGHT_RANGE]`` are
#: rescaled before counting (their squares would overflow or lose precision in the sums).
WEIGHT_RANGE = 64


def weight_scale(largest: float | None) -> float:
    """The power of two that brings weights whose largest value is ``largest`` near 1.

    Shares, lifts, p-values and q-values do not change when every weight is multiplied
    by one constant, but the sums behind them do: weights of 1e-300 have squares of 0
    (no effective events: every p-value 1) and weights of 1e308 sum to infinity. A power
    of two changes no bit of the mantissas. 1.0 when no rescaling is needed.

    Examples
    --------
    >>> weight_scale(50.0), weight_scale(None)
    (1.0, 1.0)
    >>> [round(weight_scale(w) * w, 3) for w in (1e-300, 1e308)]
    [0.67, 0.556]
    """
    if largest is None or not 0 < largest < math.inf:
        return 1.0
    exponent = math.frexp(largest)[1]
    if abs(exponent) <= WEIGHT_RANGE:
        return 1.0
    return math.ldexp(1.0, min(-exponent, 1023))  # 2**1070 would overflow


def scale_weights(sp: Split, factor: float) -> Split:
    """``sp`` with every weight multiplied by ``factor`` (see :func:`weight_scale`)."""
    if factor == 1.0:
        return sp
    changes: dict[str, object] = {"weight": sp.weight * factor, "weight_scale": factor}
    if getattr(sp, "spark_weight", None) is not None:  # the Spark engine's own weight column
        changes["spark_weight"] = sp.spark_weight * factor  # type: ignore[attr-defined]
    return replace(sp, **changes)  # type: ignore[arg-type]


def split(
    schema: Mapping[str, pl.DataType],
    *,
    where: Predicate,
    baseline: Predicate | None = None,
    filter: Predicate | None = None,
    weight: str | bool | None = None,
) -> Split:
    """Compile every predicate and the weight of one analysis against ``schema``.

    The baseline never contains selected events: with ``baseline`` given it is the events
    that match it and not ``where``; without, every event in scope that is not selected.
    """
    sel, sel_cols = compile_predicate(where, schema, option="where")
    cols = set(sel_cols)
    if baseline is not None:
        base, base_cols = compile_predicate(baseline, schema, option="baseline")
        base = base & ~sel
        cols |= base_cols
        base_text = predicate_text(baseline)
    else:
        base = ~sel
        base_text = f"NOT ({predicate_text(where)})"
    scope = None
    if filter is not None:
        scope, scope_cols = compile_predicate(filter, schema, option="filter")
        cols |= scope_cols
    wexpr, wname, wauto = resolve_weight(weight, schema)
    return Split(
        selection=sel,
        baseline=base,
        scope=scope,
        weight=wexpr,
        where=predicate_text(where),
        baseline_text=base_text,
        filter_text=None if filter is None else predicate_text(filter),
        weight_column=wname,
        weight_auto=wauto,
        predicate_columns=frozenset(cols),
        complement=baseline is None,
    )
