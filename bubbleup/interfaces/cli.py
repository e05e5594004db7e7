"""The command line: each command parses options, makes one library call, renders.

Errors the library raises (:class:`bubbleup.BubbleupError`) become one line
``Error: ...`` on stderr with exit code 1 (2 for bad usage); data goes to stdout.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bubbleup._interrupt import end_startup, give_sigint_to_the_event_loop, quiet_interrupts
from bubbleup._version import __version__
from bubbleup.errors import BubbleupError, UsageError
from bubbleup.options import (
    DEFAULTS,
    OPTION_FLAGS,
    OUTPUT,
    PANELS,
    SELECTION,
    Options,
    command_line_names,
)
from bubbleup.printable import printable

if TYPE_CHECKING:  # polars, the pipeline and the outputs load in the commands that use them
    import polars as pl

    from bubbleup.pipeline.result import Result


err = Console(stderr=True, highlight=False, markup=False, emoji=False)
#: Characters of an error message shown (messages quote predicates and names from data).
MESSAGE_CHARS = 2000
#: Characters of one value shown in the ``rows`` and ``columns`` tables.
CELL_CHARS = 40

#: Largest --top (0 shows all); more would overflow polars' row counts.
MAX_TOP = 1_000_000_000


def _quick_help(option: Any) -> Any:
    """``--help`` defaulting to ``False``, not ``None``: typer coerces a flag's value that is
    not a bool through pydantic (imported for it: ~0.1 s), and every command's ``--help``,
    given or not, is processed at each call (the app's too when a command runs)."""
    if option is not None and option.default is None:
        option.default = False
    return option


class QuickGroup(typer.core.TyperGroup):
    """The app's group, whose ``--help`` defaults to ``False`` (see :func:`_quick_help`)."""

    def get_help_option(self, ctx: Any) -> Any:
        """The ``--help`` option, defaulting to ``False``."""
        return _quick_help(super().get_help_option(ctx))


class PanelCommand(typer.core.TyperCommand):
    """A command whose plain-text ``--help`` groups options by their ``rich_help_panel``.

    The app keeps ``rich_markup_mode=None`` (help texts hold ``bubbleup[spark]`` and
    ``local[4]``, which Rich markup would swallow, and plain help reads the same in a pipe),
    where typer lists every option in one section; this draws one section per panel.
    """

    def get_help_option(self, ctx: Any) -> Any:
        """The ``--help`` option, defaulting to ``False`` (see :func:`_quick_help`)."""
        return _quick_help(super().get_help_option(ctx))

    def format_options(self, ctx: Any, formatter: Any) -> None:
        """Write the arguments, then the options panel by panel (``PANELS`` order)."""
        sections: dict[str, list[tuple[str, str]]] = {"Arguments": []}
        sections.update((panel, []) for panel in PANELS)
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                # typer appends the Python type (``<list[str]>``); show the metavar alone
                name = param.metavar or (param.name or "").upper()
                record = (name + ("..." if param.nargs != 1 else ""), record[1])
                panel = "Arguments"
            else:
                panel = getattr(param, "rich_help_panel", None) or "Options"
            sections.setdefault(panel, []).append(record)
        for panel, records in sections.items():
            if records:
                with formatter.section(panel):
                    formatter.write_dl(records)


app = typer.Typer(
    name="bubbleup",
    help="Find what the weird events have in common: the attributes, values and ranges "
    "that are much more common in a selection of events than in the rest.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    cls=QuickGroup,
)


class Engine(StrEnum):
    """Engines of ``analyze``."""

    polars = "polars"
    spark = "spark"


class Format(StrEnum):
    """Output formats of ``analyze``."""

    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"
    html = "html"


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``Error: message`` on stderr and exit with ``code``."""
    err.print(
        f"Error: {printable(message, limit=MESSAGE_CHARS)}",
        markup=False,
        emoji=False,
        soft_wrap=True,
    )
    raise typer.Exit(code)


@contextmanager
def errors(*, flags: bool = True) -> Iterator[None]:
    """The CLI's one error boundary.

    With ``flags``, library messages name the command-line flags (``--where``), not the
    library's parameters (``mcp`` serves tools whose parameters are the library's).
    """
    try:
        with command_line_names() if flags else nullcontext():
            yield
    except UsageError as exc:
        fail(str(exc), 2)
    except BubbleupError as exc:
        fail(str(exc), 1)


def _split_names(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _input_files(inputs: list[str]) -> list[str]:
    """The files the sources name: globs and directories expanded as the readers do."""
    from bubbleup.io.paths import expand

    files = list(inputs)
    for src in inputs:
        with suppress(BubbleupError):  # a source that names nothing cannot be overwritten
            files += expand(src)
    return files


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str, text: str, *, inputs: list[str]) -> None:
    """Write ``text`` to ``path``; never over an input, never half-written.

    A regular file (new, or replaced: through a symbolic link, the file it points to) is
    written to a temporary file in the same directory and renamed over it, so an
    interruption or a full disk leaves the old file whole; a new file gets the usual mode
    (``0666`` less the umask), a replaced one keeps its mode. Anything else (``/dev/stdout``,
    ``/dev/null``, a FIFO) is written to directly: renaming would replace the device.

    Raises
    ------
    BubbleupError
        ``path`` is one of the input files (also through a directory or a glob), is
        read-only, or cannot be written.
    """
    target = Path(path)
    try:
        info: os.stat_result | None = os.stat(target)
    except OSError:
        info = None
    if info is not None:
        for src in _input_files(inputs):
            with suppress(OSError):
                if os.path.samefile(src, target):
                    raise BubbleupError(f"--output {path} is an input file; choose another path")
        if not stat.S_ISREG(info.st_mode):
            try:
                with open(target, "w", encoding="utf-8") as fh:
                    fh.write(text)
            except OSError as exc:
                raise BubbleupError(f"cannot write {path}: {exc.strerror}") from None
            return
        if not info.st_mode & 0o222 or not os.access(target, os.W_OK):
            raise BubbleupError(
                f"--output {path} is read-only; make it writable or choose another path"
            )
        target = Path(os.path.realpath(target))
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        if folder.exists():
            raise BubbleupError(f"cannot write {path}: {folder} is not a directory")
        raise BubbleupError(f"cannot write {path}: directory {folder} does not exist")
    mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise BubbleupError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
        os.replace(tmp, target)
    except BaseException as exc:  # never leave a partial file behind (Ctrl-C included)
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise BubbleupError(f"cannot write {path}: {exc.strerror}") from None
        raise


@contextmanager
def _stdout_errors() -> Iterator[None]:
    """Writing to stdout: a full disk or a closed pipe is one line, exit 1."""
    try:
        yield
        sys.stdout.flush()
    except OSError as exc:
        # what is left in the buffer would fail again at exit: send it nowhere
        with suppress(OSError, ValueError, io.UnsupportedOperation):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        if isinstance(exc, BrokenPipeError):  # `bubbleup ... | head`: the reader is done
            raise typer.Exit(1) from None
        fail(f"cannot write to stdout: {exc.strerror or exc}")


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str], None] | None]:
    if quiet or not err.is_terminal:
        yield None
        return
    with err.status("bubbleup: starting") as status:
        yield lambda msg: status.update(Text(f"bubbleup: {printable(msg)}"))


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _console(**options: Any) -> Console:
    """A console for data: no markup, emoji codes or highlighting applied to any text."""
    return Console(highlight=False, markup=False, emoji=False, **options)


def _stdout() -> Console:
    console = _console()
    if not console.is_terminal:
        console = _console(width=120)
    return console


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bubbleup {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Find what the weird events have in common."""
    end_startup()  # from here on Ctrl-C ends the command with code 130 (Typer)


SourceArg = Annotated[
    list[str],
    typer.Argument(
        help="Event file(s): Parquet, CSV, NDJSON, OTLP JSON or Arrow (CSV and NDJSON may "
        "be .gz or .zst), globs or directories.",
        metavar="SOURCE",
        show_default=False,
    ),
]


def _option(name: str, **extra: Any) -> Any:
    """The flag of analysis option ``name``: its names, metavar, help and panel come from
    :class:`bubbleup.options.Options`, so every command that takes it spells it alike."""
    spec = OPTION_FLAGS[name]
    return typer.Option(
        *spec.names,
        metavar=spec.metavar,
        help=spec.help,
        rich_help_panel=spec.panel,
        show_default=extra.pop("show_default", True),
        **extra,
    )


# The analysis options' flags, declared once: analyze, rows and explore take them alike.
Where = Annotated[str | None, _option("where", show_default=False)]
Baseline = Annotated[str | None, _option("baseline")]
Filter = Annotated[str | None, _option("filter")]
Weight = Annotated[str | None, _option("weight")]
NoWeight = Annotated[
    bool,
    typer.Option(
        "--no-weight",
        help="Count every event once, even if a sample_rate column exists.",
        rich_help_panel=SELECTION,
    ),
]
Columns = Annotated[list[str] | None, _option("columns")]
Exclude = Annotated[list[str] | None, _option("exclude")]
Outcomes = Annotated[list[str] | None, _option("outcomes")]
Context = Annotated[list[str] | None, _option("context")]
Alpha = Annotated[float, _option("alpha")]
MinLift = Annotated[float, _option("min_lift")]
MinShare = Annotated[float, _option("min_share")]
MaxOrder = Annotated[int, _option("max_order")]
TimeColumn = Annotated[str | None, _option("time_column")]
Since = Annotated[str | None, _option("since")]
Until = Annotated[str | None, _option("until")]
After = Annotated[str | None, _option("after")]
SkipBadLines = Annotated[bool, _option("skip_bad_lines")]
EngineOption = Annotated[Engine, _option("engine")]
SparkMaster = Annotated[str | None, _option("spark_master")]
Drill = Annotated[
    list[int] | None,
    typer.Option(
        "--drill",
        metavar="N",
        help="Analyse again inside explanation N (add it to the scope); repeat to go deeper.",
        rich_help_panel=SELECTION,
    ),
]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress display.", rich_help_panel=OUTPUT)
]
Output = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help="Write to this file (atomically) instead of stdout.",
        rich_help_panel=OUTPUT,
    ),
]


def _show(views: list[Any], output: str | None, inputs: list[str], *, width: int) -> None:
    """Print rich views on stdout, or write them ``width`` columns wide to ``output``
    (atomically; never over one of the ``inputs``)."""
    if output:
        buffer = io.StringIO()
        _console(file=buffer, width=width).print(*views)
        write_atomic(output, buffer.getvalue(), inputs=inputs)
    else:
        with _stdout_errors():
            _stdout().print(*views)


def _write(text: str, output: str | None, inputs: list[str]) -> None:
    """Write ``text`` to stdout, or to ``output`` (as :func:`_show` does)."""
    if output:
        write_atomic(output, text, inputs=inputs)
    else:
        with _stdout_errors():
            sys.stdout.write(text)


def _options(params: dict[str, Any]) -> Options:
    """The analysis options a command's flags give (its parameters named as the options
    are: ``where``, ``filter``, ``outcomes``...), checked by :class:`Options`.

    Names flags (``--columns a,b --columns c``) are split at commas; ``--no-weight`` is
    ``weight=False``.
    """
    given = {name: value for name, value in params.items() if name in DEFAULTS}
    if given.get("weight") is not None and params.get("no_weight"):
        fail("--weight and --no-weight exclude each other; give one", 2)
    if params.get("no_weight"):
        given["weight"] = False
    for name in ("columns", "exclude", "outcomes", "context"):
        if name in given:
            given[name] = _split_names(given[name])
    if isinstance(given.get("engine"), Engine):
        given["engine"] = given["engine"].value
    with errors():
        return Options(**given)
    raise AssertionError("unreachable")  # errors() exits on a bad option


@app.command(cls=PanelCommand)
def analyze(
    source: SourceArg,
    where: Where = None,
    baseline: Baseline = None,
    filter: Filter = None,
    weight: Weight = None,
    no_weight: NoWeight = False,
    drill: Drill = None,
    columns: Columns = None,
    exclude: Exclude = None,
    outcomes: Outcomes = None,
    context: Context = None,
    fmt: Annotated[
        Format,
        typer.Option("--format", "-f", help="Output format.", rich_help_panel=OUTPUT),
    ] = Format.table,
    output: Output = None,
    top: Annotated[
        int,
        typer.Option(
            metavar="N",
            help="Show the first N explanations (0: all).",
            min=0,
            rich_help_panel=OUTPUT,
        ),
    ] = 20,
    quiet: Quiet = False,
    histograms: Annotated[
        bool,
        typer.Option(
            "--histograms",
            help="Also draw the top attributes' values, selection vs baseline (table format).",
            rich_help_panel=OUTPUT,
        ),
    ] = False,
    alpha: Alpha = 0.05,
    min_lift: MinLift = 1.5,
    min_share: MinShare = 0.05,
    max_order: MaxOrder = 3,
    time_column: TimeColumn = None,
    since: Since = None,
    until: Until = None,
    after: After = None,
    engine: EngineOption = Engine.polars,
    spark_master: SparkMaster = None,
    skip_bad_lines: SkipBadLines = False,
) -> None:
    """Rank what is more common in the selected events than in the baseline."""
    if top > MAX_TOP:
        fail(f"--top must be at most {MAX_TOP:,} (0 shows every explanation), not {top}", 2)
    options = _options(locals())
    if fmt is Format.html and not output and _stdout_is_terminal():
        fail("--format html writes a whole page; give --output report.html or redirect stdout", 2)
    if histograms and fmt not in (Format.table, Format.html):
        fail(f"--histograms draws in the table format (the html report has them); not {fmt}", 2)
    if spark_master is not None and engine is not Engine.spark:
        fail("--spark-master needs --engine spark", 2)
    from bubbleup.outputs import charts, render, report
    from bubbleup.pipeline.analyze import analyze as run

    with errors(), _progress(quiet) as progress:
        result = run(source if len(source) > 1 else source[0], options, progress=progress)
        for number in drill or []:
            result = result.drill(number, progress=progress)
    if result.skipped_lines:
        err.print(
            f"Warning: skipped {printable(render.skipped_text(result.skipped_lines), limit=None)}",
            markup=False,
            soft_wrap=True,
        )
    n = top or None
    with errors():
        if fmt is Format.table:
            views = [render.table_renderable(result, top=n)]
            if histograms:
                views.append(charts.histograms_renderable(result))
            _show(views, output, source, width=120)
            return
        text = {
            Format.json: lambda: result.to_json(top=n) + "\n",
            Format.csv: lambda: render.to_csv(result, top=n),
            Format.markdown: lambda: render.to_markdown(result, top=n),
            Format.html: lambda: report.to_html(result, top=n, output=output or "report.html"),
        }[fmt]()
        _write(text, output, source)


class ColumnsFormat(StrEnum):
    """Output formats of ``columns`` (a column list is read at a terminal or pasted into
    notes and tickets: no HTML page, which ``analyze`` writes for the report)."""

    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


@app.command(cls=PanelCommand)
def columns(
    source: SourceArg,
    fmt: Annotated[
        ColumnsFormat,
        typer.Option("--format", "-f", help="Output format.", rich_help_panel=OUTPUT),
    ] = ColumnsFormat.table,
    output: Output = None,
    top: Annotated[
        int,
        typer.Option(metavar="N", help="Most common values shown per column.", min=1),
    ] = 3,
    skip_bad_lines: Annotated[
        bool, typer.Option("--skip-bad-lines", help="Skip malformed JSON lines.")
    ] = False,
) -> None:
    """List each column (nested fields as dotted names): type, kind, distinct values,
    missing share and the most common values with their shares."""
    from bubbleup.pipeline import columns as described

    with errors():
        frame = described.describe_columns(
            source if len(source) > 1 else source[0], top=top, skip_bad_lines=skip_bad_lines
        )
    if fmt is ColumnsFormat.table:
        table = Table(show_edge=False, pad_edge=False, header_style="bold")
        for name in described.HEADERS:
            table.add_column(
                name,
                justify="right" if name in ("distinct", "missing") else "left",
                overflow="fold",
            )
        for cells in described.text_rows(frame, sep="\n"):
            table.add_row(*(Text(c) for c in cells))
        with errors():
            _show([table], output, source, width=120)
        return
    text = {
        ColumnsFormat.json: lambda: frame.write_json() + "\n",
        ColumnsFormat.csv: lambda: described.to_csv(frame),
        ColumnsFormat.markdown: lambda: described.to_markdown(frame),
    }[fmt]()
    with errors():
        _write(text, output, source)


class RowsFormat(StrEnum):
    """Output formats of ``rows``."""

    table = "table"
    json = "json"
    csv = "csv"


def _cell(value: object) -> Text:
    if value is None:
        return Text("null", style="dim")
    if isinstance(value, bool):
        return Text(str(value).lower())
    return Text(printable(value, limit=CELL_CHARS))


def _rows_table(frame: pl.DataFrame, side: str) -> Table:
    import polars as pl

    part = frame.filter(pl.col(frame.columns[0]) == side).drop(frame.columns[0])
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("column", style="bold")
    for i in range(part.height):
        table.add_column(f"#{i + 1}", overflow="fold", max_width=40)
    for name in part.columns:
        table.add_row(Text(printable(name)), *(_cell(v) for v in part[name].to_list()))
    return table


def _rows_tables(
    result: Result, frame: pl.DataFrame, explanation: int | None
) -> list[Table | Text]:
    import polars as pl

    from bubbleup.outputs import render

    t = result.totals
    totals = {"selection": t.selection_events, "baseline": t.baseline_events}
    inside = ""
    if explanation is not None:
        row = result.explanations.row(explanation - 1, named=True)
        totals = {"selection": row["selection_events"], "baseline": row["baseline_events"]}
        inside = f" AND {row['label']}"
    side_column = frame.columns[0]
    out: list[Table | Text] = []
    for side, predicate in (("selection", result.where), ("baseline", result.baseline)):
        shown = frame.filter(pl.col(side_column) == side).height
        scope = f" (scope: {result.filter})" if result.filter else ""
        title = f"{side}: {predicate}{inside}{scope}: {shown} of {totals[side]:,} events"
        out += [
            Text(printable(title, limit=render.HEADER_CHARS), style="bold"),
            _rows_table(frame, side),
            Text(""),
        ]
    return out


@app.command(cls=PanelCommand)
def rows(
    source: SourceArg,
    where: Where = None,
    explanation: Annotated[
        int | None,
        typer.Option(
            "--explanation", "-e", metavar="N", help="Only events that match explanation N."
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", metavar="N", help="Events per side.", min=1)
    ] = 5,
    baseline: Baseline = None,
    filter: Filter = None,
    weight: Weight = None,
    no_weight: NoWeight = False,
    columns: Columns = None,
    exclude: Exclude = None,
    drill: Drill = None,
    time_column: TimeColumn = None,
    since: Since = None,
    until: Until = None,
    after: After = None,
    skip_bad_lines: SkipBadLines = False,
    seed: Annotated[
        int, typer.Option(metavar="N", help="Which example events (same seed, same rows).")
    ] = 0,
    fmt: Annotated[
        RowsFormat,
        typer.Option("--format", "-f", help="table, json or csv.", rich_help_panel=OUTPUT),
    ] = RowsFormat.table,
    output: Output = None,
    quiet: Quiet = False,
) -> None:
    """Show example events from the selection and the baseline: identifiers and time
    first, then the top attributes."""
    options = _options(locals())
    from bubbleup.pipeline.analyze import analyze as run

    with errors(), _progress(quiet) as progress:
        result = run(source if len(source) > 1 else source[0], options, progress=progress)
        for number in drill or []:
            result = result.drill(number, progress=progress)
        if progress:
            progress("reading example events")
        frame = result.rows(explanation=explanation, limit=limit, seed=seed)
    with errors():
        if fmt is RowsFormat.table:
            _show(_rows_tables(result, frame, explanation), output, source, width=160)
            return
        text = frame.write_json() + "\n" if fmt is RowsFormat.json else frame.write_csv()
        _write(text, output, source)


@app.command(cls=PanelCommand)
def mcp(
    root: Annotated[
        list[str],
        typer.Option(
            "--root",
            metavar="DIR",
            help="Folder whose event files the tools may read (repeat for more).",
            show_default=False,
        ),
    ],
    http: Annotated[
        int | None,
        typer.Option(
            "--http",
            metavar="PORT",
            help="Serve streamable HTTP on 127.0.0.1:PORT (a token is required) instead of stdio.",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(metavar="SECONDS", help="Seconds a tool call may run before it is abandoned."),
    ] = 120.0,
) -> None:
    """Serve the analysis as MCP tools for AI assistants (needs bubbleup[mcp])."""
    from bubbleup.interfaces.mcpserver import serve

    give_sigint_to_the_event_loop()  # anyio's own Ctrl-C handling
    with errors(flags=False):
        serve(root, http=http, timeout=timeout)


@app.command(cls=PanelCommand)
def explore(
    source: SourceArg,
    where: Where = None,
    baseline: Baseline = None,
    filter: Filter = None,
    weight: Weight = None,
    no_weight: NoWeight = False,
    columns: Columns = None,
    exclude: Exclude = None,
    outcomes: Outcomes = None,
    context: Context = None,
    alpha: Alpha = 0.05,
    min_lift: MinLift = 1.5,
    min_share: MinShare = 0.05,
    max_order: MaxOrder = 3,
    time_column: TimeColumn = None,
    skip_bad_lines: SkipBadLines = False,
    value: Annotated[
        str | None,
        typer.Option(
            "--value",
            metavar="COL",
            help="The heatmap's value column (default: a duration).",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(metavar="HOST", help="Address to listen on (not loopback: warned).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(metavar="PORT", help="Port (0: any free port).", min=0, max=65535)
    ] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the address; do not open a browser.")
    ] = False,
) -> None:
    """Open a local web page: draw a box on a heatmap, see what those events share, drill."""
    import webbrowser

    from bubbleup.interfaces.explore.server import Server, is_loopback, serve
    from bubbleup.interfaces.explore.state import Explorer, View

    options = _options(locals())
    first = View(where, (), value)
    with errors():
        explorer = Explorer(source if len(source) > 1 else source[0], options)
        explorer.value_column(first)
    if not is_loopback(host):
        err.print(
            f"Warning: listening on {host}: anyone who can reach it and has the address "
            "(its token) can read these events",
            markup=False,
            soft_wrap=True,
        )
    try:
        server = Server(explorer, host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    url = server.url_for(first)
    try:  # Ctrl-C may come before serving starts
        typer.echo(url)
        err.print("bubbleup explore: press Ctrl-C to stop", markup=False)
        serve(server, ready=None if no_browser else lambda _s: webbrowser.open(url))
    except KeyboardInterrupt:
        server.server_close()
    err.print("bubbleup explore: stopped", markup=False)


def main() -> None:
    """Entry point of the ``bubbleup`` console script."""
    quiet_interrupts(app)
