"""Paths, globs and directories to one lazy frame of events.

Each file is read by its kind (Parquet and Arrow IPC scanned lazily; CSV and NDJSON
converted once, in a streaming pass, to a cached Parquet file that is then scanned lazily,
see :mod:`bubbleup.io.cache`; OTLP parsed once), its struct columns flattened to dotted
names, its hive partition keys (``date=2026-11-20/``) added as columns; then the files are
put together by column name (see :mod:`bubbleup.io.schema` for the widening rules).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from bubbleup.errors import SourceError, first_line
from bubbleup.io import otlp
from bubbleup.io.paths import FileKind, check_content, expand, hive_keys, kind_of, text_head
from bubbleup.io.schema import conform, flatten, union
from bubbleup.io.text import is_json_array, read_json_array, scan_csv, scan_ndjson


@dataclass(frozen=True)
class FileSource:
    """Events read from files.

    ``skipped_lines`` maps each file that had malformed lines skipped to their number;
    ``signal`` is ``spans`` or ``logs`` for OTLP files, else ``None``; ``time_column`` is the
    column that holds the events' time when the kind of file says so (OTLP); ``scanned``
    lists the Parquet files that ``frame`` scans (text files' cached copies included; nested
    fields flattened), or is empty when the frame is more than a scan of Parquet files.
    """

    frame: pl.LazyFrame
    files: tuple[str, ...]
    skipped_lines: dict[str, int] = field(default_factory=dict)
    signal: str | None = None
    time_column: str | None = None
    scanned: tuple[str, ...] = ()


@dataclass
class _Part:
    kind: FileKind
    frame: pl.LazyFrame
    schema: dict[str, pl.DataType]
    signal: str | None = None
    parquet: str | None = None  # the Parquet file that ``frame`` scans (and flattens)


def _scan_binary(kind: FileKind) -> pl.LazyFrame:
    try:
        if kind.format == "parquet":
            frame = pl.scan_parquet(kind.path, hive_partitioning=False, glob=False)
            frame.collect_schema()  # reads the footer: a broken file fails here
            return frame
        pl.read_ipc_schema(kind.path)
        return pl.scan_ipc(kind.path, hive_partitioning=False, glob=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SourceError(
            f"could not read {kind.path}: {first_line(exc)}; is it a valid, complete file?"
        ) from None


def _read_one(
    kind: FileKind, *, skip_bad_lines: bool
) -> tuple[pl.LazyFrame, str | None, int, str | None]:
    """One file as a lazy frame, its OTLP signal (or None), the lines it skipped and the
    Parquet file the frame scans as it is (or None)."""
    check_content(kind)
    if kind.format in ("parquet", "ipc"):
        return _scan_binary(kind), None, 0, kind.path if kind.format == "parquet" else None
    if kind.format == "csv":
        read = scan_csv(kind, skip_bad_lines=skip_bad_lines)
        return read.frame, None, read.skipped, read.parquet
    if otlp.detect(text_head(kind, 256)):
        spans = otlp.read_otlp(kind, skip_bad_lines=skip_bad_lines)
        return spans.frame, spans.signal, spans.skipped, spans.parquet
    if is_json_array(kind):
        return read_json_array(kind).lazy(), None, 0, None
    read = scan_ndjson(kind, skip_bad_lines=skip_bad_lines)
    return read.frame, None, read.skipped, read.parquet


def _hive_columns(files: Sequence[str]) -> dict[str, list[pl.Expr]]:
    """Per file, its partition keys as literal columns: Int64 when every value of the key
    (across all files) is an integer, else String; a file without the key gets null."""
    keys = {f: hive_keys(f) for f in files}
    names = sorted({k for kv in keys.values() for k in kv})
    out: dict[str, list[pl.Expr]] = {f: [] for f in files}
    for name in names:
        values = [kv.get(name) for kv in keys.values()]
        integer = all(v is None or v.lstrip("-").isdigit() for v in values)
        for f, kv in keys.items():
            v = kv.get(name)
            if integer:
                out[f].append(pl.lit(None if v is None else int(v), dtype=pl.Int64).alias(name))
            else:
                out[f].append(pl.lit(v, dtype=pl.String).alias(name))
    return out


def _with_hive(part: _Part, columns: list[pl.Expr]) -> _Part:
    # a writer may keep the partition columns in the files too: the file's values win
    columns = [c for c in columns if c.meta.output_name() not in part.schema]
    if not columns:
        return part
    frame = part.frame.with_columns(columns)
    return _Part(part.kind, frame, dict(frame.collect_schema()), part.signal)  # not plain


def read_files(paths: Sequence[str], *, skip_bad_lines: bool = False) -> FileSource:
    """Read every file that ``paths`` name into one lazy frame (union by column name).

    Parameters
    ----------
    paths
        Files, globs and directories (read recursively).
    skip_bad_lines
        Skip malformed JSON lines and CSV rows with too many fields (counted in
        :attr:`FileSource.skipped_lines`) instead of failing on the first one.

    Examples
    --------
    >>> src = read_files(["sample_data/builds.parquet"])
    >>> src.files, src.frame.collect_schema()["ts"]
    (('sample_data/builds.parquet',), Datetime(time_unit='us', time_zone='UTC'))
    """
    files: list[str] = []
    for p in paths:
        files.extend(f for f in expand(p) if f not in files)
    kinds = [kind_of(f) for f in files]
    hive = _hive_columns(files)
    parts: list[_Part] = []
    skipped: dict[str, int] = {}
    for kind in kinds:
        frame, signal, n_bad, parquet = _read_one(kind, skip_bad_lines=skip_bad_lines)
        if n_bad:
            skipped[kind.path] = n_bad
        try:
            flat = flatten(frame, where=kind.path)
            schema = dict(flat.collect_schema())
        except pl.exceptions.PolarsError as exc:
            raise SourceError(f"could not read {kind.path}: {first_line(exc)}") from None
        part = _Part(kind, flat, schema, signal, parquet)
        parts.append(_with_hive(part, hive[kind.path]))
    signals = {p.signal for p in parts}
    if len(signals) > 1:
        shown = sorted("plain events" if s is None else f"OTLP {s}" for s in signals)
        raise SourceError(
            f"the source mixes {' and '.join(shown)}; read each kind of file separately"
        )
    signal = signals.pop()
    target = union([(p.kind.path, p.schema) for p in parts])
    plain = [p.parquet for p in parts if p.parquet is not None and not hive[p.kind.path]]
    scanned: tuple[str, ...] = ()
    if len(parts) == 1:
        frame = parts[0].frame
        scanned = tuple(plain)
    elif len(plain) == len(parts) and all(p.schema == target for p in parts):
        scanned = tuple(str(p) for p in plain)
        frame = flatten(
            pl.scan_parquet(list(scanned), hive_partitioning=False, glob=False), where=files[0]
        )
    else:
        frame = pl.concat([conform(p.frame, target) for p in parts], how="vertical")
    return FileSource(
        frame=frame,
        files=tuple(files),
        skipped_lines=skipped,
        signal=signal,
        time_column=None if signal is None else otlp.TIME_COLUMN[signal],
        scanned=scanned,
    )
