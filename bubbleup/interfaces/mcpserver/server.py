"""The MCP server: the tools over stdio or streamable HTTP (127.0.0.1, a token)."""

import asyncio
import hmac
import json
import os
import secrets
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from bubbleup.errors import BubbleupError, UsageError, first_line
from bubbleup.interfaces.mcpserver.limits import (
    DEFAULT_TOP,
    INSTALL_HINT,
    MAX_BUSY,
    MAX_COLUMNS,
    MAX_ROW_COLUMNS,
    MAX_ROWS,
    MAX_TOP,
    MAX_VALUES,
    TIMEOUT,
    TOKEN_VARIABLE,
    cut,
)
from bubbleup.interfaces.mcpserver.roots import Roots
from bubbleup.interfaces.mcpserver.tools import Tools


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


def _settle(future: asyncio.Future[dict[str, Any]], value: Any, exc: BaseException | None) -> None:
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
        raise BubbleupError(INSTALL_HINT) from None
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
