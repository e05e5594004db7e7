"""The six tools as plain Python: each one library call and a bounded answer."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from bubbleup.errors import UsageError
from bubbleup.interfaces.mcpserver.limits import (
    DEFAULT_TOP,
    MAX_ATTRIBUTES,
    MAX_COLUMNS,
    MAX_OUTPUT,
    MAX_RESULTS,
    MAX_ROW_COLUMNS,
    MAX_ROWS,
    MAX_TOP,
    MAX_VALUES,
    bound,
    cut,
)
from bubbleup.interfaces.mcpserver.roots import Roots, list_sources
from bubbleup.options import Options
from bubbleup.outputs import render
from bubbleup.pipeline.result import Result


class Results:
    """The last :data:`MAX_RESULTS` Results, by id, least recently used dropped first."""

    def __init__(self, size: int = MAX_RESULTS) -> None:
        self.size = size
        self._items: OrderedDict[str, Result] = OrderedDict()
        self._next = 1
        self._lock = threading.Lock()

    def add(self, result: Result) -> str:
        """Keep ``result``; return its new id."""
        with self._lock:
            key = f"r{self._next}"
            self._next += 1
            self._items[key] = result
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return key

    def get(self, key: str) -> Result:
        """The Result with id ``key`` (a tool error if it is unknown or was dropped)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            kept = ", ".join(self._items) or "none yet"
        raise UsageError(
            f"no result {cut(key, 40)!r}; the server keeps the last {self.size} results "
            f"(now: {kept}); run analyze again"
        )


def _check_top(top: int) -> None:
    if not 1 <= top <= MAX_TOP:
        raise UsageError(f"top must be between 1 and {MAX_TOP}, not {top}")


def summary(result: Result) -> str:
    """One plain-language line: the comparison, the first explanation, how many are significant.

    Examples
    --------
    >>> import bubbleup
    >>> r = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
    >>> print(summary(r))  # doctest: +ELLIPSIS
    2,421 selected events (exit_reason = 'oom') vs 197,579 baseline events (NOT (...)): \
first, kernel_version = '5.15.0-91-generic' AND build_tool = 'gradle' in 86.0% of the \
selection and 0.3% of the baseline (259x, q < 1e-300); ... explanations tested are significant.
    """
    t = result.totals
    ex = result.explanations
    head = (
        f"{t.selection_events:,} selected events ({cut(result.where)}) vs "
        f"{t.baseline_events:,} baseline events ({cut(result.baseline)})"
    )
    if ex.height == 0:
        return f"{head}: no explanation was tested."
    r = ex.row(0, named=True)
    q = render.pvalue(r["q_value"])
    q = f"q < {q[1:]}" if q.startswith("<") else f"q = {q}"
    n_sig = int(ex["significant"].sum())
    tested = result.parameters.get("tested", ex.height)
    return (
        f"{head}: first, {cut(r['label'])} in {render.percent(r['selection_share'])} of the "
        f"selection and {render.percent(r['baseline_share'])} of the baseline "
        f"({render.lift_text(r['lift'])}, {q}); "
        f"{n_sig:,} of {tested:,} explanations tested are significant."
    )


def result_doc(result: Result, key: str, *, top: int) -> dict[str, Any]:
    """The bounded answer of ``analyze`` and ``drill``: :meth:`Result.to_dict` and an id.

    Every key of the JSON document is kept (new keys appear by themselves); its lists
    are cut by :func:`bound`. ``attributes`` are sorted by distance, so the first
    :data:`MAX_ATTRIBUTES` are those that differ most.
    """
    _check_top(top)
    doc = result.to_dict(top=top)
    head = {
        "result_id": key,
        "explanations_total": result.explanations.height,
        "attributes_total": result.attributes.height,
    }
    caps = {"attributes": MAX_ATTRIBUTES, "buckets": 48}
    # the summary is ours (at most about 1,000 characters, data in it cut), not cut again
    out = bound({**head, **doc}, caps=caps, limit=MAX_OUTPUT - 1_000)
    return {"result_id": key, "summary": summary(result), **out}


@dataclass
class Tools:
    """The tools as plain functions over :class:`Roots` and :class:`Results`.

    Each returns JSON data or raises :class:`~bubbleup.errors.BubbleupError`;
    :func:`build_server` turns them into MCP tools.

    Examples
    --------
    >>> tools = Tools(Roots(["sample_data"]))
    >>> out = tools.analyze("builds.parquet", where="exit_reason = 'oom'", top=1)
    >>> out["result_id"], out["explanations"][0]["label"]
    ('r1', "kernel_version = '5.15.0-91-generic' AND build_tool = 'gradle'")
    >>> tools.value_counts("r1", "build_tool", top=2)["values"][0]["value"]
    'gradle'
    """

    roots: Roots
    results: Results = field(default_factory=Results)

    def list_sources(self) -> dict[str, Any]:
        """See :func:`list_sources`."""
        return list_sources(self.roots)

    def describe_columns(
        self, source: str, *, offset: int = 0, max_columns: int = MAX_COLUMNS
    ) -> dict[str, Any]:
        """What ``bubbleup columns`` shows, :data:`MAX_COLUMNS` columns at a time."""
        from bubbleup.pipeline.columns import describe_columns

        if not 1 <= max_columns <= MAX_COLUMNS:
            raise UsageError(f"max_columns must be between 1 and {MAX_COLUMNS}, not {max_columns}")
        if offset < 0:
            raise UsageError(f"offset must be 0 or more, not {offset}")
        path = self.roots.source(source)
        frame = describe_columns(path)
        part = frame.slice(offset, max_columns)
        doc = {
            "source": path,
            "columns_total": frame.height,
            "offset": offset,
            "columns": part.to_dicts(),
        }
        if offset + part.height < frame.height:
            doc["next_offset"] = offset + part.height
        return bound(doc, caps={"columns": MAX_COLUMNS})

    def analyze(
        self,
        source: str,
        *,
        where: str | None = None,
        baseline: str | None = None,
        filter: str | None = None,
        weight: str | None = None,
        no_weight: bool = False,
        columns: list[str] | None = None,
        exclude: list[str] | None = None,
        outcomes: list[str] | None = None,
        context: list[str] | None = None,
        time_column: str | None = None,
        since: str | None = None,
        until: str | None = None,
        after: str | None = None,
        max_order: int = 3,
        top: int = DEFAULT_TOP,
    ) -> dict[str, Any]:
        """Run :func:`bubbleup.analyze` on a source under the roots; keep the Result."""
        from bubbleup.pipeline.analyze import analyze

        _check_top(top)
        if weight is not None and no_weight:
            raise UsageError("weight and no_weight exclude each other; give one")
        options = Options(
            where=where,
            baseline=baseline,
            filter=filter,
            weight=False if no_weight else weight,
            columns=columns or None,
            exclude=exclude or None,
            outcomes=outcomes or None,
            context=context or None,
            max_order=max_order,
            time_column=time_column,
            since=since,
            until=until,
            after=after,
        )
        path = self.roots.source(source)
        result = analyze(path, options)
        return result_doc(result, self.results.add(result), top=top)

    def drill(self, result_id: str, explanation: int, *, top: int = DEFAULT_TOP) -> dict[str, Any]:
        """:meth:`Result.drill` into explanation N of an earlier result; keep the new one."""
        _check_top(top)
        result = self.results.get(result_id).drill(explanation)
        return result_doc(result, self.results.add(result), top=top)

    def example_rows(
        self,
        result_id: str,
        *,
        explanation: int | None = None,
        columns: list[str] | None = None,
        limit: int = 5,
        seed: int = 0,
    ) -> dict[str, Any]:
        """:meth:`Result.rows`: a few events from each side, the chosen columns only."""
        if not 1 <= limit <= MAX_ROWS:
            raise UsageError(f"limit must be between 1 and {MAX_ROWS}, not {limit}")
        result = self.results.get(result_id)
        frame = result.rows(explanation=explanation, limit=limit, seed=seed)
        side, names = frame.columns[0], frame.columns[1:]
        if columns:
            from bubbleup.errors import ColumnError, did_you_mean

            for name in columns:
                if name not in names:
                    raise ColumnError(
                        f"column '{cut(name, 80)}' not found{did_you_mean(name, names)}"
                    )
            names = list(dict.fromkeys(columns))
        shown = names[:MAX_ROW_COLUMNS]
        rows = json.loads(frame.select(side, *shown).write_json())
        doc: dict[str, Any] = {
            "result_id": result_id,
            "explanation": explanation,
            "columns": shown,
            "columns_total": len(names),
        }
        if explanation is not None:
            doc["label"] = result.explanations["label"][explanation - 1]
        for name in ("selection", "baseline"):
            doc[name] = [{k: v for k, v in r.items() if k != side} for r in rows if r[side] == name]
        if len(shown) < len(names):
            doc["truncated"] = {"columns": f"kept {len(shown)} of {len(names)}; pass columns"}
        return bound(doc, caps={"selection": MAX_ROWS, "baseline": MAX_ROWS})

    def value_counts(self, result_id: str, attribute: str, *, top: int = 8) -> dict[str, Any]:
        """:meth:`Result.histogram`: one attribute's shares in the selection and baseline."""
        if not 1 <= top <= MAX_VALUES:
            raise UsageError(f"top must be between 1 and {MAX_VALUES}, not {top}")
        result = self.results.get(result_id)
        frame = result.histogram(attribute, top=top)
        row = result.attributes.filter(pl.col("attribute") == attribute).row(0, named=True)
        doc = {
            "result_id": result_id,
            "attribute": attribute,
            "kind": row["kind"],
            "distance": row["distance"],
            "values": frame.to_dicts(),
        }
        return bound(doc, caps={"values": MAX_VALUES + 1})
