"""The folders an agent may read: paths resolved and confined, and the sources listed."""

from __future__ import annotations

import glob as globlib
import os
import re
from collections.abc import Sequence
from typing import Any

from bubbleup.errors import BubbleupError, SourceError, UsageError
from bubbleup.interfaces.mcpserver.limits import MAX_SCANNED, MAX_SOURCES, bound, cut
from bubbleup.io.paths import FORMATS, expand, is_event_file, kind_of


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
