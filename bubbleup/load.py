"""Load stage: turn any supported source into a polars LazyFrame.

A source is a path (file, glob or directory), a list of paths, or an in-memory frame
(polars DataFrame or LazyFrame, pyarrow Table, pandas DataFrame). Files are scanned lazily,
so later stages read only the columns and rows their query needs.
"""

from __future__ import annotations

import glob as globlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from bubbleup.errors import SourceError

#: File kinds by extension.
FORMATS: dict[str, str] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "ndjson",
    ".arrow": "ipc",
    ".feather": "ipc",
    ".ipc": "ipc",
}

Source = str | os.PathLike[str] | pl.DataFrame | pl.LazyFrame | Any


@dataclass(frozen=True)
class Loaded:
    """A loaded source: the lazy frame and a short description for headers and reports."""

    frame: pl.LazyFrame
    description: str
    paths: tuple[str, ...] = ()


def _format_of(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    known = ", ".join(sorted(FORMATS))
    raise SourceError(f"unknown file type '{suffix or path}' for {path}; use one of: {known}")


def _expand(path: str) -> list[str]:
    """Expand a glob or a directory into the list of files it names."""
    if any(ch in path for ch in "*?["):
        matches = sorted(p for p in globlib.glob(path, recursive=True) if os.path.isfile(p))
        if not matches:
            raise SourceError(f"no files match {path}; check the pattern")
        return matches
    if os.path.isdir(path):
        files = sorted(
            str(p)
            for p in Path(path).rglob("*")
            if p.is_file() and p.suffix.lower() in FORMATS and not p.name.startswith((".", "_"))
        )
        if not files:
            raise SourceError(f"directory {path} has no event files (.parquet, .csv, .ndjson...)")
        return files
    if not os.path.exists(path):
        raise SourceError(f"file not found: {path}")
    return [path]


def _scan_one_format(fmt: str, files: list[str]) -> pl.LazyFrame:
    if fmt == "parquet":
        for f in files[:1]:
            pl.read_parquet_schema(f)  # fail early on a corrupt footer
        return pl.scan_parquet(files, missing_columns="insert", extra_columns="ignore")
    if fmt == "csv":
        frames = [
            pl.scan_csv(
                f,
                separator="\t" if f.lower().endswith(".tsv") else ",",
                infer_schema_length=10_000,
                try_parse_dates=True,
            )
            for f in files
        ]
        return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    if fmt == "ndjson":
        return pl.scan_ndjson(files, infer_schema_length=10_000)
    return pl.scan_ipc(files)


def _read_error(files: list[str], exc: Exception) -> SourceError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = files[0] if len(files) == 1 else f"{files[0]} (and {len(files) - 1} more)"
    return SourceError(f"could not read {where}: {first}; is it a valid, complete file?")


def load(source: Source) -> Loaded:
    """Return a lazy frame over ``source``.

    Parameters
    ----------
    source
        A path, glob or directory (Parquet, CSV/TSV, NDJSON, Arrow IPC, chosen by
        extension), a list of paths, or a polars, pyarrow or pandas frame.

    Examples
    --------
    >>> loaded = load("sample_data/builds.parquet")
    >>> "kernel_version" in loaded.frame.collect_schema().names()
    True
    """
    if isinstance(source, pl.LazyFrame):
        return Loaded(source, "LazyFrame")
    if isinstance(source, pl.DataFrame):
        return Loaded(source.lazy(), f"DataFrame ({source.height:,} rows)")
    module = type(source).__module__
    if module.startswith("pyarrow"):
        converted = pl.from_arrow(source)
        table = converted.to_frame() if isinstance(converted, pl.Series) else converted
        return Loaded(table.lazy(), f"pyarrow {type(source).__name__}")
    if module.startswith("pandas"):
        return Loaded(pl.from_pandas(source).lazy(), "pandas DataFrame")
    if isinstance(source, (list, tuple)):
        paths = [os.fspath(p) for p in source]
    elif isinstance(source, (str, os.PathLike)):
        paths = [os.fspath(source)]
    else:
        raise SourceError(
            f"cannot read a {type(source).__name__}; pass a path or a polars/pyarrow/pandas frame"
        )
    files: list[str] = []
    for p in paths:
        files.extend(_expand(p))
    formats = {_format_of(f) for f in files}
    if len(formats) > 1:
        raise SourceError(
            f"the source mixes file types ({', '.join(sorted(formats))}); pass files of one type"
        )
    fmt = formats.pop()
    try:
        frame = _scan_one_format(fmt, files)
        frame.collect_schema()
    except pl.exceptions.PolarsError as exc:
        raise _read_error(files, exc) from None
    except OSError as exc:
        raise _read_error(files, exc) from None
    desc = paths[0] if len(paths) == 1 else f"{paths[0]} (+{len(paths) - 1} more)"
    return Loaded(frame, desc, tuple(files))
