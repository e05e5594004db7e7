"""``bubbleup mcp``: a Model Context Protocol server over the events in a few folders.

An assistant (Claude Code, Cursor, an on-call bot) gets bubbleup as six tools:
``list_sources``, ``describe_columns``, ``analyze``, ``example_rows``, ``drill`` and
``value_counts``. Each tool makes the same library call the CLI makes
(:func:`bubbleup.analyze`, :func:`bubbleup.describe_columns`, :meth:`Result.rows`,
:meth:`Result.drill`, :meth:`Result.histogram`) and returns a bounded part of
:meth:`Result.to_dict`, so the server has no analysis of its own.

Safety
------
- Only files under the ``--root`` folders are read: every path is resolved (symlinks,
  ``..``) and every file a glob or folder names is checked before the library reads it
  (:class:`Roots`). Nothing is written.
- Predicates go to :func:`bubbleup.analyze` as text and are compiled (and gated) there,
  as for the CLI; nothing is evaluated here.
- Every tool call runs in a worker thread for at most ``timeout`` seconds
  (:data:`TIMEOUT`). A call that runs out of time gets a tool error at once; its work
  cannot be interrupted (polars has no cancellation), so the thread runs on until it
  ends and its answer is dropped. At most :data:`MAX_BUSY` calls run at a time, the
  abandoned ones included; past that a call is refused until one ends.
- Outputs are bounded (:func:`bound`): at most :data:`MAX_TOP` explanations,
  :data:`MAX_ATTRIBUTES` attributes, :data:`MAX_LIST` entries in any other list,
  :data:`MAX_TEXT` characters in any string from the data (cut with a marker), and
  :data:`MAX_OUTPUT` characters of JSON per tool result, whatever the source.
- Results are kept in memory, the last :data:`MAX_RESULTS` of them, under ids
  (``r1``, ``r2``...) that ``example_rows``, ``drill`` and ``value_counts`` take.
- An error is a tool error (``isError``) whose text is the one line the CLI prints after
  ``Error:``; the server keeps answering.

The SDK (``pip install 'bubbleup[mcp]'``) is imported only by :func:`build_server` and
:func:`serve`; the rest of this package works without it.

Modules: :mod:`~bubbleup.interfaces.mcpserver.limits` (the limits and the bounding),
:mod:`~bubbleup.interfaces.mcpserver.roots` (confinement to the roots, the sources),
:mod:`~bubbleup.interfaces.mcpserver.tools` (the tools as plain Python) and
:mod:`~bubbleup.interfaces.mcpserver.server` (the MCP server itself).
"""

from __future__ import annotations

from bubbleup.interfaces.mcpserver.limits import (
    DEFAULT_TOP,
    MAX_ATTRIBUTES,
    MAX_BUSY,
    MAX_COLUMNS,
    MAX_LIST,
    MAX_OUTPUT,
    MAX_RESULTS,
    MAX_ROW_COLUMNS,
    MAX_ROWS,
    MAX_SCANNED,
    MAX_SOURCES,
    MAX_TEXT,
    MAX_TOP,
    MAX_VALUES,
    TIMEOUT,
    TOKEN_VARIABLE,
    bound,
    cut,
)
from bubbleup.interfaces.mcpserver.roots import Roots, list_sources
from bubbleup.interfaces.mcpserver.server import Busy, build_server, serve
from bubbleup.interfaces.mcpserver.tools import Results, Tools, result_doc, summary

__all__ = [
    "DEFAULT_TOP",
    "MAX_ATTRIBUTES",
    "MAX_BUSY",
    "MAX_COLUMNS",
    "MAX_LIST",
    "MAX_OUTPUT",
    "MAX_RESULTS",
    "MAX_ROWS",
    "MAX_ROW_COLUMNS",
    "MAX_SCANNED",
    "MAX_SOURCES",
    "MAX_TEXT",
    "MAX_TOP",
    "MAX_VALUES",
    "TIMEOUT",
    "TOKEN_VARIABLE",
    "Busy",
    "Results",
    "Roots",
    "Tools",
    "bound",
    "build_server",
    "cut",
    "list_sources",
    "result_doc",
    "serve",
    "summary",
]
