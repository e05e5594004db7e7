"""``bubbleup mcp``: a Model Context Protocol server over the events in a few folders.

An assistant (Claude Code, Cursor, an on-call bot) gets bubbleup as six tools:
``list_sources``, ``describe_columns``, ``analyze``, ``example_rows``, ``drill`` and
``value_counts``. Each tool makes the same library call the CLI makes
(:func:`bubbleup.analyze`, :func:`bubbleup.describe_columns`, :meth:`Result.rows`,
:meth:`Result.drill`, :meth:`Result.histogram`) and returns a bounded part of
:meth:`Result.to_dict`, so the server has no analysis of its own.

Safety
------
- Only files under the ``--root`` folders are read: every path is resolved (symlinks,
  ``..``) and every file a glob or folder names is checked before the library reads it
  (:class:`Roots`). Nothing is written.
- Predicates go to :func:`bubbleup.analyze` as text and are compiled (and gated) there,
  as for the CLI; nothing is evaluated here.
- Every tool call runs in a worker thread for at most ``timeout`` seconds
  (:data:`TIMEOUT`). A call that runs out of time gets a tool error at once; its work
  cannot be interrupted (polars has no cancellation), so the thread runs on until it
  ends and its answer is dropped. At most :data:`MAX_BUSY` calls run at a time, the
  abandoned ones included; past that a call is refused until one ends.
- Outputs are bounded (:func:`bound`): at most :data:`MAX_TOP` explanations,
  :data:`MAX_ATTRIBUTES` attributes, :data:`MAX_LIST` entries in any other list,
  :data:`MAX_TEXT` characters in any string from the data (cut with a marker), and
  :data:`MAX_OUTPUT` characters of JSON per tool result, whatever the source.
- Results are kept in memory, the last :data:`MAX_RESULTS` of them, under ids
  (``r1``, ``r2``...) that ``example_rows``, ``drill`` and ``value_counts`` take.
- An error is a tool error (``isError``) whose text is the one line the CLI prints after
  ``Error:``; the server keeps answering.

The SDK (``pip install 'bubbleup[mcp]'``) is imported only by :func:`build_server` and
:func:`serve`; the rest of this module works without it.
"""

import asyncio
import glob as globlib
import hmac
import json
import math
import os
import re
import secrets
import sys
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import polars as pl

from bubbleup.errors import BubbleupError, SourceError, UsageError, first_line
from bubbleup.io.paths import FORMATS, expand, is_event_file, kind_of
from bubbleup.options import Options
from bubbleup.outputs import render
from bubbleup.pipeline.result import Result

#: Explanations an ``analyze`` or ``drill`` answer may show (``top`` above is an error).
MAX_TOP = 50
#: Explanations shown when ``top`` is not given.
DEFAULT_TOP = 10
#: Attributes listed in an answer (by distance; ``value_counts`` reaches any of them).
MAX_ATTRIBUTES = 25
#: Entries kept in any other list of an answer (left-out columns, aliases...).
MAX_LIST = 50
#: Characters kept of any string; the rest is replaced by a marker saying how many.
MAX_TEXT = 200
#: Columns ``describe_columns`` describes per call (``offset`` pages through the rest).
MAX_COLUMNS = 100
#: Events per side ``example_rows`` returns, and columns per event.
MAX_ROWS = 20
MAX_ROW_COLUMNS = 40
#: Values ``value_counts`` returns.
MAX_VALUES = 50
#: Entries ``list_sources`` returns, and directory entries it looks at.
MAX_SOURCES = 200
MAX_SCANNED = 20_000
#: Characters of JSON in one tool result (sent as text and as structured content).
MAX_OUTPUT = 40_000
#: Results kept for ``example_rows``, ``drill`` and ``value_counts``.
MAX_RESULTS = 16
#: Seconds a tool call may run by default.
TIMEOUT = 120.0
#: Tool calls running at once, abandoned ones included.
MAX_BUSY = 2
#: The token for ``--http`` is read from this variable when it is set.
TOKEN_VARIABLE = "BUBBLEUP_MCP_TOKEN"

_INSTALL = "bubbleup mcp needs the MCP SDK; install it with: pip install 'bubbleup[mcp]'"


# -- bounding ----------------------------------------------------------------------------
def cut(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, with a marker saying how many were cut.

    Examples
    --------
    >>> cut("abcdef", 3)
    'abc…[3 more characters]'
    >>> cut("abc", 3)
    'abc'
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[{len(text) - limit:,} more characters]"


def _plain(value: Any) -> Any:
    """``value`` as JSON data: strings cut, non-finite floats as text, lists kept whole."""
    if isinstance(value, str):
        return cut(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return cut(str(value))


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False))


def _lists(value: Any, path: str = "") -> Iterator[tuple[str, list[Any]]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _lists(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        if path:
            yield path, value
        for i, v in enumerate(value):
            yield from _lists(v, f"{path}[{i}]")


def bound(
    doc: dict[str, Any],
    *,
    caps: dict[str, int] | None = None,
    limit: int = MAX_OUTPUT,
) -> dict[str, Any]:
    """``doc`` made small enough to hand to a model, and a ``truncated`` note of what went.

    Strings are cut to :data:`MAX_TEXT` characters; each list is cut to its cap
    (``caps`` by dotted key, else :data:`MAX_LIST`); then, while the JSON is longer than
    ``limit`` characters, the longest list is halved. Every cut list is named in
    ``doc["truncated"]`` with how many entries were kept.

    Examples
    --------
    >>> out = bound({"a": list(range(80)), "b": "x" * 300}, caps={"a": 10})
    >>> len(out["a"]), out["truncated"]
    (10, {'a': 'kept 10 of 80'})
    >>> out["b"][-22:]
    '…[100 more characters]'
    """
    caps = caps or {}
    out: dict[str, Any] = _plain(doc)
    notes: dict[str, str] = dict(out.pop("truncated", None) or {})
    totals: dict[int, int] = {}

    def shorten(path: str, items: list[Any], keep: int) -> None:
        total = totals.setdefault(id(items), len(items))
        del items[keep:]
        notes[path] = f"kept {keep:,} of {total:,}"

    for path, items in list(_lists(out)):
        cap = caps.get(path, caps.get(path.split(".")[-1].split("[")[0], MAX_LIST))
        if len(items) > cap:
            shorten(path, items, cap)
    while _size({**out, "truncated": notes}) > limit:
        candidates = [(_size(v), p, v) for p, v in _lists(out) if len(v) > 1]
        if not candidates:
            raise UsageError(f"the answer is larger than {limit:,} characters even when cut")
        _, path, items = max(candidates, key=lambda c: c[0])
        shorten(path, items, len(items) // 2)
    if notes:
        out["truncated"] = notes
    return out


# -- roots -------------------------------------------------------------------------------
def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class Roots:
    """The folders the server may read, and the check every path goes through.

    Examples
    --------
    >>> roots = Roots(["sample_data"])
    >>> roots.source("builds.parquet").endswith("sample_data/builds.parquet")
    True
    >>> roots.source("../README.md")
    Traceback (most recent call last):
    ...
    bubbleup.errors.SourceError: ../README.md is outside the served roots; ...
    """

    def __init__(self, folders: Sequence[str]) -> None:
        if not folders:
            raise UsageError("give at least one --root folder whose event files may be read")
        resolved: list[str] = []
        for folder in folders:
            real = os.path.realpath(folder)
            if not os.path.isdir(real):
                raise UsageError(f"--root {folder} is not a folder; give an existing folder")
            if real not in resolved:
                resolved.append(real)
        self.folders: tuple[str, ...] = tuple(resolved)

    def contains(self, path: str) -> bool:
        """Whether ``path``, with its symlinks and ``..`` resolved, is under a root."""
        real = os.path.realpath(path)
        return any(_inside(real, root) for root in self.folders)

    def _refuse(self, path: str) -> SourceError:
        return SourceError(
            f"{cut(path)} is outside the served roots; only files under "
            f"{', '.join(self.folders)} can be read (see list_sources)"
        )

    def source(self, path: str) -> str:
        """The path to hand to the library for ``path``, once everything it names is inside.

        A relative path is taken under each root in turn (the first where it exists or,
        for a glob, matches);
        a glob or folder is expanded and each of its files checked, symlinks resolved.
        """
        text = path.strip()
        if not text:
            raise SourceError("give a source: a file, folder or glob under the roots")
        if "\x00" in text:
            raise SourceError("a source path cannot contain a NUL character")
        is_glob = any(ch in text for ch in "*?[")
        if os.path.isabs(text):
            candidates = [text]
        else:
            candidates = [os.path.join(root, text) for root in self.folders]
        chosen = candidates[0]
        for candidate in candidates:
            # the part before the first wildcard must stay inside (the matches are checked too)
            fixed = re.split(r"[*?\[]", candidate, maxsplit=1)[0] if is_glob else candidate
            if not self.contains(fixed or os.sep):
                raise self._refuse(text)
            found = globlib.glob(candidate, recursive=True) if is_glob else None
            if found or os.path.exists(candidate):
                chosen = candidate
                break
        if not os.path.exists(chosen) and not is_glob:
            raise SourceError(f"file not found: {cut(text)} (under {', '.join(self.folders)})")
        for file in expand(chosen):
            if not self.contains(file):
                raise self._refuse(file if not is_glob else f"{file} (matched by {text})")
        return chosen if is_glob or os.path.isdir(chosen) else os.path.realpath(chosen)


def _parquet_rows(path: str) -> int | None:
    try:
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception:  # an unreadable file: its events are not cheap to know
        return None


def list_sources(roots: Roots) -> dict[str, Any]:
    """The event files and folders of event files under the roots.

    Each entry has ``path`` (absolute, to pass to the other tools), ``kind`` (``file``
    or ``folder``), ``format`` (or ``mixed``), ``bytes``, ``files`` and ``events`` where
    it is cheap to know (Parquet footers), else null. Symlinks that lead out of the roots
    are left out, hidden files and folders too.

    Examples
    --------
    >>> out = list_sources(Roots(["sample_data"]))
    >>> [(s["kind"], s["format"], s["events"]) for s in out["sources"]]
    [('folder', 'parquet', 200000), ('file', 'parquet', 200000)]
    """
    files: list[dict[str, Any]] = []
    folders: dict[str, dict[str, Any]] = {}
    scanned = 0
    complete = True
    for root in roots.folders:
        for here, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
            for name in sorted(names):
                scanned += 1
                if scanned > MAX_SCANNED:
                    complete = False
                    break
                path = os.path.join(here, name)
                if not is_event_file(path) or not roots.contains(path):
                    continue
                try:
                    fmt = kind_of(path).format
                    size = os.path.getsize(path)
                except (BubbleupError, OSError):
                    continue
                events = _parquet_rows(path) if fmt == "parquet" else None
                files.append(
                    {
                        "path": path,
                        "kind": "file",
                        "format": fmt,
                        "bytes": size,
                        "files": 1,
                        "events": events,
                    }
                )
                folder = here
                while _inside(folder, root):
                    entry = folders.setdefault(
                        folder,
                        {
                            "path": folder,
                            "kind": "folder",
                            "format": fmt,
                            "bytes": 0,
                            "files": 0,
                            "events": 0,
                        },
                    )
                    entry["bytes"] += size
                    entry["files"] += 1
                    entry["format"] = fmt if entry["format"] == fmt else "mixed"
                    entry["events"] = (
                        None
                        if events is None or entry["events"] is None
                        else entry["events"] + events
                    )
                    if folder == root:
                        break
                    folder = os.path.dirname(folder)
            if not complete:
                break
    sources = sorted(folders.values(), key=lambda s: s["path"]) + files
    doc: dict[str, Any] = {
        "roots": list(roots.folders),
        "formats": sorted(set(FORMATS.values())),
        "sources": sources,
    }
    if not complete:
        doc["truncated"] = {"scan": f"stopped after {MAX_SCANNED:,} directory entries"}
    return bound(doc, caps={"sources": MAX_SOURCES})


# -- results -----------------------------------------------------------------------------
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


# -- tools -------------------------------------------------------------------------------
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


# -- the MCP server ----------------------------------------------------------------------
class Busy:
    """Runs tool calls in worker threads: at most :data:`MAX_BUSY` at once, each timed."""

    def __init__(self, timeout: float, size: int = MAX_BUSY) -> None:
        self.timeout = timeout
        self.size = size
        self._slots = threading.BoundedSemaphore(size)

    async def run(self, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``work()`` in a thread; :class:`UsageError` if it takes longer than ``timeout``."""
        if not self._slots.acquire(blocking=False):
            raise UsageError(
                f"the server is busy: {self.size} earlier calls are still running (calls "
                "that ran out of time finish in the background); try again shortly"
            )
        loop = asyncio.get_running_loop()
        done: asyncio.Future[dict[str, Any]] = loop.create_future()
        # an abandoned call's error is retrieved here, so asyncio does not log it
        done.add_done_callback(lambda f: f.cancelled() or f.exception())

        def job() -> None:
            try:
                value = work()
            except BaseException as exc:  # handed to the waiting call, if still waiting
                loop.call_soon_threadsafe(_settle, done, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, done, value, None)
            finally:
                self._slots.release()

        threading.Thread(target=job, name="bubbleup-mcp-tool", daemon=True).start()
        try:
            return await asyncio.wait_for(asyncio.shield(done), self.timeout)
        except TimeoutError:
            raise UsageError(
                f"the call took longer than {self.timeout:g} s and was abandoned (its work "
                "finishes in the background and is dropped); narrow it: fewer columns, "
                "max_order 1, a smaller source, or start the server with a larger --timeout"
            ) from None


def _settle(
    future: "asyncio.Future[dict[str, Any]]", value: Any, exc: BaseException | None
) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, BubbleupError):
        return cut(first_line(exc), 1000)
    return f"internal error ({type(exc).__name__}): {cut(first_line(exc), 500)}; please report it"


_INSTRUCTIONS = """\
bubbleup ranks what a selection of "weird" events has in common versus the other events:
attribute values, value ranges and combinations much more common in the selection.
Typical use: list_sources -> describe_columns (to learn column names and values) ->
analyze with `where` (a SQL condition marking the weird events) -> read explanations
(rank 1 first; significant ones have q < alpha) -> example_rows / value_counts / drill
on the result_id it returns. Predicates are SQL WHERE conditions: text in single quotes,
names with dots or spaces in double quotes ("http.route" = '/checkout')."""

# JSON-schema descriptions shared by the tools.
_SOURCE = (
    "An event file, folder or glob under the served roots, as list_sources gives it "
    "(absolute) or relative to a root: Parquet, CSV, NDJSON, OTLP JSON or Arrow."
)
_RESULT_ID = "The result_id an earlier analyze or drill returned (e.g. 'r1')."
_EXPLANATION = "Rank of an explanation in that result (1 = first)."


def build_server(tools: Tools, *, timeout: float = TIMEOUT) -> Any:
    """The MCP server (an SDK ``MCPServer``) with the six tools over ``tools``."""
    try:
        from mcp.server.mcpserver import MCPServer
        from mcp.server.mcpserver.exceptions import ToolError
        from mcp.types import CallToolResult, TextContent, ToolAnnotations
        from pydantic import Field, ValidationError
    except ImportError:
        raise BubbleupError(_INSTALL) from None
    from bubbleup._version import __version__

    class Server(MCPServer):
        """The SDK's server; arguments that do not fit a tool's schema get a one-line error."""

        async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
            try:
                return await super().call_tool(name, arguments, context)
            except ToolError as exc:
                if not isinstance(exc.__cause__, ValidationError):
                    raise
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                    for e in exc.__cause__.errors()
                )
                raise ToolError(cut(f"bad arguments for {name}: {problems}", 1000)) from None

    busy = Busy(timeout)
    server = Server(
        "bubbleup", instructions=_INSTRUCTIONS, version=__version__, log_level="WARNING"
    )
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    Out = Annotated[CallToolResult, dict[str, Any]]  # noqa: N806 (a type)

    async def call(work: Callable[[], dict[str, Any]]) -> CallToolResult:
        try:
            doc = await busy.run(work)
        except Exception as exc:
            if not isinstance(exc, BubbleupError):  # a bug: its traceback goes to the log
                traceback.print_exception(exc, file=sys.stderr)
            text = _error_text(exc)
            return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        text = json.dumps(doc, ensure_ascii=False, allow_nan=False)
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=doc)

    def top_field(default: int, most: int, what: str) -> Any:
        return Field(
            default=default,
            description=f"How many {what} to return, 1 to {most}.",
            json_schema_extra={"minimum": 1, "maximum": most},
        )

    @server.tool(annotations=read_only)
    async def list_sources() -> Out:
        """List the event files and folders the server may read (only those under its roots).

        Returns `roots` and `sources`: each with `path` (pass it as `source` to the other
        tools), `kind` (file or folder: a folder is read as one source, all its files
        together), `format`, `bytes`, `files` and `events` (row count where cheap to
        know, else null)."""
        return await call(tools.list_sources)

    @server.tool(annotations=read_only)
    async def describe_columns(
        source: Annotated[str, Field(description=_SOURCE)],
        offset: Annotated[
            int, Field(description="Skip this many columns (to page through wide sources).")
        ] = 0,
        max_columns: Annotated[int, top_field(MAX_COLUMNS, MAX_COLUMNS, "columns")] = MAX_COLUMNS,
    ) -> Out:
        """Describe a source's columns, to learn what to write in `where`: for each column
        its `type`, `kind` (how bubbleup treats it: categorical, boolean, numeric, numeric
        (ranges), time, list, nested), `distinct` (estimated, missing counts as a value),
        `missing` (share of events) and `example` (most common value). Nested fields appear
        under dotted names (quote them in SQL: "http.route"). Wide sources come in pages:
        pass `next_offset` as `offset`."""
        return await call(
            lambda: tools.describe_columns(source, offset=offset, max_columns=max_columns)
        )

    @server.tool(annotations=read_only)
    async def analyze(
        *,
        source: Annotated[str, Field(description=_SOURCE)],
        where: Annotated[
            str | None,
            Field(
                description="SQL condition that selects the weird events, e.g. "
                '"exit_reason = \'oom\'" or "status_code >= 500 AND duration_ms > 2000". '
                "Optional only with `after`."
            ),
        ] = None,
        baseline: Annotated[
            str | None,
            Field(
                description="SQL condition for the events to compare with (default: "
                "every other event in scope)."
            ),
        ] = None,
        filter: Annotated[
            str | None,
            Field(description="SQL condition that limits both sides (the scope)."),
        ] = None,
        weight: Annotated[
            str | None,
            Field(
                description="Column of per-event weights (sample rates); default: a "
                "sample_rate column if present."
            ),
        ] = None,
        no_weight: Annotated[
            bool, Field(description="Count every event once, even with a sample_rate column.")
        ] = False,
        columns: Annotated[
            list[str] | None,
            Field(description="Only these columns (names or globs such as 'resource.*')."),
        ] = None,
        exclude: Annotated[
            list[str] | None, Field(description="Leave out these columns (names or globs).")
        ] = None,
        outcomes: Annotated[
            list[str] | None,
            Field(
                description="Outcome columns (names or globs): what happened to the event "
                "(status, errors, durations); described, never used as explanations."
            ),
        ] = None,
        context: Annotated[
            list[str] | None,
            Field(
                description="Context columns (names or globs): candidate causes such as "
                "host, version, region, customer; overrides the automatic choice."
            ),
        ] = None,
        time_column: Annotated[
            str | None, Field(description="The events' time column (default: detected).")
        ] = None,
        since: Annotated[
            str | None, Field(description="Only events at or after this ISO 8601 time.")
        ] = None,
        until: Annotated[
            str | None, Field(description="Only events before this ISO 8601 time.")
        ] = None,
        after: Annotated[
            str | None,
            Field(
                description="Before/after mode: select the events at or after this ISO "
                "8601 time (and `where`); the baseline is the same length of time before."
            ),
        ] = None,
        max_order: Annotated[
            int,
            Field(
                description="Most conditions per explanation: 1 (single values and "
                "ranges), 2 or 3 (combinations).",
                json_schema_extra={"enum": [1, 2, 3]},
            ),
        ] = 3,
        top: Annotated[int, top_field(DEFAULT_TOP, MAX_TOP, "explanations")] = DEFAULT_TOP,
    ) -> Out:
        """Find what the selected (weird) events have in common that the baseline events
        do not. Returns `result_id` (for example_rows, value_counts, drill), a one-line
        `summary`, and the ranked `explanations`: each with `label` (SQL-like), `items`,
        `selection_share` and `baseline_share` (weighted shares of each side having it),
        `lift` (their ratio), `q_value` (false discovery rate), `significant`,
        `explained_by` (label of a better explanation that accounts for it, or null), `aliases`
        (same events, other names). Also `attributes` (per column: `distance`, how much
        its values differ between the sides), `selection`/`baseline` totals, `left_out`
        columns with the reason, `timeline`, and `restatements`/`outcomes` where present.
        Read explanations that are significant with explained_by null first. Lists are
        cut to bounded sizes; `truncated` says what was cut."""
        return await call(
            lambda: tools.analyze(
                source,
                where=where,
                baseline=baseline,
                filter=filter,
                weight=weight,
                no_weight=no_weight,
                columns=columns,
                exclude=exclude,
                outcomes=outcomes,
                context=context,
                time_column=time_column,
                since=since,
                until=until,
                after=after,
                max_order=max_order,
                top=top,
            )
        )

    @server.tool(annotations=read_only)
    async def example_rows(
        result_id: Annotated[str, Field(description=_RESULT_ID)],
        explanation: Annotated[
            int | None,
            Field(
                description=_EXPLANATION + " Only events matching it, on both sides; "
                "omit for any events of the selection and the baseline."
            ),
        ] = None,
        columns: Annotated[
            list[str] | None,
            Field(
                description="Columns to show (default: the explanation's and the most "
                f"different attributes first, at most {MAX_ROW_COLUMNS})."
            ),
        ] = None,
        limit: Annotated[int, top_field(5, MAX_ROWS, "events per side")] = 5,
        seed: Annotated[int, Field(description="Another seed shows other events.")] = 0,
    ) -> Out:
        """Show a few real events from the selection and from the baseline of an earlier
        result (inside one explanation if given), to see what such an event looks like.
        Returns `selection` and `baseline`, lists of events as column -> value."""
        return await call(
            lambda: tools.example_rows(
                result_id, explanation=explanation, columns=columns, limit=limit, seed=seed
            )
        )

    @server.tool(annotations=read_only)
    async def drill(
        result_id: Annotated[str, Field(description=_RESULT_ID)],
        explanation: Annotated[int, Field(description=_EXPLANATION)],
        top: Annotated[int, top_field(DEFAULT_TOP, MAX_TOP, "explanations")] = DEFAULT_TOP,
    ) -> Out:
        """Analyse again inside explanation N of an earlier result: its conditions are added
        to the scope of both sides, so the answer says what else the selected events
        inside N share that the baseline events inside N do not. Returns a new result
        (new result_id), shaped like analyze's."""
        return await call(lambda: tools.drill(result_id, explanation, top=top))

    @server.tool(annotations=read_only)
    async def value_counts(
        result_id: Annotated[str, Field(description=_RESULT_ID)],
        attribute: Annotated[
            str, Field(description="A column analysed in that result (see its attributes).")
        ],
        top: Annotated[int, top_field(8, MAX_VALUES, "values")] = 8,
    ) -> Out:
        """One attribute's distribution in the selection beside the baseline's, from an
        earlier result: `values`, each with `value`, `type` (value, range, missing, other),
        `selection_share`/`baseline_share` (each side adds up to 1) and weighted counts.
        Categorical attributes keep the `top` values and fold the rest into `other`;
        numeric ones list every value or range in order."""
        return await call(lambda: tools.value_counts(result_id, attribute, top=top))

    return server


class _TokenCheck:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>``."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = b"missing or wrong token: send the header Authorization: Bearer <token>"
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def serve(folders: Sequence[str], *, http: int | None = None, timeout: float = TIMEOUT) -> None:
    """Serve the tools over stdio, or over streamable HTTP on 127.0.0.1:``http``.

    Over HTTP every request must carry ``Authorization: Bearer <token>``: the token is
    ``$BUBBLEUP_MCP_TOKEN`` or a random one printed on stderr; the SDK checks the Host
    and Origin headers (DNS rebinding).
    """
    if timeout <= 0:
        raise UsageError(f"--timeout must be more than 0 seconds, not {timeout:g}")
    if http is not None and not 0 < http < 65536:
        raise UsageError(f"--http must be a port number from 1 to 65535, not {http}")
    server = build_server(Tools(Roots(folders)), timeout=timeout)
    if http is None:
        server.run("stdio")
        return
    import anyio
    import uvicorn

    token = os.environ.get(TOKEN_VARIABLE) or secrets.token_urlsafe(24)
    app = _TokenCheck(server.streamable_http_app(host="127.0.0.1"), token)
    shown = "$" + TOKEN_VARIABLE if os.environ.get(TOKEN_VARIABLE) else token
    print(
        f"bubbleup mcp: http://127.0.0.1:{http}/mcp (header Authorization: Bearer {shown})",
        file=sys.stderr,
        flush=True,
    )
    config = uvicorn.Config(app, host="127.0.0.1", port=http, log_level="warning")
    anyio.run(uvicorn.Server(config).serve)
