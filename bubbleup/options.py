"""The options of an analysis: one validated object that every interface builds.

:class:`Options` holds what an analysis is asked (the selection, the columns, the
statistics, the time window, the engine), checked once, whichever interface gave it: the
command line (:mod:`bubbleup.interfaces.cli`), the explore page, the MCP tools, or
:func:`bubbleup.analyze`'s keywords. Each field carries how the command line spells it
(:class:`Flag`: the flag, its metavar, its help and its ``--help`` panel), so that a new
option is one field here, and so that messages, ``--help`` and the command that reproduces
a result (:meth:`Options.command_args`) all name it the same way.

Messages name a parameter as the caller's interface spells it (:func:`option_name`):
``column 'x' in where not found`` from ``bubbleup.analyze(where=...)``, ``column 'x' in
--where not found`` from the command line, whose error boundary runs the library inside
:func:`command_line_names`.

This module imports neither polars nor anything heavy: the CLI declares its options from it
before it knows whether it will count anything.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from bubbleup.errors import UsageError, did_you_mean

if TYPE_CHECKING:
    import polars as pl

    Predicate = str | pl.Expr

#: The ``--help`` panels, in order.
PANELS = SELECTION, COLUMNS, STATISTICS, OUTPUT, TIME, ENGINE = (
    "Selection",
    "Columns",
    "Statistics",
    "Output",
    "Time",
    "Engine",
)
#: Valid values of ``max_order``.
MAX_ORDERS = (1, 2, 3)
#: Valid values of ``engine`` (``None`` is polars, unless the source is a Spark DataFrame).
ENGINES = ("polars", "spark")


@dataclass(frozen=True)
class Flag:
    """How the command line spells one option."""

    #: The flag (``--where``), then any short form (``-w``).
    names: tuple[str, ...]
    #: What the ``--help`` line says.
    help: str
    #: The ``--help`` panel (one of :data:`PANELS`).
    panel: str
    #: The placeholder in ``--help`` (``SQL``, ``COL``...); ``None``: a switch, or choices.
    metavar: str | None = None

    @property
    def flag(self) -> str:
        """The long flag."""
        return self.names[0]


def _flag(*names: str, help: str, panel: str, metavar: str | None = None) -> dict[str, Flag]:
    return {"flag": Flag(names, help, panel, metavar)}


def _names(value: Sequence[str] | str | None, parameter: str) -> tuple[str, ...] | None:
    """Names or globs as a tuple (one string is one name: names may hold commas)."""
    if value is None:
        return None
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise UsageError(f"{option_name(parameter)} takes column names or globs, not {item!r}")
    return items or None


def _predicate(value: Any, parameter: str) -> Any:
    if value is None or isinstance(value, str):
        return value
    if type(value).__module__.startswith("polars") and type(value).__name__ == "Expr":
        return value
    raise UsageError(
        f"{option_name(parameter)} must be SQL text or a polars expression, "
        f"not {type(value).__name__}"
    )


def _instant(value: Any, parameter: str) -> str | dt.datetime | None:
    if value is None or isinstance(value, str | dt.datetime):
        return value
    if isinstance(value, dt.date):  # midnight of that day, as the ISO text would say
        return dt.datetime(value.year, value.month, value.day)
    raise UsageError(
        f"{option_name(parameter)} must be ISO 8601 text or a datetime, not {type(value).__name__}"
    )


@dataclass(frozen=True)
class Options:
    """What one analysis is asked, checked: every interface builds one.

    :func:`bubbleup.analyze` takes the same names as keywords (or an ``Options``); the
    command line's flags, the explore page's fixed options and the MCP tools' arguments
    all become one of these before anything is read.

    Examples
    --------
    >>> opts = Options(where="exit_reason = 'oom'", columns="kernel_*", max_order=2)
    >>> opts.columns, opts.max_order
    (('kernel_*',), 2)
    >>> opts.command_args()
    ['--where', "exit_reason = 'oom'", '--columns', 'kernel_*', '--max-order', '2']
    >>> Options(alpha=2)
    Traceback (most recent call last):
    ...
    bubbleup.errors.UsageError: alpha must be between 0 and 1 (exclusive), not 2
    """

    # -- the selection -------------------------------------------------------------------
    where: Predicate | None = field(
        default=None,
        metadata=_flag(
            "--where",
            "-w",
            metavar="SQL",
            help="SQL condition that selects the weird events, e.g. \"exit_reason = 'oom'\"; "
            'names with dots take double quotes: --where "\\"http.route\\" = \'/checkout\'".',
            panel=SELECTION,
        ),
    )
    baseline: Predicate | None = field(
        default=None,
        metadata=_flag(
            "--baseline",
            metavar="SQL",
            help="SQL condition for the events to compare with (default: all others).",
            panel=SELECTION,
        ),
    )
    filter: Predicate | None = field(
        default=None,
        metadata=_flag(
            "--filter",
            metavar="SQL",
            help="SQL condition that limits the scope of both sides.",
            panel=SELECTION,
        ),
    )
    weight: str | bool | None = field(
        default=None,
        metadata=_flag(
            "--weight",
            metavar="COL",
            help="Column of per-event weights (sample rates); default: a sample_rate column "
            "if present.",
            panel=SELECTION,
        ),
    )
    # -- the columns ---------------------------------------------------------------------
    columns: Sequence[str] | None = field(
        default=None,
        metadata=_flag(
            "--columns",
            "-c",
            metavar="NAMES",
            help="Columns to analyse: names or globs, comma-separated or repeated.",
            panel=COLUMNS,
        ),
    )
    exclude: Sequence[str] | None = field(
        default=None,
        metadata=_flag(
            "--exclude",
            "-x",
            metavar="NAMES",
            help="Columns to leave out: names or globs.",
            panel=COLUMNS,
        ),
    )
    outcomes: Sequence[str] | None = field(
        default=None,
        metadata=_flag(
            "--outcome",
            metavar="NAMES",
            help="Columns that say what happened to an event (beyond the conventions: "
            "status, errors, exit codes, durations, peaks): described, never explanations. "
            "Names or globs.",
            panel=COLUMNS,
        ),
    )
    context: Sequence[str] | None = field(
        default=None,
        metadata=_flag(
            "--context",
            metavar="NAMES",
            help="Columns to rank as candidate causes although a convention calls them "
            "outcomes. Names or globs.",
            panel=COLUMNS,
        ),
    )
    # -- the statistics ------------------------------------------------------------------
    alpha: float = field(
        default=0.05,
        metadata=_flag(
            "--alpha",
            metavar="Q",
            help="False discovery rate for significance (q-values below it).",
            panel=STATISTICS,
        ),
    )
    min_lift: float = field(
        default=1.5,
        metadata=_flag(
            "--min-lift",
            metavar="X",
            help="Minimum lift to call an explanation significant.",
            panel=STATISTICS,
        ),
    )
    min_share: float = field(
        default=0.05,
        metadata=_flag(
            "--min-share",
            metavar="SHARE",
            help="Minimum share of the selection (0 to 1) to call an explanation significant.",
            panel=STATISTICS,
        ),
    )
    max_order: int = field(
        default=3,
        metadata=_flag(
            "--max-order",
            metavar="N",
            help="Most items per explanation: 1 = single values and ranges; 2 or 3 add "
            "conjunctions (one extra pass over the events).",
            panel=STATISTICS,
        ),
    )
    # -- the time window -----------------------------------------------------------------
    time_column: str | None = field(
        default=None,
        metadata=_flag(
            "--time-column",
            metavar="COL",
            help="The events' time column (default: detected).",
            panel=TIME,
        ),
    )
    since: str | dt.datetime | None = field(
        default=None,
        metadata=_flag(
            "--since",
            metavar="T",
            help="Only events at or after time T (ISO 8601: 2026-11-20T14:00).",
            panel=TIME,
        ),
    )
    until: str | dt.datetime | None = field(
        default=None,
        metadata=_flag("--until", metavar="T", help="Only events before time T.", panel=TIME),
    )
    after: str | dt.datetime | None = field(
        default=None,
        metadata=_flag(
            "--after",
            metavar="T",
            help="Before/after: select the events after time T (and --where, if given); "
            "the baseline is the same length of time before it.",
            panel=TIME,
        ),
    )
    # -- reading and the engine ----------------------------------------------------------
    skip_bad_lines: bool = field(
        default=False,
        metadata=_flag(
            "--skip-bad-lines", help="Skip malformed JSON lines, and report them.", panel=ENGINE
        ),
    )
    engine: str | None = field(
        default=None,
        metadata=_flag(
            "--engine",
            help="Where the events are counted: polars (embedded, streaming) or spark "
            "(needs bubbleup[spark] and Java 17+).",
            panel=ENGINE,
        ),
    )
    spark_master: str | None = field(
        default=None,
        metadata=_flag(
            "--spark-master",
            metavar="URL",
            help="Spark master URL for --engine spark: local[4], spark://host:7077, "
            "sc://host:15002 (Spark Connect), yarn... Default: local[*].",
            panel=ENGINE,
        ),
    )

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise once, here
        for name in ("where", "baseline", "filter"):
            set_(self, name, _predicate(getattr(self, name), name))
        for name in ("columns", "exclude", "outcomes", "context"):
            set_(self, name, _names(getattr(self, name), name))
        for name in ("since", "until", "after"):
            set_(self, name, _instant(getattr(self, name), name))
        for name in ("time_column", "spark_master"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise UsageError(f"{option_name(name)} must be text, not {type(value).__name__}")
        if self.weight is True:
            set_(self, "weight", None)  # weigh by the sample-rate column found, as by default
        elif self.weight is not None and not isinstance(self.weight, str | bool):
            raise UsageError(
                f"{option_name('weight')} must be a column name, or False to count every "
                f"event once, not {type(self.weight).__name__}"
            )
        if isinstance(self.max_order, bool) or self.max_order not in MAX_ORDERS:
            raise UsageError(
                f"{option_name('max_order')} must be 1, 2 or 3 (items per explanation), "
                f"not {self.max_order}"
            )
        for name in ("alpha", "min_lift", "min_share"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise UsageError(f"{option_name(name)} must be a number, not {value!r}")
        if not 0 < self.alpha < 1:
            raise UsageError(
                f"{option_name('alpha')} must be between 0 and 1 (exclusive), not {self.alpha}"
            )
        if not 0 <= self.min_lift < math.inf:  # nan fails every comparison
            raise UsageError(
                f"{option_name('min_lift')} must be a number >= 0, not {self.min_lift}"
            )
        if not 0 <= self.min_share <= 1:
            raise UsageError(
                f"{option_name('min_share')} must be between 0 and 1, not {self.min_share}"
            )
        if self.engine is not None and self.engine not in ENGINES:
            raise UsageError(f"unknown engine {self.engine!r}; use one of: {', '.join(ENGINES)}")
        set_(self, "skip_bad_lines", bool(self.skip_bad_lines))

    @classmethod
    def build(cls, options: Options | None = None, **keywords: Any) -> Options:
        """``options`` (or the defaults) with the keywords that differ from a default.

        Unknown names are one clear error with a did-you-mean.

        Examples
        --------
        >>> base = Options(filter="region = 'eu'")
        >>> Options.build(base, where="x > 1", alpha=0.05).filter
        "region = 'eu'"
        >>> Options.build(wehre="x > 1")
        Traceback (most recent call last):
        ...
        bubbleup.errors.UsageError: unknown option 'wehre'; did you mean 'where'?
        """
        known = DEFAULTS
        for name in keywords:
            if name not in known:
                raise UsageError(f"unknown option {name!r}{did_you_mean(name, known)}")
        if options is None:
            return cls(**keywords)
        changed = {k: v for k, v in keywords.items() if not _same(v, known[k])}
        return options.replace(**changed) if changed else options

    def replace(self, **changes: Any) -> Options:
        """A copy with ``changes`` applied (and checked)."""
        return replace(self, **changes)

    def given(self) -> dict[str, Any]:
        """The options that differ from their defaults, by name.

        Examples
        --------
        >>> Options(where="a = 1", weight=False).given()
        {'where': 'a = 1', 'weight': False}
        """
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if not _same(getattr(self, f.name), f.default)
        }

    def as_dict(self) -> dict[str, Any]:
        """Every option by name (JSON-ready when the predicates are text)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def command_args(self) -> list[str] | None:
        """The ``bubbleup analyze`` flags that give these options, or ``None``.

        ``None`` when no command line can: a predicate is a polars expression.
        """
        args: list[str] = []
        for name, value in self.given().items():
            if name == "engine" and value == "polars":
                continue  # a command line reads files with polars unless told otherwise
            if not isinstance(value, str | bool | int | float | tuple | dt.datetime):
                return None  # a polars expression
            flag = FLAGS[name]
            if name == "weight" and value is False:
                args.append(FLAGS["no_weight"])
            elif isinstance(value, bool):
                args.append(flag)
            elif isinstance(value, tuple):
                args += [flag, ",".join(value)]
            elif isinstance(value, dt.datetime):
                args += [flag, value.isoformat()]
            elif isinstance(value, float):
                args += [flag, f"{value:g}"]
            else:
                args += [flag, str(value)]
        return args


def _same(value: Any, default: Any) -> bool:
    if value is default:
        return True
    if isinstance(value, bool) != isinstance(default, bool):
        return False
    return isinstance(value, str | int | float) and value == default


#: Each option's default, by name.
DEFAULTS: Mapping[str, Any] = {
    f.name: f.default for f in fields(Options) if f.default is not MISSING
}
#: How the command line spells each option, by name.
OPTION_FLAGS: Mapping[str, Flag] = {f.name: f.metadata["flag"] for f in fields(Options)}
#: The command-line flag of each parameter a message may name: the options' flags, and
#: the spellings the command line has a flag of its own for.
FLAGS: Mapping[str, str] = {
    **{name: flag.flag for name, flag in OPTION_FLAGS.items()},
    "no_weight": "--no-weight",
    "engine_spark": "--engine spark",
}
#: How the library's own interface spells what the command line has a flag of its own for.
_LIBRARY = {"no_weight": "weight=False", "engine_spark": "engine='spark'"}
_COMMAND_LINE: ContextVar[bool] = ContextVar("bubbleup_command_line", default=False)


def option_name(parameter: str) -> str:
    """How the caller's interface names ``parameter`` (an option, or another parameter).

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
