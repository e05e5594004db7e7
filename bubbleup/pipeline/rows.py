"""Example events: a few rows from the selection and from the baseline.

Figures say *that* kernel 5.15 is over-represented; rows show what such an event looks
like. :func:`example_rows` reads the source of a Result again and returns up to ``limit``
events from each side (inside explanation N, if given), with the columns in the order of
the analysis: the explanation's attributes, then the attributes by distance, then the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from bubbleup.errors import SourceError, UsageError, first_line
from bubbleup.pipeline import timewindow
from bubbleup.pipeline.drill import explanation_sql
from bubbleup.pipeline.load import load
from bubbleup.pipeline.profile import IDENTIFIER
from bubbleup.pipeline.split import compile_predicate

#: Most example events per side (polars counts rows in 32 bits).
MAX_LIMIT = 1_000_000_000

if TYPE_CHECKING:
    from bubbleup.pipeline.result import Result

_ROW = "__bubbleup_row"
_KEY = "__bubbleup_key"


def column_order(result: Result, schema_names: list[str], explanation: int | None) -> list[str]:
    """Columns in the analysis' order.

    The identifiers (which event is it?) and the time column (when?) first, then the
    explanation's attributes, the attributes by rank, the rest in source order.
    """
    keys = [o.column for o in result.left_out if o.reason == IDENTIFIER]
    if result.timeline is not None:
        keys.append(result.timeline.column)
    first: list[str] = []
    if explanation is not None:
        row = result.explanations.row(explanation - 1, named=True)
        first = [str(i["attribute"]) for i in row["items"]]
    ranked = [str(a) for a in result.attributes["attribute"]]
    order: list[str] = []
    for name in [*keys, *first, *ranked, *schema_names]:
        if name in schema_names and name not in order:
            order.append(name)
    return order


def example_rows(
    result: Result, *, explanation: int | None = None, limit: int = 5, seed: int = 0
) -> pl.DataFrame:
    """Up to ``limit`` example events from the selection and from the baseline.

    Parameters
    ----------
    result
        A Result of :func:`bubbleup.analyze` (it knows its source and predicates).
    explanation
        Rank of an explanation: only events that match it, on both sides (the selected
        events with kernel 5.15 beside the baseline events with kernel 5.15).
    limit
        Events per side.
    seed
        Which events: a pseudo-random choice (by a hash of the row number) that is the
        same for the same seed and data; shown in source order.

    Returns
    -------
    A DataFrame with a first column ``side`` (``selection`` or ``baseline``; named
    ``bubbleup_side`` if the source has a ``side`` column), then every column of the
    source in :func:`column_order`: identifiers, time, the explanation's and the top
    attributes first. The events are those the analysis compared: its time window
    (``since``, ``until``, ``after``) and ``skip_bad_lines`` apply.

    Examples
    --------
    >>> import bubbleup
    >>> r = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
    >>> rows = example_rows(r, explanation=1, limit=3)
    >>> rows.columns[:5]
    ['side', 'build_id', 'ts', 'kernel_version', 'build_tool']
    >>> rows["side"].to_list()
    ['selection', 'selection', 'selection', 'baseline', 'baseline', 'baseline']
    >>> rows["kernel_version"].unique().to_list()
    ['5.15.0-91-generic']
    """
    if limit < 1:
        raise UsageError(f"limit must be at least 1, not {limit}")
    if limit > MAX_LIMIT:
        raise UsageError(f"limit must be at most {MAX_LIMIT:,}, not {limit}")
    if not 0 <= seed < 2**64:
        raise UsageError(f"seed must be between 0 and 2**64 - 1, not {seed}")
    condition = None
    if explanation is not None:
        condition = explanation_sql(result, explanation)
    if result.origin is None:
        raise UsageError(
            "this Result does not know its source; make it with bubbleup.analyze() to read rows"
        )
    opts = result.origin.options
    loaded = load(result.origin.source, skip_bad_lines=opts.skip_bad_lines)
    frame, window = timewindow.resolve_options(loaded.frame, opts, hint=loaded.time_column)
    schema = dict(frame.collect_schema())
    sp = timewindow.split_options(window, schema, opts)
    match = pl.lit(True)
    if condition is not None:
        match, _ = compile_predicate(condition, schema, option="explanation")
    if sp.scope is not None:
        match = match & sp.scope
    base = frame.with_row_index(_ROW)
    queries = [
        base.filter(match & side)
        .with_columns(pl.col(_ROW).hash(seed=seed).alias(_KEY))
        .bottom_k(limit, by=[_KEY, _ROW])
        .sort(_ROW)
        .drop(_ROW, _KEY)
        for side in (sp.selection, sp.baseline)
    ]
    try:
        selected, baseline = pl.collect_all(queries, engine="streaming")
    except pl.exceptions.PolarsError as exc:
        raise SourceError(f"could not read {loaded.description}: {first_line(exc)}") from None
    order = column_order(result, list(schema), explanation)
    side = "bubbleup_side" if "side" in schema else "side"
    return pl.concat(
        [
            selected.select(pl.lit("selection").alias(side), *order),
            baseline.select(pl.lit("baseline").alias(side), *order),
        ]
    )
