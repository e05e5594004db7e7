"""The command line: each command parses options, makes one library call, renders.

Errors the library raises (:class:`bubbleup.BubbleupError`) become one line
``Error: ...`` on stderr with exit code 1 (2 for bad usage); data goes to stdout.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from bubbleup import render
from bubbleup._version import __version__
from bubbleup.errors import BubbleupError, UsageError

app = typer.Typer(
    name="bubbleup",
    help="Find what the weird events have in common: the attributes, values and ranges "
    "that are much more common in a selection of events than in the rest.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

err = Console(stderr=True, highlight=False)


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


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``Error: message`` on stderr and exit with ``code``."""
    err.print(f"Error: {message}", markup=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def errors() -> Iterator[None]:
    """The CLI's one error boundary."""
    try:
        yield
    except UsageError as exc:
        fail(str(exc), 2)
    except BubbleupError as exc:
        fail(str(exc), 1)


def _split_names(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def write_atomic(path: str, text: str, *, inputs: list[str]) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename; never over an input."""
    target = Path(path)
    for src in inputs:
        if os.path.exists(src) and target.exists() and os.path.samefile(src, target):
            raise BubbleupError(f"--output {path} is an input file; choose another path")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise BubbleupError(f"cannot write {path}: directory {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise BubbleupError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        os.unlink(tmp)
        raise BubbleupError(f"cannot write {path}: {exc.strerror}") from None


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str], None] | None]:
    if quiet or not err.is_terminal:
        yield None
        return
    with err.status("bubbleup: starting") as status:
        yield lambda msg: status.update(f"bubbleup: {msg}")


def _stdout() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=120)
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
        help="Event file(s): Parquet, CSV, NDJSON or Arrow, a glob or a directory.",
        show_default=False,
    ),
]


@app.command()
def analyze(
    source: SourceArg,
    where: Annotated[
        str,
        typer.Option(
            "--where",
            "-w",
            help="SQL condition that selects the weird events, e.g. \"exit_reason = 'oom'\".",
        ),
    ],
    baseline: Annotated[
        str | None,
        typer.Option(help="SQL condition for the events to compare with (default: all others)."),
    ] = None,
    filter_: Annotated[
        str | None,
        typer.Option("--filter", help="SQL condition that limits the scope of both sides."),
    ] = None,
    weight: Annotated[
        str | None,
        typer.Option(
            help="Column of per-event weights (sample "
            "rates); default: a sample_rate column if "
            "present."
        ),
    ] = None,
    no_weight: Annotated[
        bool,
        typer.Option(
            "--no-weight", help="Count every event once, even if a sample_rate column exists."
        ),
    ] = False,
    columns: Annotated[
        list[str] | None,
        typer.Option(
            "--columns",
            "-c",
            help="Columns to analyse: names or globs, comma-separated or repeated.",
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", "-x", help="Columns to leave out: names or globs."),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout."),
    ] = None,
    top: Annotated[int, typer.Option(help="Show the first N explanations (0: all).", min=0)] = 20,
    alpha: Annotated[float, typer.Option(help="False discovery rate for significance.")] = 0.05,
    min_lift: Annotated[
        float, typer.Option(help="Minimum lift to call an explanation significant.")
    ] = 1.5,
    min_share: Annotated[
        float,
        typer.Option(help="Minimum share of the selection to call an explanation significant."),
    ] = 0.05,
    max_order: Annotated[
        int,
        typer.Option(
            "--max-order",
            help="Most items per explanation: 1 = single values and ranges; 2 or 3 add "
            "conjunctions (one extra pass over the events).",
        ),
    ] = 3,
    engine: Annotated[
        Engine,
        typer.Option(
            help="Where the events are counted: polars (embedded, streaming) or spark "
            "(needs bubbleup[spark] and Java 17+)."
        ),
    ] = Engine.polars,
    spark_master: Annotated[
        str | None,
        typer.Option(
            "--spark-master",
            help="Spark master URL for --engine spark: local[4], spark://host:7077, "
            "sc://host:15002 (Spark Connect), yarn... Default: local[*].",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Rank what is more common in the selected events than in the baseline."""
    from bubbleup.analyze import analyze as run

    if max_order not in (1, 2, 3):
        fail(f"--max-order must be 1, 2 or 3 (items per explanation), not {max_order}", 2)
    if weight is not None and no_weight:
        fail("--weight and --no-weight exclude each other; give one", 2)
    if spark_master is not None and engine is not Engine.spark:
        fail("--spark-master needs --engine spark", 2)
    with errors(), _progress(quiet) as progress:
        result = run(
            source if len(source) > 1 else source[0],
            where=where,
            baseline=baseline,
            filter=filter_,
            weight=False if no_weight else weight,
            columns=_split_names(columns),
            exclude=_split_names(exclude),
            alpha=alpha,
            min_lift=min_lift,
            min_share=min_share,
            max_order=max_order,
            engine=engine.value,
            spark_master=spark_master,
            progress=progress,
        )
    n = top or None
    with errors():
        if fmt is Format.table:
            if output:
                buffer = io.StringIO()
                Console(file=buffer, width=120, highlight=False).print(
                    render.table_renderable(result, top=n)
                )
                write_atomic(output, buffer.getvalue(), inputs=source)
            else:
                _stdout().print(render.table_renderable(result, top=n))
            return
        text = {
            Format.json: lambda: result.to_json(top=n) + "\n",
            Format.csv: lambda: render.to_csv(result, top=n),
            Format.markdown: lambda: render.to_markdown(result, top=n),
        }[fmt]()
        if output:
            write_atomic(output, text, inputs=source)
        else:
            sys.stdout.write(text)


@app.command()
def columns(
    source: SourceArg,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="table, json, csv or markdown.")
    ] = Format.table,
) -> None:
    """List each column's type, kind, distinct values and missing share."""
    from bubbleup.columns import describe_columns

    with errors():
        frame = describe_columns(source if len(source) > 1 else source[0])
    if fmt is Format.json:
        sys.stdout.write(frame.write_json() + "\n")
    elif fmt is Format.csv:
        sys.stdout.write(frame.write_csv())
    else:
        from rich.table import Table

        table = Table(show_edge=False, pad_edge=False, header_style="bold")
        for name in ("column", "type", "kind", "distinct", "missing", "example"):
            table.add_column(
                name,
                justify="right" if name in ("distinct", "missing") else "left",
                overflow="fold",
            )
        for r in frame.iter_rows(named=True):
            table.add_row(
                r["column"],
                r["type"],
                r["kind"],
                "" if r["distinct"] is None else f"{r['distinct']:,}",
                "" if r["missing"] is None else render.percent(r["missing"]),
                "" if r["example"] is None else r["example"][:40],
            )
        _stdout().print(table)


def main() -> None:
    """Entry point of the ``bubbleup`` console script."""
    app()
