"""Where a Result came from: the source and the options of the analysis that made it.

A :class:`bubbleup.Result` keeps its :class:`Origin` so that it can go back to the events
(:meth:`~bubbleup.Result.rows`), run again on a narrower scope
(:meth:`~bubbleup.Result.drill`), and say which command reproduces it (the HTML report).
The source is kept as given (a path, or a reference to the in-memory frame, not a copy).
"""

from __future__ import annotations

import inspect
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

#: Options of :func:`bubbleup.analyze` and the command-line flags that give them.
_FLAGS = {
    "baseline": "--baseline",
    "filter": "--filter",
    "alpha": "--alpha",
    "min_lift": "--min-lift",
    "min_share": "--min-share",
    "max_order": "--max-order",
    "time_column": "--time-column",
    "since": "--since",
    "until": "--until",
    "after": "--after",
    "spark_master": "--spark-master",
}
_DEFAULTS: dict[str, Any] = {"alpha": 0.05, "min_lift": 1.5, "min_share": 0.05, "max_order": 3}
_TEXT = ("baseline", "filter", "time_column", "since", "until", "after", "spark_master")
_HANDLED = {
    "source",
    "where",
    "weight",
    "columns",
    "exclude",
    "outcomes",
    "context",
    "skip_bad_lines",
    "engine",
    *_TEXT,
    *_DEFAULTS,
}


@dataclass(frozen=True)
class Origin:
    """The source and keyword options of one call of :func:`bubbleup.analyze`.

    ``options`` holds every keyword argument except ``progress``, so that
    ``analyze(origin.source, **origin.options)`` runs the same analysis again.
    """

    source: Any
    options: Mapping[str, Any] = field(default_factory=dict)

    def rerun_options(self, **changes: Any) -> dict[str, Any]:
        """The options with ``changes`` applied, ready for :func:`bubbleup.analyze`."""
        return {**self.options, **changes}

    def command(self, *, extra: tuple[str, ...] = ()) -> str | None:
        """The ``bubbleup analyze`` command line that reproduces the analysis, or ``None``.

        ``None`` when the source is an in-memory frame, a predicate is a polars expression,
        or an option the command line cannot give differs from its default: no command
        line reproduces those.

        Examples
        --------
        >>> Origin("events.parquet", {"where": "status >= 500", "weight": False}).command()
        "bubbleup analyze events.parquet --where 'status >= 500' --no-weight"
        """
        paths = _paths(self.source)
        if paths is None:
            return None
        opts = self.options
        if any(isinstance(opts.get(k), pl.Expr) for k in ("where", "baseline", "filter")):
            return None
        if any(not _is_default(k, v) for k, v in opts.items() if k not in _HANDLED):
            return None
        args = ["bubbleup", "analyze", *paths]
        if opts.get("where") is not None:
            args += ["--where", str(opts["where"])]
        for key in _TEXT:
            value = opts.get(key)
            if value is not None:
                text = value.isoformat() if hasattr(value, "isoformat") else str(value)
                args += [_FLAGS[key], text]
        if opts.get("skip_bad_lines"):
            args.append("--skip-bad-lines")
        if opts.get("engine") == "spark":
            args += ["--engine", "spark"]
        weight = opts.get("weight")
        if weight is False:
            args.append("--no-weight")
        elif isinstance(weight, str):
            args += ["--weight", weight]
        for key, flag in (
            ("columns", "--columns"),
            ("exclude", "--exclude"),
            ("outcomes", "--outcome"),
            ("context", "--context"),
        ):
            if opts.get(key):
                names = [opts[key]] if isinstance(opts[key], str) else opts[key]
                args += [flag, ",".join(names)]
        for key, default in _DEFAULTS.items():
            if key in opts and opts[key] != default:
                args += [_FLAGS[key], f"{opts[key]:g}"]
        args += list(extra)
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


def _is_default(name: str, value: Any) -> bool:
    from bubbleup.pipeline.analyze import analyze

    parameter = inspect.signature(analyze).parameters.get(name)
    if parameter is None:
        return value is None
    default = parameter.default
    if value is default:
        return True
    return isinstance(value, (bool, int, float, str)) and value == default


def _paths(source: Any) -> list[str] | None:
    if isinstance(source, (str, os.PathLike)):
        return [os.fspath(source)]
    if isinstance(source, (list, tuple)) and all(isinstance(s, (str, os.PathLike)) for s in source):
        return [os.fspath(s) for s in source]
    return None
