"""The exceptions bubbleup raises.

Every expected failure (bad input, bad predicate, empty selection...) is a subclass of
:class:`BubbleupError` whose message is one line that names the problem and the fix. The CLI
turns these into ``Error: <message>`` on stderr and exit code 1; anything else is a bug.

Messages name the caller's parameters as the caller wrote them: ``column 'x' in where not
found`` from ``bubbleup.analyze(where=...)``, ``column 'x' in --where not found`` from the
command line. Library code spells a parameter with :func:`option_name`; the CLI's error
boundary runs the library inside :func:`command_line_names`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: The command-line flag of each library parameter a message may name.
FLAGS = {
    "where": "--where",
    "baseline": "--baseline",
    "filter": "--filter",
    "weight": "--weight",
    "no_weight": "--no-weight",
    "columns": "--columns",
    "exclude": "--exclude",
    "outcomes": "--outcome",
    "context": "--context",
    "time_column": "--time-column",
    "since": "--since",
    "until": "--until",
    "after": "--after",
    "skip_bad_lines": "--skip-bad-lines",
    "engine": "--engine",
    "engine_spark": "--engine spark",
    "spark_master": "--spark-master",
}
#: How the library's own interface spells what the command line has a flag of its own for.
_LIBRARY = {"no_weight": "weight=False", "engine_spark": "engine='spark'"}
_COMMAND_LINE: ContextVar[bool] = ContextVar("bubbleup_command_line", default=False)


def option_name(parameter: str) -> str:
    """How the caller's interface names ``parameter`` (a parameter of ``analyze``).

    Examples
    --------
    >>> option_name("where"), option_name("outcomes"), option_name("no_weight")
    ('where', 'outcomes', 'weight=False')
    >>> with command_line_names():
    ...     option_name("where"), option_name("outcomes"), option_name("no_weight")
    ('--where', '--outcome', '--no-weight')
    """
    if _COMMAND_LINE.get():
        return FLAGS.get(parameter, parameter)
    return _LIBRARY.get(parameter, parameter)


@contextmanager
def command_line_names() -> Iterator[None]:
    """Inside, messages name the command-line flags (``--where``), not the parameters."""
    token = _COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _COMMAND_LINE.reset(token)


def first_line(exc: BaseException, default: str | None = None) -> str:
    """The first line of an exception's message (``default``, else its type name, if empty).

    Examples
    --------
    >>> first_line(ValueError("bad value\\nmore detail")), first_line(OSError())
    ('bad value', 'OSError')
    """
    text = str(exc).strip()
    return text.splitlines()[0] if text else (default or type(exc).__name__)


class BubbleupError(Exception):
    """Base class of every error bubbleup reports to a user."""


class SourceError(BubbleupError):
    """The input could not be found, recognised or read."""


class PredicateError(BubbleupError):
    """A ``where``, ``baseline`` or ``filter`` predicate is malformed, not boolean, or fails
    on the events (a cast that cannot be done)."""


class ColumnError(BubbleupError):
    """A column named by the user does not exist."""


class SelectionError(BubbleupError):
    """The selection or the baseline is empty, or covers every event."""


class WeightError(BubbleupError):
    """The weight column is missing, not numeric, or has negative values."""


class EngineError(BubbleupError):
    """The engine cannot run: pyspark or Java missing, or the Spark cluster unreachable."""


class UsageError(BubbleupError):
    """An option has a value outside its valid range (CLI exit code 2)."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest candidate, or ``""``.

    Examples
    --------
    >>> did_you_mean("stauts", ["status", "region"])
    "; did you mean 'status'?"
    >>> did_you_mean("zzz", ["status"])
    ''
    """
    pool = list(candidates)
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    return f"; did you mean '{close[0]}'?" if close else ""


class TimeError(BubbleupError):
    """The time column is missing or holds values that are not times, or a time window
    (``--since``, ``--until``, ``--after``) lies outside the data."""
