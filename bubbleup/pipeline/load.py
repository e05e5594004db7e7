"""Load stage: turn any supported source into a polars LazyFrame.

A source is a path (file, glob or directory), a list of paths, or an in-memory frame
(polars DataFrame or LazyFrame, pyarrow Table, pandas DataFrame). Reading files is the job
of :mod:`bubbleup.io`; Parquet and Arrow files are scanned lazily, so later stages read only
the columns and rows their query needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from bubbleup.errors import SourceError
from bubbleup.io.files import read_files
from bubbleup.io.paths import FORMATS
from bubbleup.io.schema import flatten

__all__ = ["FORMATS", "Loaded", "Source", "load"]

Source = str | os.PathLike[str] | pl.DataFrame | pl.LazyFrame | Any


@dataclass(frozen=True)
class Loaded:
    """A loaded source: the lazy frame and a short description for headers and reports.

    ``skipped_lines`` maps files to the number of malformed lines skipped in them;
    ``time_column`` names the events' time column when the kind of source says which it is
    (OTLP spans: ``start_time``; OTLP logs: ``time``); ``scanned`` lists the Parquet files
    the frame reads as they are (CSV and NDJSON files' cached copies among them), empty when
    the frame is more than a plain scan of Parquet files; ``in_memory``: the frame is a
    table already in memory (a polars, pyarrow or pandas frame; not a LazyFrame, whose plan
    may read anything).
    """

    frame: pl.LazyFrame
    description: str
    paths: tuple[str, ...] = ()
    skipped_lines: dict[str, int] = field(default_factory=dict)
    time_column: str | None = None
    scanned: tuple[str, ...] = ()
    in_memory: bool = False


def _in_memory(source: Source) -> Loaded | None:
    if isinstance(source, pl.LazyFrame):
        return Loaded(source, "LazyFrame")
    if isinstance(source, pl.DataFrame):
        return Loaded(source.lazy(), f"DataFrame ({source.height:,} rows)", in_memory=True)
    module = type(source).__module__
    if module.startswith("pyarrow"):
        converted = pl.from_arrow(source)
        table = converted.to_frame() if isinstance(converted, pl.Series) else converted
        return Loaded(table.lazy(), f"pyarrow {type(source).__name__}", in_memory=True)
    if module.startswith("pandas"):
        return Loaded(pl.from_pandas(source).lazy(), "pandas DataFrame", in_memory=True)
    return None


def load(source: Source, *, skip_bad_lines: bool = False) -> Loaded:
    """Return a lazy frame over ``source``, struct columns flattened to dotted names.

    Parameters
    ----------
    source
        A path, glob or directory (read recursively) or a list of them: Parquet, CSV/TSV,
        NDJSON, OTLP JSON, Arrow IPC, chosen by extension (CSV and NDJSON may be
        compressed: ``.gz``, ``.zst``); or a polars, pyarrow or pandas frame.
    skip_bad_lines
        Skip malformed JSON lines and CSV rows with too many fields (and count them in
        ``skipped_lines``) instead of failing.

    Examples
    --------
    >>> loaded = load("sample_data/builds.parquet")
    >>> "kernel_version" in loaded.frame.collect_schema().names()
    True
    """
    memory = _in_memory(source)
    if memory is not None:
        flat = flatten(memory.frame, where=memory.description)
        return replace(memory, frame=flat)
    if isinstance(source, (list, tuple)):
        paths = [os.fspath(p) for p in source]
    elif isinstance(source, (str, os.PathLike)):
        paths = [os.fspath(source)]
    else:
        raise SourceError(
            f"cannot read a {type(source).__name__}; pass a path or a polars/pyarrow/pandas frame"
        )
    if not paths:
        raise SourceError("no source given; pass at least one file, glob or directory")
    read = read_files(paths, skip_bad_lines=skip_bad_lines)
    n = len(read.files)
    if len(paths) == 1:
        desc = paths[0] if n == 1 else f"{paths[0]} ({n:,} files)"
    else:
        desc = f"{paths[0]} (+{len(paths) - 1} more; {n:,} files)"
    return Loaded(read.frame, desc, read.files, read.skipped_lines, read.time_column, read.scanned)
