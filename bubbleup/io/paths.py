"""Paths to files: globs and directories expanded, each file's kind, hive partition keys.

The kind of a file comes from its extension (``events.ndjson.gz``: NDJSON, gzip); its first
bytes are then checked against that kind, so that a file that is not what its name says is
reported by name instead of failing deep inside a reader.
"""

from __future__ import annotations

import glob as globlib
import gzip
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from bubbleup.errors import SourceError

#: File formats by extension.
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
#: Compressions read for text formats (CSV, NDJSON), by extension.
COMPRESSIONS: dict[str, str] = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}
#: Compressions recognised by extension but not read.
UNSUPPORTED_COMPRESSIONS: dict[str, str] = {
    ".bz2": "bzip2",
    ".xz": "xz",
    ".lz4": "lz4",
    ".lzma": "lzma",
    ".zip": "zip",
    ".br": "brotli",
    ".snappy": "snappy",
    ".z": "compress",
    ".7z": "7-zip",
    ".tar": "tar",
    ".tgz": "tar+gzip",
}
#: First bytes of the file kinds a misnamed file most often turns out to be.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PAR1", "a Parquet file"),
    (b"ARROW1", "an Arrow IPC file"),
    (b"\x1f\x8b", "gzip-compressed"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed"),
    (b"\xfd7zXZ\x00", "xz-compressed"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\x04\x22\x4d\x18", "lz4-compressed"),
    (b"BZh", "bzip2-compressed"),
)
_NAMES = {"parquet": "Parquet", "csv": "CSV", "ndjson": "NDJSON", "ipc": "Arrow IPC"}
_HIVE_PART = re.compile(r"^([^=]+)=(.*)$")
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class FileKind:
    """One input file: its path, format (``parquet``, ``csv``, ``ndjson``, ``ipc``) and
    compression (``None``, ``gzip`` or ``zstd``; text formats only)."""

    path: str
    format: str
    compression: str | None = None

    @property
    def separator(self) -> str:
        """The CSV field separator (tab for ``.tsv``)."""
        stem = self.path.lower()
        for suffix in COMPRESSIONS:
            stem = stem.removesuffix(suffix)
        return "\t" if stem.endswith(".tsv") else ","


def _suffixes(path: str) -> tuple[str, str]:
    """The last two extensions of ``path``, lower-cased (``('.ndjson', '.gz')``)."""
    name = Path(path).name.lower()
    last = Path(name).suffix
    before = Path(name[: -len(last)]).suffix if last else ""
    return before, last


def is_event_file(path: str) -> bool:
    """Whether a file found in a directory should be read (by its name alone).

    Examples
    --------
    >>> [is_event_file(p) for p in ("a.parquet", "a.csv.gz", "a.ndjson.bz2", "README.md")]
    [True, True, True, False]
    >>> is_event_file("_SUCCESS"), is_event_file(".part-0.parquet.crc")
    (False, False)
    """
    if Path(path).name.startswith((".", "_")):
        return False
    before, last = _suffixes(path)
    if last in FORMATS:
        return True
    compressed = last in COMPRESSIONS or last in UNSUPPORTED_COMPRESSIONS
    return compressed and before in FORMATS


def kind_of(path: str) -> FileKind:
    """Return the kind of ``path`` from its extension.

    Examples
    --------
    >>> kind_of("logs/app.ndjson.zst")
    FileKind(path='logs/app.ndjson.zst', format='ndjson', compression='zstd')
    >>> kind_of("events.csv.bz2")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bubbleup.errors.SourceError: unsupported compression bzip2 for events.csv.bz2; ...
    """
    before, last = _suffixes(path)
    if last in FORMATS:
        return FileKind(path, FORMATS[last])
    if last in UNSUPPORTED_COMPRESSIONS:
        raise SourceError(
            f"unsupported compression {UNSUPPORTED_COMPRESSIONS[last]} for {path}; "
            "decompress it or recompress it with gzip (.gz) or zstd (.zst)"
        )
    if last in COMPRESSIONS and before in FORMATS:
        fmt = FORMATS[before]
        if fmt in ("parquet", "ipc"):
            raise SourceError(
                f"{path}: a compressed {_NAMES[fmt]} file is not read; decompress it "
                f"({_NAMES[fmt]} compresses its contents itself)"
            )
        return FileKind(path, fmt, COMPRESSIONS[last])
    known = ", ".join(sorted(FORMATS))
    shown = f"{before}{last}" if last in COMPRESSIONS else last
    raise SourceError(
        f"unknown file type '{shown or path}' for {path}; use one of: {known} "
        "(CSV and NDJSON may end in .gz or .zst)"
    )


def has_glob(path: str) -> bool:
    """Whether ``path`` has glob characters (``*``, ``?``, ``[``).

    Examples
    --------
    >>> has_glob("logs/*.parquet"), has_glob("ev[1].parquet"), has_glob("events.csv")
    (True, True, False)
    """
    return any(ch in path for ch in "*?[")


def expand(path: str) -> list[str]:
    """Expand a file, glob or directory (read recursively) into the files it names.

    Hidden files and files starting with ``_`` (``_SUCCESS``) are skipped in directories;
    files with other extensions too. A path that exists is taken as it is, even if its
    name has glob characters (``ev[1].parquet``).

    Raises
    ------
    SourceError
        Nothing matches, the directory has no event files, or it cannot be read.

    Examples
    --------
    >>> expand("sample_data")
    ['sample_data/builds.parquet']
    >>> expand("sample_data/*.parquet") == expand("sample_data/builds.parquet")
    True
    """
    if not os.path.exists(path) and has_glob(path):
        matches = sorted(p for p in globlib.glob(path, recursive=True) if os.path.isfile(p))
        if not matches:
            raise SourceError(
                f"no files match {path}; check the pattern (and quote it so that "
                "the shell does not expand it)"
            )
        return matches
    if os.path.isdir(path):
        files = sorted(f for f in _walk(path) if is_event_file(f))
        if not files:
            raise SourceError(
                f"directory {path} has no event files (.parquet, .csv, .ndjson, .arrow; "
                "CSV and NDJSON may end in .gz or .zst)"
            )
        return files
    if not os.path.exists(path):
        raise SourceError(f"file not found: {path}")
    if not os.path.isfile(path):  # a FIFO, socket or device: opening it may block forever,
        # and the events are read more than once (a schema, then the passes)
        raise SourceError(
            f"{path} is not a regular file (a pipe, socket or device); "
            "write the events to a file and analyse that"
        )
    return [path]


def _walk(folder: str) -> list[str]:
    """Every file under ``folder``; a directory that cannot be listed is an error (a
    silent skip would drop its events from the analysis)."""

    def unreadable(exc: OSError) -> None:
        where = exc.filename or folder
        raise SourceError(f"cannot read directory {where}: {exc.strerror or exc}") from None

    found: list[str] = []
    for top, _dirs, names in os.walk(folder, onerror=unreadable):
        found += [p for p in (os.path.join(top, n) for n in names) if os.path.isfile(p)]
    return found


def _head(path: str, n: int = 8) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError as exc:
        raise SourceError(f"could not read {path}: {exc.strerror}") from None


def _looks_like(head: bytes) -> str | None:
    for magic, what in _MAGIC:
        if head.startswith(magic) and (magic != b"BZh" or head[3:4].isdigit()):
            return what
    return None


def text_head(kind: FileKind, n: int = 65536) -> bytes:
    """The first ``n`` (decompressed) bytes of a text file."""
    if kind.compression == "gzip":
        with gzip.open(kind.path, "rb") as fh:
            return fh.read(n)
    if kind.compression == "zstd":
        import zstandard

        with open(kind.path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as fh:
            return fh.read(n)
    with open(kind.path, "rb") as fh:
        return fh.read(n)


def check_content(kind: FileKind) -> None:
    """Check that the first bytes of a file agree with its extension.

    Raises
    ------
    SourceError
        Naming the file, what it looks like, and how to fix it.
    """
    head = _head(kind.path)
    what = _looks_like(head)
    name = _NAMES[kind.format]
    path = kind.path
    if not head:
        if kind.format in ("parquet", "ipc") or kind.compression:
            raise SourceError(f"could not read {path}: the file is empty")
        return
    if kind.format == "parquet":
        if not head.startswith(b"PAR1"):
            raise SourceError(
                f"could not read {path}: it is not a Parquet file"
                f"{f' (it looks like {what})' if what else ''}; is it a valid, complete file?"
            )
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 4))
            if size < 12 or fh.read(4) != b"PAR1":
                raise SourceError(
                    f"could not read {path}: the Parquet footer is missing (truncated?); "
                    "is it a valid, complete file?"
                )
        return
    if kind.format == "ipc":
        if what and what != "an Arrow IPC file":
            raise SourceError(
                f"could not read {path}: it is not an Arrow IPC file (it looks like {what})"
            )
        return
    expected = {"gzip": "gzip-compressed", "zstd": "zstd-compressed", None: None}[kind.compression]
    if expected and what != expected:
        raise SourceError(
            f"could not read {path}: the name says {kind.compression} but the content is not "
            f"{kind.compression}-compressed{f' (it looks like {what})' if what else ''}; "
            "rename the file to match its content"
        )
    if not expected and what:
        hint = ""
        if what in ("gzip-compressed", "zstd-compressed"):
            hint = f"; name it {path}{'.gz' if what.startswith('gzip') else '.zst'}"
        raise SourceError(
            f"could not read {path}: the name says {name} but the file looks like {what}"
            f"{hint or '; rename it to match its content'}"
        )
    if kind.format == "ndjson":
        first = text_head(kind, 4096).lstrip()
        if first.startswith(b"\xef\xbb\xbf"):
            first = first[3:].lstrip()
        if first and first[:1] not in (b"{", b"["):
            shown = first[:30].decode("utf-8", "replace").splitlines()[0]
            raise SourceError(
                f"could not read {path}: the name says NDJSON but the file does not start "
                f"with a JSON object (it starts with {shown!r}); rename it to match its content"
            )


def hive_keys(path: str) -> dict[str, str | None]:
    """The ``key=value`` directory names on the way to ``path`` (hive partitioning).

    Values are URL-decoded; ``__HIVE_DEFAULT_PARTITION__`` stands for a missing value.

    Examples
    --------
    >>> hive_keys("events/date=2026-11-20/region=eu%20west/part-0.parquet")
    {'date': '2026-11-20', 'region': 'eu west'}
    """
    keys: dict[str, str | None] = {}
    for part in Path(path).parent.parts:
        m = _HIVE_PART.match(part)
        if m:
            value = unquote(m.group(2))
            keys[unquote(m.group(1))] = None if value in (HIVE_NULL, "") else value
    return keys
