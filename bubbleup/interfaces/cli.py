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

from bubbleup._interrupt import end_startup
from bubbleup._version import __version__
from bubbleup.errors import BubbleupError, UsageError, command_line_names
from bubbleup.printable import printable

if TYPE_CHECKING:  # polars, the pipeline and the outputs load in the commands that use them
    import polars as pl

    from bubbleup.pipeline.result import Result

app = typer.Typer(
    name="bubbleup",
    help="Find what the weird events have in common: the attributes, values and ranges "
    "that are much more common in a selection of events than in the rest.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

err = Console(stderr=True, highlight=False, markup=False, emoji=False)
#: Characters of an error message shown (messages quote predicates and names from data).
MESSAGE_CHARS = 2000
#: Characters of one value shown in the ``rows`` and ``columns`` tables.
CELL_CHARS = 40

#: Largest --top (0 shows all); more would overflow polars' row counts.
MAX_TOP = 1_000_000_000


#: The panels of ``analyze --help``, in order.
PANELS = SELECTION, COLUMNS, STATISTICS, OUTPUT, TIME, ENGINE = (
    "Selection",
    "Columns",
    "Statistics",
    "Output",
    "Time",
    "Engine",
)


class PanelCommand(typer.core.TyperCommand):
    """A command whose plain-text ``--help`` groups options by their ``rich_help_panel``.

    The app keeps ``rich_markup_mode=None`` (help texts hold ``bubbleup[spark]`` and
    ``local[4]``, which Rich markup would swallow, and plain help reads the same in a pipe),
    where typer lists every option in one section; this draws one section per panel.
    """

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


def _events(
    where: str | None,
    baseline: str | None,
    filter_: str | None,
    weight: str | None,
    no_weight: bool,
    columns: list[str] | None,
    exclude: list[str] | None,
) -> dict[str, Any]:
    """The options that say which events are compared, as ``analyze`` takes them."""
    if weight is not None and no_weight:
        fail("--weight and --no-weight exclude each other; give one", 2)
    return {
        "where": where,
        "baseline": baseline,
        "filter": filter_,
        "weight": False if no_weight else weight,
        "columns": _split_names(columns),
        "exclude": _split_names(exclude),
    }


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


SourceArg = Annotated[
    list[str],
    typer.Argument(
        help="Event file(s): Parquet, CSV, NDJSON, OTLP JSON or Arrow (CSV and NDJSON may "
        "be .gz or .zst), globs or directories.",
        metavar="SOURCE",
        show_default=False,
    ),
]


@app.command(cls=PanelCommand)
def analyze(
    source: SourceArg,
    where: Annotated[
        str | None,
        typer.Option(
            "--where",
            "-w",
            metavar="SQL",
            help="SQL condition that selects the weird events, e.g. \"exit_reason = 'oom'\"; "
            'names with dots take double quotes: --where "\\"http.route\\" = \'/checkout\'".',
            show_default=False,
            rich_help_panel=SELECTION,
        ),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            metavar="SQL",
            help="SQL condition for the events to compare with (default: all others).",
            rich_help_panel=SELECTION,
        ),
    ] = None,
    filter_: Annotated[
        str | None,
        typer.Option(
            "--filter",
            metavar="SQL",
            help="SQL condition that limits the scope of both sides.",
            rich_help_panel=SELECTION,
        ),
    ] = None,
    weight: Annotated[
        str | None,
        typer.Option(
            metavar="COL",
            help="Column of per-event weights (sample "
            "rates); default: a sample_rate column if "
            "present.",
            rich_help_panel=SELECTION,
        ),
    ] = None,
    no_weight: Annotated[
        bool,
        typer.Option(
            "--no-weight",
            help="Count every event once, even if a sample_rate column exists.",
            rich_help_panel=SELECTION,
        ),
    ] = False,
    columns: Annotated[
        list[str] | None,
        typer.Option(
            "--columns",
            "-c",
            metavar="NAMES",
            help="Columns to analyse: names or globs, comma-separated or repeated.",
            rich_help_panel=COLUMNS,
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            "-x",
            metavar="NAMES",
            help="Columns to leave out: names or globs.",
            rich_help_panel=COLUMNS,
        ),
    ] = None,
    outcome: Annotated[
        list[str] | None,
        typer.Option(
            "--outcome",
            metavar="NAMES",
            help="Columns that say what happened to an event (beyond the conventions: "
            "status, errors, exit codes, durations, peaks): described, never explanations. "
            "Names or globs.",
            rich_help_panel=COLUMNS,
        ),
    ] = None,
    context: Annotated[
        list[str] | None,
        typer.Option(
            "--context",
            metavar="NAMES",
            help="Columns to rank as candidate causes although a convention calls them "
            "outcomes. Names or globs.",
            rich_help_panel=COLUMNS,
        ),
    ] = None,
    fmt: Annotated[
        Format,
        typer.Option("--format", "-f", help="Output format.", rich_help_panel=OUTPUT),
    ] = Format.table,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write to this file (atomically) instead of stdout.",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    top: Annotated[
        int,
        typer.Option(
            metavar="N",
            help="Show the first N explanations (0: all).",
            min=0,
            rich_help_panel=OUTPUT,
        ),
    ] = 20,
    alpha: Annotated[
        float,
        typer.Option(
            metavar="Q",
            help="False discovery rate for significance (q-values below it).",
            rich_help_panel=STATISTICS,
        ),
    ] = 0.05,
    min_lift: Annotated[
        float,
        typer.Option(
            metavar="X",
            help="Minimum lift to call an explanation significant.",
            rich_help_panel=STATISTICS,
        ),
    ] = 1.5,
    min_share: Annotated[
        float,
        typer.Option(
            metavar="SHARE",
            help="Minimum share of the selection (0 to 1) to call an explanation significant.",
            rich_help_panel=STATISTICS,
        ),
    ] = 0.05,
    max_order: Annotated[
        int,
        typer.Option(
            "--max-order",
            metavar="N",
            help="Most items per explanation: 1 = single values and ranges; 2 or 3 add "
            "conjunctions (one extra pass over the events).",
            rich_help_panel=STATISTICS,
        ),
    ] = 3,
    engine: Annotated[
        Engine,
        typer.Option(
            help="Where the events are counted: polars (embedded, streaming) or spark "
            "(needs bubbleup[spark] and Java 17+).",
            rich_help_panel=ENGINE,
        ),
    ] = Engine.polars,
    spark_master: Annotated[
        str | None,
        typer.Option(
            "--spark-master",
            metavar="URL",
            help="Spark master URL for --engine spark: local[4], spark://host:7077, "
            "sc://host:15002 (Spark Connect), yarn... Default: local[*].",
            rich_help_panel=ENGINE,
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="No progress display.", rich_help_panel=OUTPUT),
    ] = False,
    histograms: Annotated[
        bool,
        typer.Option(
            "--histograms",
            help="Also draw the top attributes' values, selection vs baseline (table format).",
            rich_help_panel=OUTPUT,
        ),
    ] = False,
    drill: Annotated[
        list[int] | None,
        typer.Option(
            "--drill",
            metavar="N",
            help="Analyse again inside explanation N (add it to the scope); repeat to go deeper.",
            rich_help_panel=SELECTION,
        ),
    ] = None,
    time_column: Annotated[
        str | None,
        typer.Option(
            metavar="COL",
            help="The events' time column (default: detected).",
            rich_help_panel=TIME,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="T",
            help="Only events at or after time T (ISO 8601: 2026-11-20T14:00).",
            rich_help_panel=TIME,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(metavar="T", help="Only events before time T.", rich_help_panel=TIME),
    ] = None,
    after: Annotated[
        str | None,
        typer.Option(
            metavar="T",
            help="Before/after: select the events after time T (and --where, if given); "
            "the baseline is the same length of time before it.",
            rich_help_panel=TIME,
        ),
    ] = None,
    skip_bad_lines: Annotated[
        bool,
        typer.Option(
            "--skip-bad-lines",
            help="Skip malformed JSON lines, and report them.",
            rich_help_panel=ENGINE,
        ),
    ] = False,
) -> None:
    """Rank what is more common in the selected events than in the baseline."""
    if max_order not in (1, 2, 3):
        fail(f"--max-order must be 1, 2 or 3 (items per explanation), not {max_order}", 2)
    if top > MAX_TOP:
        fail(f"--top must be at most {MAX_TOP:,} (0 shows every explanation), not {top}", 2)
    events = _events(where, baseline, filter_, weight, no_weight, columns, exclude)
    if fmt is Format.html and not output and _stdout_is_terminal():
        fail("--format html writes a whole page; give --output report.html or redirect stdout", 2)
    if histograms and fmt not in (Format.table, Format.html):
        fail(f"--histograms draws in the table format (the html report has them); not {fmt}", 2)
    if spark_master is not None and engine is not Engine.spark:
        fail("--spark-master needs --engine spark", 2)
    from bubbleup.outputs import charts, render, report
    from bubbleup.pipeline.analyze import analyze as run

    with errors(), _progress(quiet) as progress:
        result = run(
            source if len(source) > 1 else source[0],
            **events,
            alpha=alpha,
            min_lift=min_lift,
            min_share=min_share,
            max_order=max_order,
            engine=engine.value,
            spark_master=spark_master,
            progress=progress,
            skip_bad_lines=skip_bad_lines,
            time_column=time_column,
            since=since,
            until=until,
            after=after,
            outcomes=_split_names(outcome),
            context=_split_names(context),
        )
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
            if output:
                buffer = io.StringIO()
                _console(file=buffer, width=120).print(*views)
                write_atomic(output, buffer.getvalue(), inputs=source)
            else:
                with _stdout_errors():
                    _stdout().print(*views)
            return
        text = {
            Format.json: lambda: result.to_json(top=n) + "\n",
            Format.csv: lambda: render.to_csv(result, top=n),
            Format.markdown: lambda: render.to_markdown(result, top=n),
            Format.html: lambda: report.to_html(result, top=n, output=output or "report.html"),
        }[fmt]()
        if output:
            write_atomic(output, text, inputs=source)
        else:
            with _stdout_errors():
                sys.stdout.write(text)


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
        ColumnsFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ColumnsFormat.table,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write to this file (atomically) instead of stdout.",
        ),
    ] = None,
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
        if not output:
            with _stdout_errors():
                _stdout().print(table)
            return
        buffer = io.StringIO()
        _console(file=buffer, width=120).print(table)
        text = buffer.getvalue()
    else:
        text = {
            ColumnsFormat.json: lambda: frame.write_json() + "\n",
            ColumnsFormat.csv: lambda: described.to_csv(frame),
            ColumnsFormat.markdown: lambda: described.to_markdown(frame),
        }[fmt]()
    with errors():
        if output:
            write_atomic(output, text, inputs=source)
            return
    with _stdout_errors():
        sys.stdout.write(text)


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
    where: Annotated[
        str | None,
        typer.Option(
            "--where",
            "-w",
            metavar="SQL",
            help="SQL condition that selects the weird events (as for analyze).",
            show_default=False,
        ),
    ] = None,
    explanation: Annotated[
        int | None,
        typer.Option(
            "--explanation", "-e", metavar="N", help="Only events that match explanation N."
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", metavar="N", help="Events per side.", min=1)
    ] = 5,
    baseline: Annotated[
        str | None,
        typer.Option(
            metavar="SQL",
            help="SQL condition for the events to compare with (default: all others).",
        ),
    ] = None,
    filter_: Annotated[
        str | None,
        typer.Option(
            "--filter", metavar="SQL", help="SQL condition that limits the scope of both sides."
        ),
    ] = None,
    weight: Annotated[
        str | None,
        typer.Option(metavar="COL", help="Column of per-event weights (as for analyze)."),
    ] = None,
    no_weight: Annotated[
        bool, typer.Option("--no-weight", help="Count every event once (as for analyze).")
    ] = False,
    columns: Annotated[
        list[str] | None,
        typer.Option(
            "--columns", "-c", metavar="NAMES", help="Columns to analyse (as for analyze)."
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude", "-x", metavar="NAMES", help="Columns to leave out of the analysis."
        ),
    ] = None,
    drill: Annotated[
        list[int] | None,
        typer.Option(
            "--drill",
            metavar="N",
            help="Inside explanation N of the analysis (as for analyze); repeat to go deeper.",
        ),
    ] = None,
    time_column: Annotated[
        str | None,
        typer.Option(metavar="COL", help="The events' time column (default: detected)."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(metavar="T", help="Only events at or after time T.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(metavar="T", help="Only events before time T.")
    ] = None,
    after: Annotated[
        str | None,
        typer.Option(
            metavar="T",
            help="Before/after (as for analyze): the selection is the events after time T, "
            "the baseline the same length of time before it.",
        ),
    ] = None,
    skip_bad_lines: Annotated[
        bool, typer.Option("--skip-bad-lines", help="Skip malformed JSON lines.")
    ] = False,
    seed: Annotated[
        int, typer.Option(metavar="N", help="Which example events (same seed, same rows).")
    ] = 0,
    fmt: Annotated[
        RowsFormat, typer.Option("--format", "-f", help="table, json or csv.")
    ] = RowsFormat.table,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write to this file (atomically) instead of stdout.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Show example events from the selection and the baseline: identifiers and time
    first, then the top attributes."""
    events = _events(where, baseline, filter_, weight, no_weight, columns, exclude)
    from bubbleup.pipeline.analyze import analyze as run

    with errors(), _progress(quiet) as progress:
        result = run(
            source if len(source) > 1 else source[0],
            **events,
            progress=progress,
            skip_bad_lines=skip_bad_lines,
            time_column=time_column,
            since=since,
            until=until,
            after=after,
        )
        for number in drill or []:
            result = result.drill(number, progress=progress)
        if progress:
            progress("reading example events")
        frame = result.rows(explanation=explanation, limit=limit, seed=seed)
    with errors():
        if fmt is RowsFormat.table:
            tables = _rows_tables(result, frame, explanation)
            if output:
                buffer = io.StringIO()
                _console(file=buffer, width=160).print(*tables)
                write_atomic(output, buffer.getvalue(), inputs=source)
            else:
                with _stdout_errors():
                    _stdout().print(*tables)
            return
        text = frame.write_json() + "\n" if fmt is RowsFormat.json else frame.write_csv()
        if output:
            write_atomic(output, text, inputs=source)
        else:
            with _stdout_errors():
                sys.stdout.write(text)


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

    with errors(flags=False):
        serve(root, http=http, timeout=timeout)


@app.command()
def explore(
    source: SourceArg,
    where: Annotated[
        str | None, typer.Option("--where", "-w", help="A first selection (SQL condition).")
    ] = None,
    baseline: Annotated[
        str | None, typer.Option(help="SQL condition for the events to compare with.")
    ] = None,
    filter_: Annotated[
        str | None, typer.Option("--filter", help="SQL condition that limits the scope.")
    ] = None,
    weight: Annotated[str | None, typer.Option(help="Column of per-event weights.")] = None,
    no_weight: Annotated[bool, typer.Option("--no-weight", help="Count every event once.")] = False,
    columns: Annotated[
        list[str] | None, typer.Option("--columns", "-c", help="Columns to analyse.")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", "-x", help="Columns to leave out.")
    ] = None,
    outcome: Annotated[
        list[str] | None,
        typer.Option("--outcome", help="More outcome columns (described, never explanations)."),
    ] = None,
    context: Annotated[
        list[str] | None,
        typer.Option(
            "--context", help="Columns to rank although a convention calls them outcomes."
        ),
    ] = None,
    value: Annotated[
        str | None, typer.Option("--value", help="Heatmap value column (default: a duration).")
    ] = None,
    time_column: Annotated[str | None, typer.Option(help="The events' time column.")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (not loopback: warned).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port (0: any free port).", min=0, max=65535)] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the address; do not open a browser.")
    ] = False,
) -> None:
    """Open a local web page: draw a box on a heatmap, see what those events share, drill."""
    import webbrowser

    from bubbleup.interfaces.explore.server import Server, is_loopback, serve
    from bubbleup.interfaces.explore.state import Explorer, View

    events = _events(where, baseline, filter_, weight, no_weight, columns, exclude)
    first = View(events.pop("where"), (), value)
    events["time_column"] = time_column
    events["outcomes"] = _split_names(outcome)
    events["context"] = _split_names(context)
    with errors():
        explorer = Explorer(source if len(source) > 1 else source[0], events)
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
    end_startup()  # from here on Ctrl-C ends the command with code 130 (Typer)
    app()
