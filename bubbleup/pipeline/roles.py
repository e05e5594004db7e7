"""Roles: which columns are candidate causes (context) and which say what happened (outcome).

An engineer looking at failed events already knows they failed; what helps is the context
they share (kernel, image, route, version, region, time), not a second description of the
failure (``exit_code = 137``, ``status.code = 'error'``, a short duration). Every column
that takes part is one of:

- **context**: a candidate explanation (the default);
- **outcome**: what happened to the event. Outcomes are described (how the selection's
  outcome differs from the baseline's) but never mined, never an explanation, and never
  explain another explanation away.

A column is an outcome when ``outcomes`` names it (names or globs), or when its name
follows one of the conventions of :data:`CONVENTIONS` (OpenTelemetry's semantic
conventions for spans and logs, and common names), unless ``context`` names it. Durations
(the ``Duration`` type) are outcomes whatever their name. The conventions are listed in
``docs/roles.md``.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from bubbleup.options import FLAGS
from bubbleup.pipeline.profile import select_columns


@dataclass(frozen=True)
class Convention:
    """A naming convention for outcome columns: exact dotted names, or name words."""

    what: str
    #: full names (lower case) that are outcomes, e.g. ``status.code``; may be globs
    names: tuple[str, ...] = ()
    #: words (lower case) any of which, as a word of the name, makes it an outcome
    words: tuple[str, ...] = ()


#: The conventions, in the order they are tried; the first that matches gives the reason.
CONVENTIONS: tuple[Convention, ...] = (
    Convention(
        "OpenTelemetry span status",
        names=("status.code", "status.message", "otel.status_code", "otel.status_description"),
    ),
    Convention("OpenTelemetry error", names=("error.type", "exception.*", "*.exception.*")),
    Convention(
        "OpenTelemetry response status",
        names=(
            "http.response.status_code",
            "http.status_code",
            "rpc.grpc.status_code",
            "rpc.connect_rpc.error_code",
            "rpc.jsonrpc.error_code",
            "rpc.jsonrpc.error_message",
            "db.response.status_code",
            "*.status_code",
        ),
    ),
    Convention(
        "OpenTelemetry log severity", names=("severity_text", "severity_number", "log.level")
    ),
    Convention(
        "duration or latency",
        words=("duration", "latency", "elapsed", "took", "runtime", "walltime", "responsetime"),
    ),
    Convention("exit code or signal", words=("exit", "exitcode", "returncode", "signal")),
    Convention("status code", words=("status", "statuscode", "outcome")),
    Convention("error or exception", words=("error", "errors", "err", "exception", "failure")),
    Convention("resource peak", words=("peak", "oom", "oomkilled")),
    Convention("retries", words=("retry", "retries", "retried", "attempts")),
)


def words(name: str) -> list[str]:
    """The lower-case words of a column name (split on ``.``, ``_``, ``-``, spaces, camelCase).

    Examples
    --------
    >>> words("http.response.status_code"), words("peakMemoryPct")
    (['http', 'response', 'status', 'code'], ['peak', 'memory', 'pct'])
    """
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [w for w in re.split(r"[\s._\-/:]+", spaced.lower()) if w]


def convention(name: str) -> str | None:
    """The convention that makes ``name`` an outcome, or ``None`` for context.

    Examples
    --------
    >>> convention("status.code"), convention("exit_code"), convention("duration_ms")
    ('OpenTelemetry span status', 'exit code or signal', 'duration or latency')
    >>> convention("kernel_version") is None, convention("http.route") is None
    (True, True)
    """
    lower = name.lower()
    seq = words(name)
    # joined neighbours catch "exitCode", "status_code" -> "statuscode"
    parts = set(seq) | {a + b for a, b in itertools.pairwise(seq)}
    for c in CONVENTIONS:
        if any(fnmatch.fnmatchcase(lower, pattern) for pattern in c.names):
            return c.what
        if parts & set(c.words):
            return c.what
    return None


def outcome_columns(
    schema: Mapping[str, pl.DataType],
    *,
    outcomes: Sequence[str] | None = None,
    context: Sequence[str] | None = None,
    conventions: bool = True,
    option_names: tuple[str, str] = ("outcomes", "context"),
) -> dict[str, str]:
    """The outcome columns of a schema, each with the reason it is one.

    Parameters
    ----------
    schema
        The source's columns.
    outcomes
        Names or globs declared outcomes (``--outcome``); they win over everything.
    context
        Names or globs declared context (``--context``): no convention makes them outcomes.
    conventions
        Whether the naming conventions apply (``False``: only ``outcomes``).
    option_names
        The parameters that gave ``outcomes`` and ``context``, for error messages (shown
        as the caller's interface names them: :func:`bubbleup.options.option_name`).

    Examples
    --------
    >>> import polars as pl
    >>> schema = {"kernel": pl.String(), "exit_code": pl.Int64(), "p": pl.Float64()}
    >>> outcome_columns(schema, outcomes=["p"])
    {'exit_code': 'convention: exit code or signal', 'p': 'declared with --outcome'}
    >>> outcome_columns(schema, context=["exit_code"])
    {}
    """
    names = list(schema)
    declared = set(select_columns(names, outcomes or [], option=option_names[0]))
    kept = set(select_columns(names, context or [], option=option_names[1]))
    out: dict[str, str] = {}
    for name in names:
        if name in declared:
            out[name] = f"declared with {FLAGS.get(option_names[0], option_names[0])}"
        elif name in kept:
            continue
        elif isinstance(schema[name], pl.Duration):
            out[name] = "convention: a duration"
        elif conventions and (what := convention(name)) is not None:
            out[name] = f"convention: {what}"
    return out
