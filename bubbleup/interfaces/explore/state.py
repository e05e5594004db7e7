"""The state of an explore view and the answer to it, shared by the web app and the widget.

A :class:`View` is everything a person chose: the selection (a box on the heatmap becomes
SQL text), the drill path ("only these" / "not these" steps, each a SQL condition added to
the scope) and the heatmap's value column. It round-trips through the page's address
(:meth:`View.to_query`, :meth:`View.from_query`), so a copied link reproduces the view.

An :class:`Explorer` reads the source once and keeps the events in memory as a polars
DataFrame; each view costs one call of :func:`bubbleup.analyze` on that frame (and a
count of the heatmap's cells). Re-reading Parquet files with their fast path instead
was measured: slower at 1M events, somewhat faster at 10M (bench/README.md).

Predicates go only through ``analyze`` and the predicate compiler it uses
(:func:`bubbleup.pipeline.split.compile_predicate`); the answer is drawn by the HTML report's own
pieces (:mod:`bubbleup.outputs.report`).
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from bubbleup.errors import BubbleupError, UsageError
from bubbleup.interfaces.explore.heatmap import (
    Grid,
    Heatmap,
    check_value_column,
    default_value_column,
    grid,
    mask,
    numeric_columns,
)
from bubbleup.options import Options
from bubbleup.outputs import charts, report
from bubbleup.pipeline.analyze import analyze
from bubbleup.pipeline.count import keep_scope_stats
from bubbleup.pipeline.drill import items_sql
from bubbleup.pipeline.load import Source, load
from bubbleup.pipeline.origin import Origin
from bubbleup.pipeline.result import Result
from bubbleup.pipeline.split import compile_predicate, resolve_weight
from bubbleup.pipeline.timewindow import resolve

#: Explanations listed in the answer, and attributes drawn as charts.
TOP = 20
CHARTS = 6
#: Views whose answers are kept, so that back and forward are instant.
CACHE = 32
#: Heatmap grids kept (one per scope and value column: each holds one int32 per event).
GRIDS = 4
#: The longest predicate text and the most drill steps a view may hold.
MAX_TEXT = 20_000
MAX_STEPS = 20

Kind = Literal["only", "not"]
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def show_controls(text: str) -> str:
    r"""Replace control characters by visible escapes (``\x1b``), newlines and tabs kept.

    Examples
    --------
    >>> show_controls("a\x1b[31mb\x00")
    'a\\x1b[31mb\\x00'
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class SupersededError(BubbleupError):
    """A newer view was asked for while this one was being counted."""


@dataclass(frozen=True)
class Step:
    """One drill step: keep only the events matching ``sql``, or leave them out."""

    kind: Kind
    sql: str

    @property
    def condition(self) -> str:
        """The step as a condition on the scope."""
        return f"({self.sql})" if self.kind == "only" else f"NOT ({self.sql})"


@dataclass(frozen=True)
class View:
    """What is shown: the selection, the drill path and the heatmap's value column."""

    where: str | None = None
    steps: tuple[Step, ...] = ()
    value: str | None = None

    def __post_init__(self) -> None:
        texts = [self.where or "", self.value or "", *(s.sql for s in self.steps)]
        if any(len(t) > MAX_TEXT for t in texts):
            raise UsageError(f"a predicate is longer than {MAX_TEXT:,} characters")
        if len(self.steps) > MAX_STEPS:
            raise UsageError(f"more than {MAX_STEPS} drill steps; undo some first")
        for s in self.steps:
            if s.kind not in ("only", "not") or not s.sql.strip():
                raise UsageError("a drill step is 'only' or 'not' and a SQL condition")

    def to_query(self) -> list[tuple[str, str]]:
        """The view as address parameters (``where``, ``only`` / ``not`` in order, ``y``).

        Examples
        --------
        >>> View("x > 1", (Step("only", "k = 'a'"),), "d").to_query()
        [('where', 'x > 1'), ('only', "k = 'a'"), ('y', 'd')]
        """
        out = [("where", self.where)] if self.where else []
        out += [(s.kind, s.sql) for s in self.steps]
        if self.value:
            out.append(("y", self.value))
        return out

    @classmethod
    def from_query(cls, pairs: Sequence[tuple[str, str]]) -> View:
        """The view from address parameters; unknown ones (the token) are ignored.

        Examples
        --------
        >>> View.from_query([("token", "t"), ("not", "a = 1"), ("where", "b")]).steps
        (Step(kind='not', sql='a = 1'),)
        """
        where = value = None
        steps: list[Step] = []
        for key, text in pairs:
            if key == "where" and text.strip():
                where = text
            elif key == "y" and text:
                value = text
            elif key in ("only", "not"):
                steps.append(Step(key, text))  # type: ignore[arg-type]
        return cls(where, tuple(steps), value)

    @classmethod
    def from_dict(cls, data: Any) -> View:
        """The view from JSON: ``{"where": ..., "steps": [[kind, sql], ...], "y": ...}``."""
        if not isinstance(data, Mapping):
            raise UsageError("the view must be a JSON object")
        where, value, steps = data.get("where"), data.get("y"), data.get("steps") or []
        if not (isinstance(where, str | None) and isinstance(value, str | None)):
            raise UsageError("where and y must be text")
        if not isinstance(steps, list) or not all(
            isinstance(s, list) and len(s) == 2 and all(isinstance(x, str) for x in s)
            for s in steps
        ):
            raise UsageError("steps must be a list of [kind, sql] pairs")
        return cls(where or None, tuple(Step(k, q) for k, q in steps), value or None)

    def to_dict(self) -> dict[str, Any]:
        """The view as JSON-ready data (the inverse of :meth:`from_dict`)."""
        return {
            "where": self.where,
            "steps": [[s.kind, s.sql] for s in self.steps],
            "y": self.value,
        }


def _and(parts: Sequence[str]) -> str | None:
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return " AND ".join(p if p.startswith(("(", "NOT (")) else f"({p})" for p in parts)


@dataclass
class Explorer:
    """The events of one source, read once and kept in memory, and the answers to views.

    Parameters
    ----------
    source
        What :func:`bubbleup.analyze` takes: paths, or a polars/pandas/pyarrow frame.
    options
        The fixed options of every view (``baseline``, ``filter``, ``weight``,
        ``columns``, ``exclude``, ``alpha``...): an :class:`~bubbleup.options.Options`, or
        its fields by name; each view sets ``where`` and adds its drill steps to ``filter``.

    Examples
    --------
    >>> ex = Explorer("sample_data/builds.parquet")
    >>> answer = ex.answer(View("exit_reason = 'oom'"))
    >>> answer["explanations"][0]["label"]
    "kernel_version = '5.15.0-91-generic' AND build_tool = 'gradle'"
    >>> print(answer["command"])
    bubbleup analyze sample_data/builds.parquet --where "exit_reason = 'oom'"
    """

    source: Source
    options: Options = field(default_factory=Options)

    def __post_init__(self) -> None:
        loaded = load(self.source, skip_bad_lines=self.options.skip_bad_lines)
        self.description = loaded.description
        # times held as numbers or text are read as times, as analyze reads them, so that
        # the heatmap has a time axis and a box's SQL means what it means to --where
        lazy, window = resolve(
            loaded.frame,
            dict(loaded.frame.collect_schema()),
            time_column=self.options.time_column,
            hint=loaded.time_column,
        )
        self.frame: pl.DataFrame = lazy.collect()
        self.schema = dict(self.frame.schema)
        name = window.column
        self.time_column = name if name and isinstance(self.schema[name], pl.Datetime) else None
        weighed = resolve_weight(self.options.weight, self.schema)[1]
        self.default_value = default_value_column(self.schema, skip=[weighed or "sample_rate"])
        self.paths = self._paths()
        self._cache: OrderedDict[View, dict[str, Any]] = OrderedDict()
        self._grids: OrderedDict[tuple[str | None, str], Grid] = OrderedDict()
        self._lock = threading.Lock()
        self._grid_lock = threading.Lock()
        self._generation = 0
        self._generation_lock = threading.Lock()
        self._scope_stats: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def _paths(self) -> list[str] | None:
        s = self.source
        if isinstance(s, str | os.PathLike):
            return [os.fspath(s)]
        if isinstance(s, list | tuple) and all(isinstance(x, str | os.PathLike) for x in s):
            return [os.fspath(x) for x in s]
        return None

    # -- the pieces of a view ------------------------------------------------------------
    def scope_text(self, view: View) -> str | None:
        """The scope of a view: the fixed ``filter`` and each drill step, as SQL."""
        base = self.options.filter
        parts = [f"({base})"] if base else []
        parts += [s.condition for s in view.steps]
        return _and(parts)

    def selection_sql(self, view: View) -> str | None:
        """The SQL that picks the view's selected events, ready to paste.

        Examples
        --------
        >>> ex = Explorer("sample_data/builds.parquet")
        >>> print(ex.selection_sql(View("exit_reason = 'oom'", (Step("not", "arch = 'x'"),))))
        SELECT * FROM events WHERE NOT (arch = 'x') AND (exit_reason = 'oom')
        """
        if not view.where:
            return None
        scope = self.scope_text(view)
        cond = f"{scope} AND ({view.where})" if scope else view.where
        return f"SELECT * FROM events WHERE {cond}"

    def options_for(self, view: View) -> Options:
        """The options of :func:`bubbleup.analyze` for a view."""
        return self.options.replace(filter=self.scope_text(view), where=view.where)

    def command(self, view: View) -> str | None:
        """The ``bubbleup analyze ...`` command that gives the view's answer, if any."""
        if self.paths is None or not view.where:
            return None
        return Origin(self.paths, self.options_for(view)).command()

    def value_column(self, view: View) -> str | None:
        """The heatmap's value column: the view's, else the default."""
        if view.value is not None:
            check_value_column(view.value, self.schema)
            return view.value
        return self.default_value

    def heatmap(self, view: View) -> Heatmap | None:
        """The heatmap of a view (``None`` without a time column or a numeric one).

        Events count with the answer's weights (the ``weight`` option). The cells of a
        scope and value column are kept
        (:class:`~bubbleup.interfaces.explore.heatmap.Grid`), so a new box over the same scope
        only counts its selection.
        """
        value = self.value_column(view)
        if self.time_column is None or value is None:
            return None
        scope_text = self.scope_text(view)
        key = (scope_text, value)
        g = self._grids.get(key)
        if g is None:
            scope = (
                compile_predicate(scope_text, self.schema, option="scope")[0]
                if scope_text
                else None
            )
            g = grid(
                self.frame,
                time_column=self.time_column,
                value_column=value,
                scope=scope,
                weight=self.options.weight,
            )
            self._grids[key] = g
            while len(self._grids) > GRIDS:
                self._grids.popitem(last=False)
        self._grids.move_to_end(key)
        if view.where:
            selected = mask(self.frame, compile_predicate(view.where, self.schema)[0])
        else:
            selected = np.zeros(self.frame.height, dtype=bool)
        baseline_text = self.options.baseline
        if not baseline_text:
            return g.heatmap(selected)
        compiled = compile_predicate(baseline_text, self.schema, option="--baseline")[0]
        base = mask(self.frame, compiled)
        return g.heatmap(selected, base & ~selected)

    def analyze(self, view: View, *, cancelled: Callable[[], bool] | None = None) -> Result:
        """Call :func:`bubbleup.analyze` on the kept events; stop early when ``cancelled``."""

        def progress(_stage: str) -> None:
            if cancelled is not None and cancelled():
                raise SupersededError("a newer view was asked for")

        with keep_scope_stats(self._scope_stats):  # a new box re-measures only its selection
            return analyze(self.frame, self.options_for(view), progress=progress)

    def answer(self, view: View, *, cancelled: Callable[[], bool] | None = None) -> dict[str, Any]:
        """The answer to a view as JSON-ready data: HTML pieces, drill actions, command."""
        out: dict[str, Any] = {
            "view": view.to_dict(),
            "command": self.command(view),
            "sql": self.selection_sql(view),
            "scope": self.scope_text(view),
            "source": show_controls(self.description),
        }
        if not view.where:
            return out
        result = self.analyze(view, cancelled=cancelled)
        names = charts.top_attributes(result, CHARTS)
        dtypes = result._dtypes()
        pieces = {
            "compared": report.compared_html(result),
            "restatements": report.restatements_html(result),
            "explanations": report.explanations_html(result, top=TOP),
            "outcomes": report.outcomes_html(result),
            "charts": report.charts_html(result, names) if names else "",
            "attributes": report.attributes_html(result),
        }
        out["html"] = {k: show_controls(v) for k, v in pieces.items()}
        out["explanations"] = [
            {"rank": r["rank"], "label": r["label"], "sql": items_sql(r["items"], dtypes)}
            for r in result.explanations.head(TOP).iter_rows(named=True)
        ]
        out["charts"] = [
            {"attribute": name, "values": _chart_values(result, name, dtypes)} for name in names
        ]
        out["result"] = result
        return out

    def heatmap_view(self, view: View) -> dict[str, Any]:
        """The heatmap of a view alone, as JSON-ready data (the page shows it at once)."""
        with self._grid_lock:
            h = self.heatmap(view)
        return {
            "view": view.to_dict(),
            "heatmap": None if h is None else h.to_dict(),
            "columns": numeric_columns(self.schema),
            "time_column": self.time_column,
            "value_column": self.value_column(view),
        }

    def view(self, view: View) -> dict[str, Any]:
        """Heatmap and answer of a view; a newer call makes an older one stop early.

        Answers are cached by view. Only one analysis runs at a time (the machine's cores
        are better spent on one count); a view that is no longer the newest when its turn
        comes raises :class:`SupersededError` instead of counting.
        """
        with self._generation_lock:
            self._generation += 1
            mine = self._generation

        def cancelled() -> bool:
            return self._generation != mine

        with self._lock:
            if view in self._cache:
                self._cache.move_to_end(view)
                return self._cache[view]
            if cancelled():
                raise SupersededError("a newer view was asked for")
            cells = self.heatmap_view(view)
            try:
                out = self.answer(view, cancelled=cancelled)
            except SupersededError:
                raise
            except BubbleupError as exc:  # shown beside the heatmap, which still helps
                out = self.answer(View(None, view.steps, view.value))
                out["view"] = view.to_dict()
                out["error"] = show_controls(str(exc).splitlines()[0])
            out.update(cells)
            self._cache[view] = out
            while len(self._cache) > CACHE:
                self._cache.popitem(last=False)
            return out


def _chart_values(result: Result, name: str, dtypes: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each bar of an attribute's chart, with the SQL that keeps or drops its events."""
    out = []
    for r in charts.histogram(result, name).iter_rows(named=True):
        item: dict[str, Any] | None
        if r["type"] == "value":
            item = {"attribute": name, "op": "=", "value": r["value"]}
        elif r["type"] == "missing":
            item = {"attribute": name, "op": "is_null"}
        elif r["type"] == "range":
            low, high = r["low"], r["high"]
            if low is None:
                item = {"attribute": name, "op": "<=", "high": high}
            elif high is None:
                item = {"attribute": name, "op": ">", "low": low}
            else:
                item = {"attribute": name, "op": "between", "low": low, "high": high}
        else:
            item = None
        sql = None if item is None else items_sql([item], dtypes)
        out.append({"label": show_controls(str(r["value"])), "sql": sql})
    return out
