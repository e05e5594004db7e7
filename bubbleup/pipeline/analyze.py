"""The pipeline: load -> split -> profile -> count -> score -> explain.

:func:`analyze` is the one place where the stages are chained; the CLI and notebooks call it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import polars as pl

from bubbleup.errors import SelectionError, UsageError
from bubbleup.options import Options, option_name
from bubbleup.pipeline import count as counting
from bubbleup.pipeline.columns import values_hint
from bubbleup.pipeline.load import Source, load
from bubbleup.pipeline.origin import Origin
from bubbleup.pipeline.profile import Profile, build_profile, candidates, finalize, sample_stride
from bubbleup.pipeline.result import Result
from bubbleup.pipeline.roles import outcome_columns
from bubbleup.pipeline.split import Predicate, Split, scale_weights, weight_scale
from bubbleup.pipeline.timerange import time_ranges

if TYPE_CHECKING:  # the engines, numpy and scipy load on the first analysis, not on import
    from bubbleup.pipeline import timewindow
    from bubbleup.pipeline.combine import Patterns

Progress = Callable[[str], None]


def analyze(
    source: Source,
    options: Options | None = None,
    *,
    where: Predicate | None = None,
    baseline: Predicate | None = None,
    filter: Predicate | None = None,
    weight: str | bool | None = None,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    alpha: float = 0.05,
    min_lift: float = 1.5,
    min_share: float = 0.05,
    max_order: int = 3,
    engine: str | None = None,
    spark_master: str | None = None,
    progress: Progress | None = None,
    skip_bad_lines: bool = False,
    time_column: str | None = None,
    since: str | dt.datetime | None = None,
    until: str | dt.datetime | None = None,
    after: str | dt.datetime | None = None,
    outcomes: Sequence[str] | None = None,
    context: Sequence[str] | None = None,
) -> Result:
    """Find what the selected events have in common that the baseline events do not.

    The options are the fields of :class:`bubbleup.options.Options`: give them as keywords,
    or as an ``Options`` (which keywords then change).

    Parameters
    ----------
    source
        Path, glob, directory or list of paths (Parquet, CSV, NDJSON, Arrow IPC), or a
        polars DataFrame/LazyFrame, pyarrow Table or pandas DataFrame.
    options
        Options built beforehand (the command line, explore and MCP build one); keywords
        that differ from their defaults change them.
    where
        The selection: a SQL ``WHERE`` condition or a boolean polars expression. Events
        where it is null are not selected. Column names with dots take double quotes:
        ``"http.route" = '/checkout'``. Optional with ``after``.
    baseline
        What to compare with (default: every event in scope that is not selected).
    filter
        Limits the scope of both sides.
    weight
        Column of per-event weights (sample rates). ``None`` uses a ``sample_rate`` /
        ``SampleRate`` / ``samplerate`` column when one exists; ``False`` weighs every
        event 1. Missing weights count as 1.
    columns, exclude
        Names or globs of the columns to analyse / to leave out.
    max_order
        Most items per explanation: 1 for single values and ranges only, 2 or 3 (default)
        for conjunctions. Combinations cost one extra pass over the events whatever the
        order, so 3 is the default.
    alpha, min_lift, min_share
        An explanation is significant when its q-value is below ``alpha``, its lift at
        least ``min_lift`` and its selection share at least ``min_share``.
    engine
        ``"polars"`` (default; embedded, streaming) or ``"spark"`` (needs
        ``bubbleup[spark]``). A Spark DataFrame as ``source`` always runs on Spark.
    spark_master
        Where the Spark engine starts its session when none is active: ``local[4]``,
        ``spark://host:7077``, ``sc://host:15002`` (Spark Connect), ``yarn``...
    progress
        Called with a short message as each stage starts (the library never prints).
    skip_bad_lines
        Skip malformed JSON lines (counted in ``Result.skipped_lines``) instead of failing.
    time_column
        The events' time column (default: detected; see :mod:`bubbleup.pipeline.timewindow`).
    since, until
        Only events with ``since <= time < until`` (ISO 8601 text or datetimes).
    after
        Before/after mode: the selection is the events at or after this instant (and
        matching ``where``, if given), the baseline those in the same length of time
        before it (and matching ``baseline``, if given).
    outcomes
        Names or globs of columns that say what happened to an event (status, errors,
        exit codes, durations, peaks) beyond those the conventions of
        :mod:`bubbleup.pipeline.roles` recognise. Outcomes are described in ``Result.outcomes``
        and never taken as explanations; one whose events nearly coincide with the
        selection is listed in ``Result.restatements``.
    context
        Names or globs of columns to keep as candidate causes although a convention
        names them outcomes.

    Examples
    --------
    >>> import bubbleup
    >>> r = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
    >>> r.explanations["label"][0]
    "kernel_version = '5.15.0-91-generic' AND build_tool = 'gradle'"
    >>> top = r.explanations.row(0, named=True)
    >>> round(top["selection_share"], 3), round(top["baseline_share"], 4)
    (0.86, 0.0033)
    """
    keywords = {k: v for k, v in locals().items() if k not in ("source", "options", "progress")}
    opts = Options.build(options, **keywords)
    return run(source, opts, progress=progress)


def run(source: Source, opts: Options, *, progress: Progress | None = None) -> Result:
    """:func:`analyze` with its options checked: the pipeline, stage by stage."""
    from bubbleup.engines import PolarsEngine, is_spark_frame, open_engine
    from bubbleup.pipeline import timewindow
    from bubbleup.pipeline.count import keep_counts

    say = progress or (lambda _msg: None)
    say("loading")
    if opts.where is None and opts.after is None:
        raise UsageError(
            f"{option_name('where')} is required (unless {option_name('after')} gives the "
            "selection)"
        )
    frame: pl.LazyFrame | None = None
    window: timewindow.Window | None = None
    skipped: dict[str, int] = {}
    if opts.engine == "spark" or is_spark_frame(source):
        timed = [
            k for k in ("time_column", "since", "until", "after") if getattr(opts, k) is not None
        ]
        if timed or opts.skip_bad_lines:
            raise UsageError(
                f"time windows and {option_name('skip_bad_lines')} work with the polars engine "
                f"only; filter on the time column in {option_name('where')} / "
                f"{option_name('filter')} instead"
            )
        eng = open_engine(source, engine=opts.engine, spark_master=opts.spark_master, progress=say)
        schema = eng.schema()
        assert opts.where is not None
        sp = eng.split(
            where=opts.where, baseline=opts.baseline, filter=opts.filter, weight=opts.weight
        )
    else:
        if opts.spark_master is not None:
            raise UsageError(f"{option_name('spark_master')} needs {option_name('engine_spark')}")
        loaded = load(source, skip_bad_lines=opts.skip_bad_lines)
        skipped = loaded.skipped_lines
        frame, window = timewindow.resolve_options(loaded.frame, opts, hint=loaded.time_column)
        # a time window stays a polars filter: polars skips the row groups outside it by
        # their Parquet statistics, which reading the files directly does not (tried: no
        # faster for a window over 60% of 5M events, and narrow windows would be slower)
        eng = PolarsEngine(replace(loaded, frame=frame), direct=window.scope() is None)
        schema = eng.schema()
        sp = timewindow.split_options(window, schema, opts)
    names, left = candidates(
        schema,
        columns=opts.columns,
        exclude=opts.exclude,
        predicate_columns=sp.predicate_columns,
        weight_column=sp.weight_column,
        window_column=_window_column(window),
    )
    outcome_roles = outcome_columns(
        schema,
        outcomes=opts.outcomes,
        context=opts.context,
    )
    say("measuring columns")
    totals, stats = eng.measure(sp, names)
    scale = weight_scale(stats.get("_w_max"))
    if scale != 1.0:  # weights of 1e-300 or 1e308: measure again with weights near 1
        sp = scale_weights(sp, scale)
        totals, stats = eng.measure(sp, names)
    if totals.selection_events == 0 and frame is not None:  # say what the values are
        scoped = frame if sp.scope is None else frame.filter(sp.scope)
        used = sorted(sp.predicate_columns - {_window_column(window) or ""})
        hint = values_hint(scoped, used)
        _check_sides(totals, sp.where, sp.baseline_text, hint=hint)
    _check_sides(totals, sp.where, sp.baseline_text)
    profile = build_profile(
        schema, names, stats, n_rows=totals.scope_events, left_out=left, roles=outcome_roles
    )
    say(f"counting {len(profile.attributes)} attributes")
    counts = eng.count(sp, profile.attributes)
    profile, counts = finalize(
        profile,
        counts,
        baseline_weight=totals.baseline_weight,
        baseline_events=totals.baseline_events,
    )
    attrs_by_name = {a.name: a for a in profile.attributes}

    def patterns(items: list[dict[str, Any]]) -> pl.DataFrame:
        say(f"counting combinations of {len(items)} items")
        return eng.count_patterns(sp, items, attrs_by_name)

    ranged_outcomes = [a for a in profile.attributes if a.role == "outcome" and a.binned]
    values = dict(
        zip(
            [a.name for a in ranged_outcomes],
            eng.count_values(sp, ranged_outcomes, stride=sample_stride(totals.scope_events))
            if ranged_outcomes
            else [],
            strict=True,
        )
    )

    say("scoring")
    result = _finish(
        values,
        counts,
        patterns,
        totals,
        profile,
        eng.description,
        sp,
        opts,
    )
    return replace(
        result,
        counts=keep_counts(counts, totals),
        origin=Origin(source, opts),
        time_ranges=() if frame is None else time_ranges(frame, sp, schema),
        skipped_lines=skipped,
        timeline=None
        if frame is None or window is None
        else timewindow.timeline(frame, sp, window),
    )


def _window_column(window: timewindow.Window | None) -> str | None:
    """The time column of a time window that limits or splits the events, if any."""
    if window is None or (window.scope() is None and window.after is None):
        return None
    return window.column


def _check_sides(totals: counting.Totals, where: str, baseline: str, *, hint: str = "") -> None:
    if totals.scope_events == 0:
        raise SelectionError(
            f"no events to analyse: the source (or the {option_name('filter')} scope) has zero rows"
        )
    if totals.selection_events == 0:
        raise SelectionError(
            f"the selection is empty: no event matches {where!r}; "
            + (hint or "check the values with 'bubbleup columns'")
        )
    if totals.baseline_events == 0:
        if totals.selection_events == totals.scope_events:
            raise SelectionError(
                f"the selection covers every event ({where!r}), so the "
                f"baseline is empty; narrow {option_name('where')} or give "
                f"{option_name('baseline')}"
            )
        raise SelectionError(
            f"the baseline is empty: no unselected event matches {baseline!r}; widen "
            f"{option_name('baseline')}"
        )
    if totals.selection_weight <= 0 or totals.baseline_weight <= 0:
        raise SelectionError(
            "the selection or the baseline has a total weight of zero; "
            f"check the weight column or pass {option_name('no_weight')}"
        )


def _finish(
    values: Mapping[str, pl.DataFrame],
    counts: pl.DataFrame,
    patterns: Patterns | None,
    totals: counting.Totals,
    profile: Profile,
    source: str,
    sp: Split,
    opts: Options,
) -> Result:
    from bubbleup.pipeline.explain import explain
    from bubbleup.pipeline.outcomes import describe as describe_outcomes
    from bubbleup.pipeline.score import attribute_tests, bh_qvalues

    explained = explain(
        counts,
        totals,
        profile.attributes,
        patterns=patterns,
        max_order=opts.max_order,
        alpha=opts.alpha,
        min_lift=opts.min_lift,
        min_share=opts.min_share,
    )
    tests = attribute_tests(counts, totals)
    attrs = pl.DataFrame(
        {
            "attribute": [a.name for a in profile.attributes],
            "kind": [a.kind for a in profile.attributes],
            "dtype": [a.dtype for a in profile.attributes],
            "role": [a.role for a in profile.attributes],
            "binned": [a.binned for a in profile.attributes],
            "distinct": [a.distinct for a in profile.attributes],  # see profile.finalize
            "missing": [a.nulls for a in profile.attributes],
        },
        schema={
            "attribute": pl.String,
            "kind": pl.String,
            "dtype": pl.String,
            "role": pl.String,
            "binned": pl.Boolean,
            "distinct": pl.Int64,
            "missing": pl.Int64,
        },
    ).join(tests, on="attribute", how="left")
    attrs = attrs.with_columns(
        distance=pl.col("distance").fill_null(0.0), p_value=pl.col("p_value").fill_null(1.0)
    )
    attrs = attrs.with_columns(q_value=pl.Series(bh_qvalues(attrs["p_value"].to_numpy())))
    attrs = attrs.sort(  # candidate causes first: outcomes have their own section
        [
            pl.col("role") == "context",
            pl.col("q_value") < opts.alpha,
            pl.col("distance"),
            pl.col("attribute"),
        ],
        descending=[True, True, True, False],
    )
    return Result(
        explanations=explained.explanations,
        restatements=explained.restatements,
        outcomes=describe_outcomes(profile.attributes, counts, values, attrs, totals),
        attributes=attrs,
        left_out=profile.left_out,
        totals=totals,
        source=source,
        where=sp.where,
        baseline=sp.baseline_text,
        filter=sp.filter_text,
        weight_column=sp.weight_column,
        weight_auto=sp.weight_auto,
        parameters={
            "alpha": opts.alpha,
            "min_lift": opts.min_lift,
            "min_share": opts.min_share,
            "max_order": opts.max_order,
            "tested": explained.tested,
            **({"weight_scale": sp.weight_scale} if sp.weight_scale != 1.0 else {}),
        },
    )
