"""The exceptions bubbleup raises.

Every expected failure (bad input, bad predicate, empty selection...) is a subclass of
:class:`BubbleupError` whose message is one line that names the problem and the fix. The CLI
turns these into ``Error: <message>`` on stderr and exit code 1; anything else is a bug.

Messages name the caller's parameters as the caller wrote them (``where`` or ``--where``):
library code spells a parameter with :func:`bubbleup.options.option_name`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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
