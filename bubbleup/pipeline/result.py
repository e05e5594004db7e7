"""The Result of an analysis: data frames, parameters and totals, rendered on demand.

Fields
------
explanations
    polars DataFrame, one row per explanation tested, in ranked order: ``rank``, ``label``
    (text close to SQL), ``items`` (list of ``{attribute, op, value, low, high}``),
    ``selection_count`` / ``baseline_count`` (weighted events with the explanation),
    ``selection_events`` / ``baseline_events`` (raw rows), ``selection_share``,
    ``baseline_share``, ``difference``, ``lift``, ``selection_rate``, ``p_value``,
    ``q_value``, ``significant``.
    Explanations are made of context attributes only (see :mod:`bubbleup.pipeline.roles`).
restatements
    polars DataFrame, the items and conjunctions whose events nearly coincide with the
    selection's (``overlap`` at least 0.9, see :func:`bubbleup.pipeline.explain.overlap`): other
    names of the selection (``exit_code = 137``), never explanations; the columns of
    ``explanations`` plus ``overlap``, by decreasing overlap.
outcomes
    polars DataFrame, one row per outcome attribute (what happened to the events:
    status, errors, exit codes, durations...), by decreasing distance: ``attribute``,
    ``kind``, ``reason`` (why it is an outcome), ``distance``, ``q_value``, ``values``
    (the most common values' shares on each side) or ``selection_quantiles`` /
    ``baseline_quantiles`` (weighted median, p90, p99) for numbers in ranges.
attributes
    polars DataFrame, one row per attribute analysed, by decreasing ``distance``:
    ``attribute``, ``kind``, ``dtype``, ``role`` (``context`` or ``outcome``), ``binned``,
    ``distinct``, ``missing``, ``distance`` (total variation distance between selection
    and baseline), ``p_value``, ``q_value``.
left_out
    The columns that took no part, each with the reason.
skipped_lines
    Malformed lines skipped per file (``skip_bad_lines=True``).
timeline
    Weighted selected and baseline events per time bucket, and the time window used
    (:class:`bubbleup.pipeline.timewindow.Timeline`), or ``None`` without a time column.
totals
    Events and weighted events in scope, selection and baseline.
counts
    polars DataFrame, the counts table of every attribute kept for charts: one row per
    value (or value range) with weighted (``sel``, ``base``) and raw counts on each side
    (see ``docs/design.md``); beyond the 500 values most common on either side, the rest
    of an attribute is summed into one row with ``op`` ``other``.
origin
    The source and options of the analysis (:class:`bubbleup.pipeline.origin.Origin`), so that the
    Result can read example rows, drill down and say which command reproduces it.
time_ranges
    First and last value of the time columns on each side.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from bubbleup._version import __version__
from bubbleup.errors import UsageError
from bubbleup.pipeline.count import Totals
from bubbleup.pipeline.items import is_time, time_text
from bubbleup.pipeline.origin import Origin
from bubbleup.pipeline.profile import LeftOut
from bubbleup.pipeline.timerange import TimeRange

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType

    from bubbleup.outputs.plot import Chart
    from bubbleup.pipeline.timewindow import Timeline

#: Version of the JSON document produced by :meth:`Result.to_dict`.
JSON_VERSION = 2


@dataclass(frozen=True)
class Result:
    """What :func:`bubbleup.analyze` returns."""

    explanations: pl.DataFrame
    attributes: pl.DataFrame
    left_out: tuple[LeftOut, ...]
    totals: Totals
    source: str
    where: str
    baseline: str
    filter: str | None
    weight_column: str | None
    weight_auto: bool
    parameters: dict[str, Any] = field(default_factory=dict)
    counts: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)
    restatements: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)
    outcomes: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)
    origin: Origin | None = field(default=None, repr=False)
    time_ranges: tuple[TimeRange, ...] = ()
    skipped_lines: dict[str, int] = field(default_factory=dict)
    timeline: Timeline | None = None

    # -- conversions -----------------------------------------------------------------
    def _value(self, attribute: str, text: str | None) -> Any:
        if text is None:
            return None
        dtype = self._dtypes().get(attribute, "String")
        if dtype == "Boolean":
            return text == "true"
        if dtype.startswith(("Int", "UInt")):
            return int(text)
        if dtype.startswith(("Float", "Decimal")):
            return float(text)
        return text

    def _dtypes(self) -> dict[str, str]:
        return dict(zip(self.attributes["attribute"], self.attributes["dtype"], strict=True))

    def _item_dict(self, item: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"attribute": item["attribute"], "op": item["op"]}
        dtype = self._dtypes().get(item["attribute"])
        bound: Callable[[float], Any] = (
            (lambda x: time_text(x, dtype or "")) if is_time(dtype) else (lambda x: x)
        )
        if item["op"] == "=":
            out["value"] = self._value(item["attribute"], item["value"])
        elif item["op"] == "<=":
            out["value"] = bound(item["high"])
        elif item["op"] == ">":
            out["value"] = bound(item["low"])
        elif item["op"] == "between":
            out["low"], out["high"] = bound(item["low"]), bound(item["high"])
        return out

    def _rows(self, frame: pl.DataFrame) -> list[dict[str, Any]]:
        out = []
        for r in frame.iter_rows(named=True):
            items = [self._item_dict(i) for i in r.pop("items")]
            out.append({"rank": r.pop("rank"), "label": r.pop("label"), "items": items, **r})
        return out

    def to_dict(self, *, top: int | None = None) -> dict[str, Any]:
        """Return the result as plain Python data (the JSON document, version 2).

        ``top`` keeps the first ``top`` explanations; ``None`` keeps all of them.

        Raises
        ------
        UsageError
            ``top`` is negative (polars would drop the *last* ``-top`` explanations).
        """
        if top is not None and top < 0:
            raise UsageError(f"top must be >= 0 (None keeps every explanation), not {top}")
        t = self.totals
        rows = self.explanations
        if top is not None:
            rows = rows.head(min(top, rows.height))
        return {
            "version": JSON_VERSION,
            "bubbleup": __version__,
            "source": self.source,
            "scope": {"filter": self.filter, "events": t.scope_events},
            "selection": {
                "predicate": self.where,
                "events": t.selection_events,
                "weighted_events": t.selection_weight,
            },
            "baseline": {
                "predicate": self.baseline,
                "events": t.baseline_events,
                "weighted_events": t.baseline_weight,
            },
            "weight": {"column": self.weight_column, "auto": self.weight_auto},
            "parameters": dict(self.parameters),
            "skipped_lines": dict(self.skipped_lines),
            "timeline": None if self.timeline is None else self.timeline.to_dict(),
            "left_out": [{"column": x.column, "reason": x.reason} for x in self.left_out],
            "attributes": self.attributes.to_dicts(),
            "restatements": self._rows(self.restatements) if self.restatements.width else [],
            "outcomes": self.outcomes.to_dicts() if self.outcomes.width else [],
            "explanations": self._rows(rows),
        }

    def to_json(self, *, top: int | None = None, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as JSON text (deterministic: same input, same bytes)."""
        return json.dumps(self.to_dict(top=top), indent=indent, ensure_ascii=False, allow_nan=False)

    @property
    def significant(self) -> pl.DataFrame:
        """The significant explanations only."""
        return self.explanations.filter(pl.col("significant"))

    # -- display ---------------------------------------------------------------------
    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> Iterator[RenderableType]:
        """Render as the terminal table (rich protocol)."""
        from bubbleup.outputs.render import table_renderable

        yield table_renderable(self, top=self.parameters.get("top", 20), width=options.max_width)

    def _repr_html_(self) -> str:
        """Render in Jupyter: the comparison, explanations with bars, the top charts."""
        from bubbleup.outputs.report import view_html

        return view_html(self, top=self.parameters.get("top", 10))

    def __repr__(self) -> str:
        t = self.totals
        return (
            f"<bubbleup.Result: {t.selection_events:,} selected vs "
            f"{t.baseline_events:,} baseline events, {self.explanations.height:,} "
            f"explanations, {int(self.explanations['significant'].sum()):,} significant>"
        )

    # -- looking further: charts, report, example rows, drill-down -------------------
    def histogram(self, attribute: str, *, top: int = 8) -> pl.DataFrame:
        """One attribute's value distribution in the selection and in the baseline.

        See :func:`bubbleup.outputs.charts.histogram`.
        """
        from bubbleup.outputs.charts import histogram

        return histogram(self, attribute, top=top)

    def plot(self, attribute: str, *, top: int = 8) -> Chart:
        """A matplotlib Figure of one attribute: selection vs baseline.

        Needs matplotlib (``pip install 'bubbleup[notebook]'``). See
        :func:`bubbleup.outputs.plot.plot`.
        """
        if importlib.util.find_spec("matplotlib") is None:
            raise UsageError(
                "Result.plot needs matplotlib; install it with: pip install 'bubbleup[notebook]'"
            )
        from bubbleup.outputs.plot import plot

        return plot(self, attribute, top=top)

    def to_html(self, *, top: int | None = 20, attributes: int = 6) -> str:
        """The self-contained HTML report. See :func:`bubbleup.outputs.report.to_html`."""
        from bubbleup.outputs.report import to_html

        return to_html(self, top=top, attributes=attributes)

    def rows(
        self, *, explanation: int | None = None, limit: int = 5, seed: int = 0
    ) -> pl.DataFrame:
        """Example events from the selection and the baseline.

        See :func:`bubbleup.pipeline.rows.example_rows`.
        """
        from bubbleup.pipeline.rows import example_rows

        return example_rows(self, explanation=explanation, limit=limit, seed=seed)

    def drill(self, n: int, *, progress: Callable[[str], None] | None = None) -> Result:
        """Analyse again with explanation ``n`` added to the scope.

        See :func:`bubbleup.pipeline.drill.drill`.
        """
        from bubbleup.pipeline.drill import drill

        return drill(self, n, progress=progress)
