"""Where a Result came from: the source and the options of the analysis that made it.

A :class:`bubbleup.Result` keeps its :class:`Origin` so that it can go back to the events
(:meth:`~bubbleup.Result.rows`), run again on a narrower scope
(:meth:`~bubbleup.Result.drill`), and say which command reproduces it (the HTML report).
The source is kept as given (a path, or a reference to the in-memory frame, not a copy).
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from bubbleup.options import Options


@dataclass(frozen=True)
class Origin:
    """The source and options of one call of :func:`bubbleup.analyze`.

    ``analyze(origin.source, origin.options)`` runs the same analysis again.
    """

    source: Any
    options: Options = field(default_factory=Options)

    def rerun(self, **changes: Any) -> Options:
        """The options with ``changes`` applied, ready for :func:`bubbleup.analyze`."""
        return self.options.replace(**changes)

    def command(self, *, extra: tuple[str, ...] = ()) -> str | None:
        """The ``bubbleup analyze`` command line that reproduces the analysis, or ``None``.

        ``None`` when the source is an in-memory frame or a predicate is a polars
        expression: no command line reproduces those.

        Examples
        --------
        >>> opts = Options(where="status >= 500", weight=False)
        >>> Origin("events.parquet", opts).command()
        "bubbleup analyze events.parquet --where 'status >= 500' --no-weight"
        """
        paths = _paths(self.source)
        flags = self.options.command_args()
        if paths is None or flags is None:
            return None
        args = ["bubbleup", "analyze", *paths, *flags, *extra]
        return " ".join(shell_quote(a) for a in args)


_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+\Z")


def shell_quote(text: str) -> str:
    """Quote one argument for a POSIX shell, readably (SQL keeps its single quotes).

    Examples
    --------
    >>> print(shell_quote("a.parquet"), shell_quote("x > 1"), shell_quote("k = 'v'"))
    a.parquet 'x > 1' "k = 'v'"
    """
    if _SAFE.match(text):
        return text
    if "'" not in text:
        return f"'{text}'"
    if not any(c in text for c in '"$`\\!'):
        return f'"{text}"'
    return shlex.quote(text)


def _paths(source: Any) -> list[str] | None:
    if isinstance(source, (str, os.PathLike)):
        return [os.fspath(source)]
    if isinstance(source, (list, tuple)) and all(isinstance(s, (str, os.PathLike)) for s in source):
        return [os.fspath(s) for s in source]
    return None
