"""The text cache: CSV, TSV and NDJSON files converted once to Parquet, reused while unchanged.

A text file is parsed in one streaming pass (polars' streaming engine: memory stays flat as
the file grows) into a Parquet file; the later stages then scan that file, so they read
only the columns they need, as often as they need, and take the Parquet fast path
(:mod:`bubbleup.engines.parquet`). A later run on the same, unchanged file reuses it.

Where
    ``$BUBBLEUP_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/bubbleup``, else
    ``~/.cache/bubbleup``; entries are ``text-v2/<key>.parquet``. With
    ``BUBBLEUP_CACHE_DIR=off`` (or when the directory cannot be written) the Parquet files go
    to a temporary directory of the process, removed when it exits.
Key
    The file's real path, size and modification time (nanoseconds) and the reading options
    (``--skip-bad-lines``): a changed file gets a new entry.
Bounded
    After each conversion the least recently used entries are deleted until the entries
    take at most ``$BUBBLEUP_CACHE_MAX_GB`` gigabytes (default 20); the entry just made is
    kept even when it alone is larger.
Safe to delete
    Every entry is a complete Parquet file, renamed into place only once fully written;
    delete any of them (or the whole directory) whenever no bubbleup run is reading it.
    A conversion that fails (bad input, a full disk, Ctrl-C) leaves nothing behind.
Layout
    lz4-compressed, with statistics, in row groups of up to 262,144 events (fewer for wide
    events, :func:`bubbleup.io.text.row_group_rows`): the copy analyses about as fast as
    the same events in a Parquet file written by pyarrow. Entries of an older layout
    (``text-v1/``...) are no longer read: the next conversion deletes them.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from bubbleup.io.paths import FileKind

#: Bump when the conversion changes what it writes: older entries are then ignored.
VERSION = 2
#: The Parquet metadata key holding the number of malformed lines skipped.
SKIPPED_KEY = "bubbleup.skipped_lines"
_DEFAULT_MAX_GB = 20.0
_session: list[Path] = []


def _session_dir() -> Path:
    """A temporary directory for this process, removed at exit."""
    if not _session:
        path = Path(tempfile.mkdtemp(prefix="bubbleup-cache-"))
        _session.append(path)
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    return _session[0]


def cache_dir() -> Path:
    """The directory of the text cache's entries (created if missing)."""
    setting = os.environ.get("BUBBLEUP_CACHE_DIR", "")
    if setting.lower() in ("off", "0", "none"):
        return _session_dir()
    if setting:
        root = Path(setting)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "bubbleup"
    path = root / f"text-v{VERSION}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            return _session_dir()
    except OSError:
        return _session_dir()
    return path


def max_bytes() -> int:
    """The size the entries may take, from ``$BUBBLEUP_CACHE_MAX_GB`` (default 20)."""
    try:
        gb = float(os.environ.get("BUBBLEUP_CACHE_MAX_GB", _DEFAULT_MAX_GB))
    except ValueError:
        gb = _DEFAULT_MAX_GB
    return int(max(gb, 0.0) * 1e9)


def key(kind: FileKind, options: str) -> str:
    """The cache key of a file: its real path, size and modification time, and ``options``."""
    stat = os.stat(kind.path)
    parts = [VERSION, os.path.realpath(kind.path), stat.st_size, stat.st_mtime_ns]
    parts += [kind.format, kind.compression, kind.separator, options]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


@contextlib.contextmanager
def scratch(directory: Path, suffix: str) -> Iterator[Path]:
    """A temporary file name in ``directory``, removed on the way out whatever happens."""
    fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def entry(kind: FileKind, options: str, convert: Callable[[Path], None]) -> Path:
    """The cached Parquet file for ``kind``, made by ``convert(path)`` when missing.

    ``convert`` writes the complete Parquet file at the path it is given (a temporary name,
    renamed into place only after it returns); if it raises, nothing is left behind.
    """
    directory = cache_dir()
    target = directory / f"{key(kind, options)}.parquet"
    if target.is_file():
        with contextlib.suppress(OSError):
            os.utime(target)  # most recently used
        return target
    with scratch(directory, ".parquet") as tmp:
        convert(tmp)
        os.replace(tmp, target)
    evict(directory, keep=target)
    retire(directory)
    return target


def retire(directory: Path) -> list[Path]:
    """Delete the entries of older layouts (``text-v1/`` beside ``text-v2/``...): no run of
    this version reads them, and they would sit outside :func:`max_bytes`."""
    removed: list[Path] = []
    if directory.name != f"text-v{VERSION}":  # a temporary directory: nothing beside it is ours
        return removed
    for old in directory.parent.glob("text-v*"):
        number = old.name.removeprefix("text-v")
        if old.is_dir() and number.isdigit() and int(number) < VERSION:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed


def evict(directory: Path, *, keep: Path) -> list[Path]:
    """Delete the least recently used entries until they fit in :func:`max_bytes`."""
    entries = []
    for path in directory.glob("*.parquet"):
        if path.name.startswith("."):  # another run's conversion under way
            continue
        with contextlib.suppress(OSError):
            stat = path.stat()
            entries.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in entries)
    removed: list[Path] = []
    for _, size, path in sorted(entries):
        if total <= max_bytes():
            break
        if path == keep:
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
            total -= size
    return removed
