"""The limits of every tool answer, and the bounding that keeps them.

See :mod:`bubbleup.interfaces.mcpserver` for what each limit is for.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from bubbleup import printable
from bubbleup.errors import UsageError

#: Explanations an ``analyze`` or ``drill`` answer may show (``top`` above is an error).
MAX_TOP = 50
#: Explanations shown when ``top`` is not given.
DEFAULT_TOP = 10
#: Attributes listed in an answer (by distance; ``value_counts`` reaches any of them).
MAX_ATTRIBUTES = 25
#: Entries kept in any other list of an answer (left-out columns, aliases...).
MAX_LIST = 50
#: Characters kept of any string; the rest is replaced by a marker saying how many.
MAX_TEXT = 200
#: Columns ``describe_columns`` describes per call (``offset`` pages through the rest).
MAX_COLUMNS = 100
#: Events per side ``example_rows`` returns, and columns per event.
MAX_ROWS = 20
MAX_ROW_COLUMNS = 40
#: Values ``value_counts`` returns.
MAX_VALUES = 50
#: Entries ``list_sources`` returns, and directory entries it looks at.
MAX_SOURCES = 200
MAX_SCANNED = 20_000
#: Characters of JSON in one tool result (sent as text and as structured content).
MAX_OUTPUT = 40_000
#: Results kept for ``example_rows``, ``drill`` and ``value_counts``.
MAX_RESULTS = 16
#: Seconds a tool call may run by default.
TIMEOUT = 120.0
#: Tool calls running at once, abandoned ones included.
MAX_BUSY = 2
#: The token for ``--http`` is read from this variable when it is set.
TOKEN_VARIABLE = "BUBBLEUP_MCP_TOKEN"

INSTALL_HINT = "bubbleup mcp needs the MCP SDK; install it with: pip install 'bubbleup[mcp]'"


def cut(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, with a marker saying how many were cut.

    Examples
    --------
    >>> cut("abcdef", 3)
    'abc…[3 more characters]'
    >>> cut("abc", 3)
    'abc'
    """
    return printable.cut(text, limit, marker="…[{n:,} more characters]")


def _plain(value: Any) -> Any:
    """``value`` as JSON data: strings cut, non-finite floats as text, lists kept whole."""
    if isinstance(value, str):
        return cut(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return cut(str(value))


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False))


def _lists(value: Any, path: str = "") -> Iterator[tuple[str, list[Any]]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _lists(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        if path:
            yield path, value
        for i, v in enumerate(value):
            yield from _lists(v, f"{path}[{i}]")


def bound(
    doc: dict[str, Any],
    *,
    caps: dict[str, int] | None = None,
    limit: int = MAX_OUTPUT,
) -> dict[str, Any]:
    """``doc`` made small enough to hand to a model, and a ``truncated`` note of what went.

    Strings are cut to :data:`MAX_TEXT` characters; each list is cut to its cap
    (``caps`` by dotted key, else :data:`MAX_LIST`); then, while the JSON is longer than
    ``limit`` characters, the longest list is halved. Every cut list is named in
    ``doc["truncated"]`` with how many entries were kept.

    Examples
    --------
    >>> out = bound({"a": list(range(80)), "b": "x" * 300}, caps={"a": 10})
    >>> len(out["a"]), out["truncated"]
    (10, {'a': 'kept 10 of 80'})
    >>> out["b"][-22:]
    '…[100 more characters]'
    """
    caps = caps or {}
    out: dict[str, Any] = _plain(doc)
    notes: dict[str, str] = dict(out.pop("truncated", None) or {})
    totals: dict[int, int] = {}

    def shorten(path: str, items: list[Any], keep: int) -> None:
        total = totals.setdefault(id(items), len(items))
        del items[keep:]
        notes[path] = f"kept {keep:,} of {total:,}"

    for path, items in list(_lists(out)):
        cap = caps.get(path, caps.get(path.split(".")[-1].split("[")[0], MAX_LIST))
        if len(items) > cap:
            shorten(path, items, cap)
    while _size({**out, "truncated": notes}) > limit:
        candidates = [(_size(v), p, v) for p, v in _lists(out) if len(v) > 1]
        if not candidates:
            raise UsageError(f"the answer is larger than {limit:,} characters even when cut")
        _, path, items = max(candidates, key=lambda c: c[0])
        shorten(path, items, len(items) // 2)
    if notes:
        out["truncated"] = notes
    return out
