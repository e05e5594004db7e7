"""The Spark engine: the passes that read events, as Spark SQL, with the polars engine's answers.

Predicates are Spark SQL (``F.expr``), null results count as false, weights are
``coalesce(weight, 1)``. Each pass is one Spark job (the measuring pass a few:
:meth:`SparkEngine.measure`) whose small result comes back through
``DataFrame.toArrow()``; values are turned into text, and bins into labels, by the shared
polars code after the transfer, never inside Spark (Spark and polars print floats
differently). Only DataFrame and SQL APIs are used, so the same code runs on a classic
session or through Spark Connect (``sc://host:15002``).

Parity with the polars engine: the totals and the counts table are equal (weighted sums to
the last bits of floating point); the statistics after them are shared code. Bin edges of
numbers come from exact quantiles (``percentile``, linear interpolation like polars) up to
:data:`bubbleup.pipeline.profile.EXACT_QUANTILE_ROWS` events in scope (and events x columns up to
``EXACT_QUANTILE_CELLS``); above that both engines take them, exactly, from a sample of
the events (polars a sample of blocks of events, Spark a Bernoulli sample with a fixed seed),
so the ranges can differ slightly, while the counts in each range stay exact. Distinct
counts are exact in both engines in the same cases; above, both count them exactly on their
samples. They decide which numbers are counted in
ranges, which text columns are identifiers, and the size of the multiple-testing family
(values never seen in the selection of a many-valued column), so above the exact limit a
column right at a threshold can be treated differently and q-values can differ slightly.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import socket
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import polars as pl
from pyspark.errors import PySparkException
from pyspark.logger import PySparkLogger
from pyspark.sql import SparkSession
from pyspark.sql import functions as F  # noqa: N812 - the usual name

from bubbleup.errors import (
    ColumnError,
    EngineError,
    PredicateError,
    SourceError,
    UsageError,
    did_you_mean,
    first_line,
)
from bubbleup.io.paths import expand
from bubbleup.options import option_name
from bubbleup.pipeline import gate, profile
from bubbleup.pipeline.count import (
    COUNTS_SCHEMA,
    MAX_PATTERN_ITEMS,
    PATTERNS_SCHEMA,
    VALUES_SCHEMA,
    Totals,
    concat_counts,
    packs,
    totals_from_row,
    unpack,
)
from bubbleup.pipeline.items import Item
from bubbleup.pipeline.load import FORMATS, Source, load
from bubbleup.pipeline.profile import (
    SCOPE_QUANTILES,
    SELECTION_QUANTILES,
    Attribute,
    _kind,
    ranged,
    sample_stride,
)
from bubbleup.pipeline.split import Predicate, Split, resolve_weight

#: Seconds to wait for a Spark master or Spark Connect server to accept a connection.
CONNECT_TIMEOUT = 10.0
#: Relative standard deviation of the distinct-count estimates that choose how each column's
#: values are counted exactly (``SparkEngine._distinct``).
DISTINCT_RSD = 0.05
#: When the statistics are exact, a column estimated to hold at most this many distinct
#: values has them counted as a set (``collect_set``, in one pass with the other such
#: columns); a column with more is counted by a ``countDistinct`` of its own, which spills
#: to disk where a set must fit in memory. Several ``countDistinct`` in one aggregation make
#: Spark copy every event once per column (an ``Expand``), and the quantiles beside them
#: were computed over the copies: the 200,000 events of the sample (31 columns) took 52-60
#: s to measure that way, 2-3 s this way.
SET_DISTINCT = 100_000
#: Seed of the samples the measuring pass draws above the exact limit (the same events are
#: drawn again for the same data and partitions).
SAMPLE_SEED = 20261128
#: Driver memory of the local sessions bubbleup starts (local mode runs in the driver).
LOCAL_DRIVER_MEMORY = "4g"
#: Default ports by URL scheme, for the reachability check.
_PORTS = {"spark": 7077, "sc": 15002, "mesos": 5050}

_LOG4J = """\
rootLogger.level = off
rootLogger.appenderRef.stderr.ref = console
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = off
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""

T = TypeVar("T")


# -- the session -------------------------------------------------------------------------


#: pyspark's Python loggers that print every failed query (bubbleup reports it instead).
_QUERY_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence pyspark's Python warnings and its query-error logs while bubbleup calls it."""
    loggers = [PySparkLogger.getLogger(name) for name in _QUERY_LOGGERS]
    before = [lg.disabled for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        for lg, was in zip(loggers, before, strict=True):
            lg.disabled = was


def java_problem() -> str | None:
    """Return why Spark cannot start a JVM here (no java, or older than 17), or ``None``.

    Examples
    --------
    >>> java_problem() is None or "Java" in java_problem()
    True
    """
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    fix = "install Java 17 or newer (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
    if not java or not os.path.exists(java):
        where = f"JAVA_HOME={home} has no bin/java" if home else "no 'java' on PATH"
        return f"the Spark engine needs Java 17 or newer and found none ({where}); {fix}"
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"the Spark engine could not run {java} ({exc}); {fix}"
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):  # 1.8 is Java 8
            major = int(match.group(2))
        if major < 17:
            return f"the Spark engine needs Java 17 or newer; {java} is Java {major}; {fix}"
    return None


def endpoints(master: str) -> list[tuple[str, int]]:
    """Host and port pairs a master URL names (none for ``local``, ``yarn``...).

    Examples
    --------
    >>> endpoints("spark://a:7077,b:7078")
    [('a', 7077), ('b', 7078)]
    >>> endpoints("sc://localhost/;token=x"), endpoints("local[2]")
    ([('localhost', 15002)], [])
    >>> endpoints("k8s://https://10.0.0.1:6443")
    [('10.0.0.1', 6443)]
    >>> endpoints("spark://")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bubbleup.errors.EngineError: the Spark master URL spark:// names no host; ...
    """
    scheme, _, rest = master.partition("://")
    if scheme == "k8s":  # k8s://https://host:port, the Kubernetes API server
        inner, _, rest = rest.partition("://") if "://" in rest else ("https", "", rest)
        scheme, ports = inner, {"https": 443, "http": 80}
    else:
        ports = _PORTS
    if scheme not in ports:
        return []
    out = []
    for part in rest.split("/")[0].split(","):
        parsed = urlparse(f"{scheme}://{part}")
        try:
            port = parsed.port
        except ValueError:
            raise EngineError(
                f"the Spark master URL {master} has an invalid port; ports are 1 to 65535"
            ) from None
        if not parsed.hostname:
            raise EngineError(
                f"the Spark master URL {master} names no host; write it as "
                f"{master.partition('://')[0]}://host:{ports[scheme]}"
            )
        out.append((parsed.hostname, port or ports[scheme]))
    return out


def check_reachable(master: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail within ``timeout`` seconds when no endpoint of ``master`` accepts a connection."""
    reasons = []
    for host, port in endpoints(master):
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError | socket.timeout):
                reason = f"no answer within {timeout:g} s"
            reasons.append(f"{host}:{port}: {reason}")
        else:
            return
    if reasons:
        raise EngineError(
            f"cannot reach the Spark master {master} ({'; '.join(reasons)}); "
            f"check {option_name('spark_master')} and that the master is running"
        )


@contextlib.contextmanager
def _jvm_stderr(log: Path) -> Iterator[None]:
    """Point file descriptor 2 at ``log`` while the JVM starts, so that its banner and
    logging stay off the terminal (the JVM keeps the descriptor it was started with)."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    with open(log, "ab") as fh:
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def session(master: str | None = None) -> Any:
    """Return a Spark session: a new one on ``master``, or the active one.

    ``master`` is checked first (:func:`check_reachable`). A process has one classic
    session: when one is active it is used (with its own master and settings).

    A new local session (``master`` unset or ``local[...]``) binds to 127.0.0.1, has no web
    UI, few shuffle partitions, :data:`LOCAL_DRIVER_MEMORY` of memory and the UTC time
    zone; its JVM logs go to a file in the temporary directory. ``sc://`` URLs open a Spark
    Connect session.
    """
    if master is not None:
        check_reachable(master)
    with _quiet():
        active = SparkSession.getActiveSession()
    if master is not None and master.startswith("sc://"):
        try:
            with _quiet():
                return SparkSession.builder.remote(master).getOrCreate()
        except ImportError as exc:
            raise EngineError(
                f"Spark Connect needs more packages ({first_line(exc, 'missing packages')}); "
                "install them with: "
                "pip install 'pyspark[connect]'"
            ) from None
        except Exception as exc:
            raise EngineError(
                f"cannot open a Spark Connect session on {master}: {_first_line(exc)}"
            ) from None
    if active is not None:  # one classic session per process: use it
        return active
    problem = java_problem()
    if problem:
        raise EngineError(problem)
    url = master or "local[*]"
    local = url.startswith("local")
    folder = Path(tempfile.gettempdir())
    config = folder / "bubbleup-spark-log4j2.properties"
    log = folder / f"bubbleup-spark-{os.getpid()}.log"
    if not config.exists() or config.read_text() != _LOG4J:
        config.write_text(_LOG4J)
    builder = (
        SparkSession.builder.master(url)
        .appName("bubbleup")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{config}")
    )
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.config("spark.sql.shuffle.partitions", "8").config(
            "spark.driver.memory", LOCAL_DRIVER_MEMORY
        )
    try:
        with _quiet(), _jvm_stderr(log):
            return builder.getOrCreate()
    except Exception as exc:
        detail = _first_line(exc)
        if log.exists():  # the JVM's own reason, not its banner ("Setting log level...")
            lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines()]
            reasons = [ln for ln in lines if re.search(r"Exception|Error|ERROR", ln)]
            if reasons:
                detail = reasons[-1]
        raise EngineError(f"could not start Spark on {url}: {detail}") from None


# -- types and names -----------------------------------------------------------------------


def polars_dtype(spark_type: Any) -> pl.DataType:
    """The polars type a Spark column becomes, so that kinds and JSON types match.

    Examples
    --------
    >>> from pyspark.sql import types
    >>> polars_dtype(types.LongType()), polars_dtype(types.StringType())
    (Int64, String)
    """
    name = type(spark_type).__name__
    simple: dict[str, pl.DataType] = {
        "StringType": pl.String(),
        "VarcharType": pl.String(),
        "CharType": pl.String(),
        "BooleanType": pl.Boolean(),
        "ByteType": pl.Int8(),
        "ShortType": pl.Int16(),
        "IntegerType": pl.Int32(),
        "LongType": pl.Int64(),
        "FloatType": pl.Float32(),
        "DoubleType": pl.Float64(),
        "DateType": pl.Date(),
        "TimestampType": pl.Datetime("us", "UTC"),
        "TimestampNTZType": pl.Datetime("us"),
        "DayTimeIntervalType": pl.Duration("us"),
        "BinaryType": pl.Binary(),
        "NullType": pl.Null(),
    }
    if name in simple:
        return simple[name]
    if name == "DecimalType":
        return pl.Decimal(spark_type.precision, spark_type.scale)
    if name == "ArrayType":
        return pl.List(polars_dtype(spark_type.elementType))
    if name == "StructType":
        return pl.Struct({f.name: polars_dtype(f.dataType) for f in spark_type.fields})
    return pl.Object()


def _col(name: str) -> Any:
    """A column by its exact name (dots and spaces are not struct access)."""
    return F.col("`" + name.replace("`", "``") + "`")


_STRING = re.compile(r"'(?:[^'\\]|\\.|'')*'")
_WORD = re.compile(r"`((?:[^`]|``)+)`|([A-Za-z_][A-Za-z0-9_]*)")


def referenced_columns(text: str, names: Sequence[str]) -> frozenset[str]:
    """The columns a Spark SQL predicate mentions (matched case-insensitively, like Spark).

    Examples
    --------
    >>> sorted(referenced_columns("lower(Region) = 'status' AND `a b` > 1", ["region", "a b",
    ...        "status"]))
    ['a b', 'region']
    """
    by_lower = {n.lower(): n for n in names}
    found = set()
    for match in _WORD.finditer(_STRING.sub("''", text)):
        word = match.group(1).replace("``", "`") if match.group(1) else match.group(2)
        if word.lower() in by_lower:
            found.add(by_lower[word.lower()])
    return frozenset(found)


def _first_line(exc: BaseException) -> str:
    """One readable line from a Spark error, without the SQLSTATE suffix."""
    text = ""
    getter = getattr(exc, "getMessage", None)
    if callable(getter):
        with contextlib.suppress(Exception):
            text = str(getter())
    text = text or str(exc)
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    line = lines[0] if lines else type(exc).__name__
    return re.sub(r"\s*SQLSTATE: \w+;?.*$", "", line).rstrip(". ;")


def _condition(exc: BaseException) -> str:
    getter = getattr(exc, "getCondition", None) or getattr(exc, "getErrorClass", None)
    with contextlib.suppress(Exception):
        return str(getter()) if callable(getter) else ""
    return ""


#: Catalyst expressions that run a query: a predicate that holds one reads outside the event.
_QUERY_NODES = frozenset(
    {
        "ScalarSubquery",
        "ListQuery",
        "Exists",
        "InSubquery",
        "LateralSubquery",
        "UnresolvedTableValuedFunction",
    }
)


def _check_parsed(frame: Any, text: str, option: str) -> None:
    """Refuse a predicate whose parsed Catalyst tree runs a query (classic sessions only).

    The second lock after :func:`bubbleup.pipeline.gate.check`: Spark's own parser (no analysis,
    nothing read) gives the tree; any sub-query node is refused. Spark Connect parses on
    the server, so there the lexical gate stands alone.
    """
    jsession = getattr(frame.sparkSession, "_jsparkSession", None)
    if jsession is None:
        return
    todo = [jsession.sessionState().sqlParser().parseExpression(text)]
    while todo:
        node = todo.pop()
        kind = str(node.getClass().getSimpleName())
        if kind in _QUERY_NODES:
            raise PredicateError(
                f"{option} predicate {gate.shown(text)} runs a query ({kind}); a predicate "
                "is a condition on each event's own columns"
            )
        children = node.children()
        todo.extend(children.apply(i) for i in range(children.size()))


# -- the engine ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SparkSplit(Split):
    """A :class:`~bubbleup.pipeline.split.Split` whose predicates are Spark columns.

    The polars expressions of the base class are inert placeholders; the Spark engine
    reads ``spark_selection``, ``spark_baseline``, ``spark_scope`` and ``spark_weight``.
    """

    spark_selection: Any = None
    spark_baseline: Any = None
    spark_scope: Any = None
    spark_weight: Any = None
    baseline_is_rest: bool = True
    texts: tuple[tuple[str, str], ...] = ()


class SparkEngine:
    """Runs the measure, count and pattern passes as Spark jobs."""

    name = "spark"

    def __init__(
        self, frame: Any, description: str, paths: tuple[str, ...] = (), progress: Any = None
    ) -> None:
        self.frame = frame
        self.description = description
        self.paths = paths
        self._schema: dict[str, pl.DataType] | None = None
        self._say: Callable[[str], None] = progress or (lambda _msg: None)

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(
        cls, source: Source, *, master: str | None = None, progress: Any = None
    ) -> SparkEngine:
        """Read ``source`` (a Spark DataFrame, paths, or an in-memory frame) with Spark."""
        from bubbleup.engines import is_spark_frame

        if is_spark_frame(source):
            if master is not None:
                raise UsageError(
                    "spark_master applies to the session bubbleup starts; a Spark DataFrame "
                    "runs in its own session"
                )
            return cls(source, "Spark DataFrame", progress=progress)
        if progress:
            progress("starting Spark")
        spark = session(master)
        if isinstance(source, (str, os.PathLike, list, tuple)):
            frame, description, paths = _read_paths(spark, source)
            return cls(frame, description, paths, progress=progress)
        loaded = load(source)  # polars, pyarrow or pandas frame
        with _quiet():
            frame = spark.createDataFrame(loaded.frame.collect().to_arrow())
        return cls(frame, loaded.description, progress=progress)

    def schema(self) -> dict[str, pl.DataType]:
        """The source's columns, as polars types."""
        if self._schema is None:
            with _quiet():
                fields = self.frame.schema.fields
            self._schema = {f.name: polars_dtype(f.dataType) for f in fields}
        return self._schema

    # -- predicates ------------------------------------------------------------------------
    def _compile(self, predicate: Predicate, option: str) -> tuple[Any, str, frozenset[str]]:
        from pyspark.errors import PySparkException

        option = option_name(option)  # as the caller's interface names it
        if not isinstance(predicate, str):
            raise PredicateError(
                f"with the Spark engine {option} must be SQL text, not a {type(predicate).__name__}"
            )
        text = gate.spark_text(gate.check(predicate, option, dialect="spark"))
        try:
            with _quiet():
                _check_parsed(self.frame, text, option)
                column = F.expr(text)
                dtype = self.frame.select(column.alias("_p")).schema["_p"].dataType
        except PySparkException as exc:
            raise self._predicate_error(exc, text, option) from None
        try:  # a name for the condition ("x = 1 AND" is "x = 1 AS `AND`") cannot be bracketed
            with _quiet():
                _ = self.frame.select(F.expr(f"({text})")).schema
        except PySparkException:
            with _quiet():
                name = self.frame.select(column).columns[0]
            raise gate.named(option, text, name) from None
        if type(dtype).__name__ != "BooleanType":
            raise PredicateError(
                f"{option} predicate {gate.shown(text)} gives {polars_dtype(dtype)} values, not "
                'true/false; write a comparison such as "duration_ms > 5000"'
            )
        names = list(self.schema())
        return F.coalesce(column, F.lit(False)), text, referenced_columns(text, names)

    def _predicate_error(self, exc: Exception, text: str, option: str) -> Exception:
        condition = _condition(exc)
        params: dict[str, str] = {}
        with contextlib.suppress(Exception):
            params = dict(exc.getMessageParameters() or {})  # type: ignore[attr-defined]
        if condition.startswith("PARSE_SYNTAX_ERROR"):
            where = params.get("error", "")
            reason = f"syntax error at or near {where}" if where else "syntax error"
            return PredicateError(
                f"malformed {option} predicate {gate.shown(text)}: {reason}; use SQL WHERE "
                "syntax, e.g. \"exit_reason = 'oom' AND duration_ms > 5000\""
            )
        if condition.startswith("UNRESOLVED_COLUMN"):
            name = params.get("objectName", "").strip("`").replace("``", "`")
            return ColumnError(
                f"column '{name}' in {option} not found{did_you_mean(name, self.schema())}"
            )
        if condition.startswith("PARSE") or "ParseException" in type(exc).__name__:
            return PredicateError(
                f"malformed {option} predicate {gate.shown(text)}: {_first_line(exc)}; use "
                "SQL WHERE syntax, e.g. \"exit_reason = 'oom' AND duration_ms > 5000\""
            )
        return PredicateError(
            f"cannot evaluate {option} predicate {gate.shown(text)}: {_first_line(exc)}"
        )

    def split(
        self,
        *,
        where: Predicate,
        baseline: Predicate | None,
        filter: Predicate | None,
        weight: str | bool | None,
    ) -> Split:
        """Compile the predicates with Spark SQL; null results count as false."""
        sel, where_text, cols = self._compile(where, "where")
        texts = [(option_name("where"), where_text)]
        if baseline is not None:
            base, base_text, base_cols = self._compile(baseline, "baseline")
            base = base & ~sel
            cols |= base_cols
            texts.append((option_name("baseline"), base_text))
        else:
            base = ~sel
            base_text = f"NOT ({where_text})"
        scope = None
        filter_text = None
        if filter is not None:
            scope, filter_text, scope_cols = self._compile(filter, "filter")
            cols |= scope_cols
            texts.append((option_name("filter"), filter_text))
        _, wname, wauto = resolve_weight(weight, self.schema())
        spark_weight = (
            F.lit(1.0) if wname is None else F.coalesce(_col(wname).cast("double"), F.lit(1.0))
        )
        inert = pl.lit(False)
        return SparkSplit(
            selection=inert,
            baseline=inert,
            scope=None,
            weight=pl.lit(1.0),
            where=where_text,
            baseline_text=base_text,
            filter_text=filter_text,
            weight_column=wname,
            weight_auto=wauto,
            predicate_columns=cols,
            spark_selection=sel,
            spark_baseline=base,
            spark_scope=scope,
            spark_weight=spark_weight,
            baseline_is_rest=baseline is None,
            texts=tuple(texts),
        )

    # -- running jobs ----------------------------------------------------------------------
    def _run(self, what: str, split: SparkSplit | None, job: Callable[[], T]) -> T:
        try:
            with _quiet():
                return job()
        except PySparkException as exc:
            line = _first_line(exc)
            contexts: list[str] = []
            with contextlib.suppress(Exception):
                contexts = [c.fragment() for c in exc.getQueryContext()]
            for option, text in split.texts if split else ():
                if any(frag and frag in text for frag in contexts):
                    raise PredicateError(
                        f"cannot evaluate {option} predicate {gate.shown(text)}: {line}"
                    ) from None
            raise SourceError(f"Spark failed while {what} in {self.description}: {line}") from None
        except Exception as exc:  # py4j network errors, a dead JVM...
            if "py4j" in type(exc).__module__ or "grpc" in type(exc).__module__:
                raise EngineError(f"Spark failed while {what}: {_first_line(exc)}") from None
            raise

    def _scoped(self, split: SparkSplit) -> Any:
        return self.frame if split.spark_scope is None else self.frame.filter(split.spark_scope)

    @staticmethod
    def _spark_split(split: Split) -> SparkSplit:
        if not isinstance(split, SparkSplit):
            raise TypeError("the Spark engine needs the Split made by SparkEngine.split")
        return split

    # -- measure ---------------------------------------------------------------------------
    def measure(self, split: Split, names: Sequence[str]) -> tuple[Totals, dict[str, Any]]:
        """Totals and column statistics.

        A first job over every event gives the totals (:meth:`_totals`). Up to the exact
        limit (:func:`bubbleup.pipeline.profile.sample_stride`) a second one measures every
        event, then :meth:`_distinct` counts distinct values exactly; above it,
        :meth:`_measure_sample`.
        """
        sp = self._spark_split(split)
        scoped = self._scoped(sp)
        row = self._run(
            "counting events", sp, functools.partial(_one_row, scoped, self._totals(sp, names))
        )
        if sample_stride(int(row["_scope"]), len(names)) > 1:
            return self._measure_sample(sp, scoped, names, row)
        s = sp.spark_selection
        schema = self.schema()
        exprs = []
        for i, name in enumerate(names):
            # an estimate, to choose how each column is counted exactly (_distinct)
            exprs.append(F.approx_count_distinct(_col(name), DISTINCT_RSD).alias(f"u{i}"))
            if _kind(schema[name]) == "numeric":
                x = self._not_nan(name)
                exprs += [
                    _quantiles(x, SCOPE_QUANTILES).alias(f"q{i}"),
                    _quantiles(F.when(s, x), SELECTION_QUANTILES).alias(f"s{i}"),
                ]
        if exprs:
            row.update(
                self._run("measuring columns", sp, functools.partial(_one_row, scoped, exprs))
            )
        estimates = [int(row[f"u{i}"] or 0) for i in range(len(names))]
        row.update(self._distinct(sp, scoped, names, estimates))  # as polars counts them
        return totals_from_row(row, sp), _with_missing(row, len(names))

    def _totals(self, sp: SparkSplit, names: Sequence[str]) -> list[Any]:
        """Aggregations over every event: the totals, each column's missing values
        (``n{i}``) and the first and last time of each time column (``tlo{i}``, ``thi{i}``)."""
        s, b, w = sp.spark_selection, sp.spark_baseline, sp.spark_weight
        zero = F.lit(0.0)
        exprs = [
            F.count(F.lit(1)).alias("_scope"),
            F.sum(s.cast("long")).alias("_sel_n"),
            F.sum(b.cast("long")).alias("_base_n"),
            F.sum(F.when(s, w).otherwise(zero)).alias("_sel_w"),
            F.sum(F.when(b, w).otherwise(zero)).alias("_base_w"),
            F.sum(F.when(s, w * w).otherwise(zero)).alias("_sel_w2"),
            F.sum(F.when(b, w * w).otherwise(zero)).alias("_base_w2"),
            F.min(w).alias("_w_min"),
            F.max(w).alias("_w_max"),
            F.sum(F.isnan(w).cast("long")).alias("_w_nan"),
        ]
        schema = self.schema()
        for i, name in enumerate(names):
            exprs.append((F.count(F.lit(1)) - F.count(_col(name))).alias(f"n{i}"))
            kind = _kind(schema[name])
            if kind == "time":
                t = _number(name, kind, str(schema[name]))
                exprs += [F.min(t).alias(f"tlo{i}"), F.max(t).alias(f"thi{i}")]
        return exprs

    def _not_nan(self, name: str) -> Any:
        x = _number(name, "numeric", str(self.schema()[name]))
        return F.when(F.isnan(x), F.lit(None)).otherwise(x)

    def _measure_sample(
        self, sp: SparkSplit, scoped: Any, names: Sequence[str], row: dict[str, Any]
    ) -> tuple[Totals, dict[str, Any]]:
        """Above the exact limit, as the polars engine measures: the totals, missing values
        and time bounds over every event; distinct values and quantiles exactly on a sample
        of about ``QUANTILE_SAMPLE`` events (``_sample``); the selection's quantiles, of the
        numbers that get ranges only, on every selected event, or on a sample of about
        ``SELECTION_SAMPLE`` of them when more are selected.

        Spark's estimates over every event (HyperLogLog, ``percentile_approx``) are
        aggregates it interprets instead of compiling: they took 171 of 236 s of a 10M x 40
        analysis on two cores. The samples are Bernoulli samples with a fixed seed (the
        polars engine's are blocks of events), so the ranges can differ slightly between
        engines; the counts in them are exact in both.
        """
        schema = self.schema()
        sample = scoped.sample(
            withReplacement=False,
            fraction=min(1.0, profile.QUANTILE_SAMPLE / int(row["_scope"])),
            seed=SAMPLE_SEED,
        )
        # a sample's sets are bounded by its size: one job for every column
        exprs = [F.count(F.lit(1)).alias("_sample")]
        for i, name in enumerate(names):
            exprs.append(F.size(F.collect_set(_col(name))).alias(f"u{i}"))
            if _kind(schema[name]) == "numeric":
                exprs.append(_quantiles(self._not_nan(name), SCOPE_QUANTILES).alias(f"q{i}"))
        row.update(self._run("measuring a sample", sp, functools.partial(_one_row, sample, exprs)))
        row = _with_missing(row, len(names))
        numbers = set(ranged(schema, names, row))
        n_selected = int(row["_sel_n"] or 0)
        if numbers and n_selected:
            selected = scoped.filter(sp.spark_selection)
            if n_selected > profile.SELECTION_SAMPLE:
                selected = selected.sample(
                    withReplacement=False,
                    fraction=min(1.0, profile.SELECTION_SAMPLE / n_selected),
                    seed=SAMPLE_SEED,
                )
            exprs = [F.count(F.lit(1)).alias("_selected")]
            exprs += [
                _quantiles(self._not_nan(name), SELECTION_QUANTILES).alias(f"s{i}")
                for i, name in enumerate(names)
                if name in numbers
            ]
            row.update(
                self._run(
                    "measuring the selection", sp, functools.partial(_one_row, selected, exprs)
                )
            )
        return totals_from_row(row, sp), row

    def _distinct(
        self, sp: SparkSplit, scoped: Any, names: Sequence[str], estimates: Sequence[int]
    ) -> dict[str, int]:
        """Exact numbers of distinct values (nulls not counted) as ``u{i}``: the columns with
        at most :data:`SET_DISTINCT` estimated values as sets, in one job, then each other
        column in a job of its own."""
        small = [i for i, n in enumerate(estimates) if n <= SET_DISTINCT]
        large = [i for i, n in enumerate(estimates) if n > SET_DISTINCT]
        jobs = [[F.size(F.collect_set(_col(names[i]))).alias(f"u{i}") for i in small]]
        jobs += [[F.countDistinct(_col(names[i])).alias(f"u{i}")] for i in large]
        out: dict[str, int] = {}
        for exprs in jobs:
            if exprs:
                got = self._run(
                    "counting distinct values", sp, functools.partial(_one_row, scoped, exprs)
                )
                out.update((k, int(v or 0)) for k, v in got.items())
        return out

    # -- count -----------------------------------------------------------------------------
    def count(self, split: Split, attributes: Sequence[Attribute]) -> pl.DataFrame:
        """The counts table: one ``groupBy`` per pack of attributes
        (:func:`bubbleup.pipeline.count.packs`), all in one Spark job."""
        if not attributes:
            return pl.DataFrame(schema=COUNTS_SCHEMA)
        sp = self._spark_split(split)
        scoped = self._scoped(sp)
        s, b = F.col("_s"), F.col("_b")
        w = F.col("_w")
        zero = F.lit(0.0)
        groups = packs(attributes)
        parts = []
        for p, group in enumerate(groups):
            keys = [f"a{i}" for i in group]
            q = scoped.select(
                *[self._key(attributes[i]).alias(f"a{i}") for i in group],
                sp.spark_selection.alias("_s"),
                sp.spark_baseline.alias("_b"),
                sp.spark_weight.alias("_w"),
            )
            if not sp.baseline_is_rest:
                q = q.filter(s | b)
            parts.append(
                q.groupBy(*keys)
                .agg(
                    F.sum(F.when(s, w).otherwise(zero)).alias("sel"),
                    F.sum(F.when(b, w).otherwise(zero)).alias("base"),
                    F.sum(s.cast("long")).alias("sel_events"),
                    F.sum(b.cast("long")).alias("base_events"),
                )
                .withColumn("_p", F.lit(p))
            )
        union = reduce(lambda x, y: x.unionByName(y, allowMissingColumns=True), parts)
        table = pl.from_arrow(self._run("counting values", sp, union.toArrow))
        assert isinstance(table, pl.DataFrame)
        schema = self.schema()
        results = []
        for p, group in enumerate(groups):
            mine = table.filter(pl.col("_p") == p)
            results.append(
                mine.select(
                    *[
                        pl.col(f"a{i}")
                        .cast(_result_dtype(attributes[i], schema[attributes[i].name]))
                        .alias(f"k{j}")
                        for j, i in enumerate(group)
                    ],
                    pl.col("sel").fill_null(0.0).cast(pl.Float64),
                    pl.col("base").fill_null(0.0).cast(pl.Float64),
                    pl.col("sel_events").fill_null(0).cast(pl.Int64),
                    pl.col("base_events").fill_null(0).cast(pl.Int64),
                )
            )
        return concat_counts(unpack(attributes, groups, results))

    def _key(self, attr: Attribute) -> Any:
        """The grouping key of ``attr``, as polars' :func:`bubbleup.pipeline.count.key_expr`."""
        col = _col(attr.name)
        if attr.kind == "time":  # a regular grid, as bubbleup.pipeline.count.key_expr
            x = _number(attr.name, attr.kind, attr.dtype)
            e0, n = attr.edges[0], len(attr.edges)
            step = attr.edges[1] - e0 if n > 1 else 1.0
            index = F.least(F.greatest(F.ceil((x - F.lit(e0)) / F.lit(step)), F.lit(0)), F.lit(n))
            return index.cast("long")
        if attr.dtype.startswith("Duration"):
            x = _number(attr.name, attr.kind, attr.dtype)
            if not attr.binned:
                return x
        if attr.binned:
            x = _number(attr.name, attr.kind, attr.dtype)
            x = F.when(F.isnan(x), F.lit(None)).otherwise(x)
            index = reduce(lambda a, c: a + c, [(x > F.lit(e)).cast("int") for e in attr.edges])
            return index.cast("long")
        dtype = self.schema()[attr.name]
        if attr.kind in ("boolean", "categorical") or not (dtype.is_integer() or dtype.is_float()):
            return col if attr.kind == "boolean" else col.cast("string")  # decimals: exact text
        if dtype.is_integer():
            return col.cast("long")
        x = col.cast("double")
        return F.when(F.isnan(x), F.lit(None)).otherwise(x)

    # -- combinations ----------------------------------------------------------------------
    def count_patterns(
        self, split: Split, items: Sequence[Item], attributes: Mapping[str, Attribute]
    ) -> pl.DataFrame:
        """Weighted and raw counts per bit mask of ``items``, as ``count.count_patterns``."""
        if not 0 < len(items) <= MAX_PATTERN_ITEMS:
            raise ValueError(f"count_patterns takes 1 to {MAX_PATTERN_ITEMS} items")
        sp = self._spark_split(split)
        bits = [
            F.when(_item_condition(item, attributes[item["attribute"]]), F.lit(1 << i))
            .otherwise(F.lit(0))
            .cast("long")
            for i, item in enumerate(items)
        ]
        mask = reduce(lambda a, c: a + c, bits)
        s, b, w = F.col("_s"), F.col("_b"), F.col("_w")
        zero = F.lit(0.0)
        q = self._scoped(sp).select(
            mask.alias("mask"),
            sp.spark_selection.alias("_s"),
            sp.spark_baseline.alias("_b"),
            sp.spark_weight.alias("_w"),
        )
        if not sp.baseline_is_rest:
            q = q.filter(s | b)
        q = q.groupBy("mask").agg(
            F.sum(F.when(s, w).otherwise(zero)).alias("sel"),
            F.sum(F.when(b, w).otherwise(zero)).alias("base"),
            F.sum(s.cast("long")).alias("sel_events"),
            F.sum(b.cast("long")).alias("base_events"),
        )
        table = pl.from_arrow(self._run("counting combinations", sp, q.toArrow))
        assert isinstance(table, pl.DataFrame)
        return table.select([pl.col(c).cast(t) for c, t in PATTERNS_SCHEMA.items()]).sort("mask")

    # -- outcome values --------------------------------------------------------------------
    def count_values(
        self, split: Split, attributes: Sequence[Attribute], *, stride: int = 1
    ) -> list[pl.DataFrame]:
        """Weighted events per distinct number of each attribute, as polars'
        :func:`bubbleup.pipeline.count.count_values` (one Spark job). Every event is counted,
        whatever ``stride``: a Spark DataFrame has no stable order to take every n-th event by."""
        if not attributes:
            return []
        sp = self._spark_split(split)
        s, b, w = F.col("_s"), F.col("_b"), F.col("_w")
        zero = F.lit(0.0)
        parts = []
        for p, attr in enumerate(attributes):
            x = _number(attr.name, attr.kind, attr.dtype)
            q = self._scoped(sp).select(
                x.alias("x"),
                sp.spark_selection.alias("_s"),
                sp.spark_baseline.alias("_b"),
                sp.spark_weight.alias("_w"),
            )
            q = q.filter((s | b) & F.col("x").isNotNull() & ~F.isnan(F.col("x")))
            parts.append(
                q.groupBy("x")
                .agg(
                    F.sum(F.when(s, w).otherwise(zero)).alias("sel"),
                    F.sum(F.when(b, w).otherwise(zero)).alias("base"),
                )
                .withColumn("_p", F.lit(p))
            )
        union = reduce(lambda x, y: x.unionByName(y), parts)
        table = pl.from_arrow(self._run("counting outcome values", sp, union.toArrow))
        assert isinstance(table, pl.DataFrame)
        return [
            table.filter(pl.col("_p") == p)
            .select([pl.col(c).fill_null(0.0).cast(d) for c, d in VALUES_SCHEMA.items()])
            .sort("x")
            for p in range(len(attributes))
        ]


def _with_missing(row: dict[str, Any], n: int) -> dict[str, Any]:
    """``row`` with missing values counted as one more distinct value (as polars counts)."""
    for i in range(n):
        row[f"u{i}"] = int(row[f"u{i}"] or 0) + (1 if row[f"n{i}"] else 0)
    return row


def _one_row(frame: Any, exprs: Sequence[Any]) -> dict[str, Any]:
    """The one row of an aggregation of ``frame``, as a dict."""
    row: dict[str, Any] = frame.agg(*exprs).toArrow().to_pylist()[0]
    return row


def _result_dtype(attr: Attribute, dtype: pl.DataType) -> pl.DataType:
    """The polars type of an attribute's key as counted (bins, durations as numbers)."""
    if attr.binned:
        return pl.Int64()
    return pl.Float64() if isinstance(dtype, pl.Duration) else dtype


def _quantiles(x: Any, levels: Sequence[float]) -> Any:
    """Exact quantiles with linear interpolation (polars' ``quantile(..., "linear")``)."""
    return F.percentile(x, list(levels))


def _number(name: str, kind: str | None, dtype: str) -> Any:
    """Spark version of :func:`bubbleup.pipeline.profile.number`: times in microseconds since 1970
    (UTC: the session's time zone), durations in milliseconds, other numbers as doubles."""
    col = _col(name)
    if kind == "time":
        if dtype == "Date":
            return F.unix_date(col).cast("double") * F.lit(86_400_000_000.0)
        return F.unix_micros(col.cast("timestamp")).cast("double")
    if dtype.startswith("Duration"):
        return F.unix_micros(F.timestamp_seconds(F.lit(0)) + col).cast("double") / F.lit(1000.0)
    return col.cast("double")


def _item_condition(item: Item, attr: Attribute) -> Any:
    """Spark version of :func:`bubbleup.pipeline.items.item_condition` (never null)."""
    col = _col(attr.name)
    op = item["op"]
    if attr.kind in ("numeric", "time") or attr.binned:
        x = _number(attr.name, attr.kind, attr.dtype)
        missing = x.isNull() | F.isnan(x)
    else:
        x = col
        missing = col.isNull()
    if op == "is_null":
        cond = missing
    elif op == "=":
        value = item["value"]
        if attr.kind == "boolean":
            cond = col == F.lit(value == "true")
        elif attr.kind == "numeric":
            cond = x == F.lit(float(value))
        else:
            cond = col.cast("string") == F.lit(value)
    elif op == "<=":
        cond = x <= F.lit(float(item["high"]))
    elif op == ">":
        cond = x > F.lit(float(item["low"]))
    else:
        cond = (x > F.lit(float(item["low"]))) & (x <= F.lit(float(item["high"])))
    if op != "is_null":
        cond = cond & ~missing
    return F.coalesce(cond, F.lit(False))


# -- reading files ---------------------------------------------------------------------------


def _local_files(path: str) -> list[str]:
    """Check a local path as the polars loader does; return files that tell the format."""
    if any(ch in path for ch in "*?["):
        import glob

        matches = sorted(p for p in glob.glob(path, recursive=True) if os.path.isfile(p))
        if not matches:
            raise SourceError(f"no files match {path}; check the pattern")
        return matches
    if os.path.isdir(path):
        files = sorted(
            str(p)
            for p in Path(path).rglob("*")
            if p.is_file() and p.suffix.lower() in FORMATS and not p.name.startswith((".", "_"))
        )
        if not files:
            raise SourceError(f"directory {path} has no event files (.parquet, .csv, .ndjson...)")
        return files
    return expand(path)  # one file: not found, or not a regular file (a FIFO would block)


def _read_paths(spark: Any, source: Any) -> tuple[Any, str, tuple[str, ...]]:
    paths = (
        [os.fspath(p) for p in source] if isinstance(source, (list, tuple)) else [os.fspath(source)]
    )
    if not paths:
        raise SourceError("no source given")
    formats = set()
    for p in paths:
        if "://" in p:  # a data lake URI: by extension, else Parquet
            suffix = Path(urlparse(p).path).suffix.lower()
            formats.add(FORMATS.get(suffix, "parquet"))
            continue
        for f in _local_files(p)[:1]:
            suffix = Path(f).suffix.lower()
            if suffix not in FORMATS:
                known = ", ".join(sorted(FORMATS))
                raise SourceError(f"unknown file type '{suffix or f}' for {f}; use one of: {known}")
            formats.add(FORMATS[suffix])
    if len(formats) > 1:
        raise SourceError(
            f"the source mixes file types ({', '.join(sorted(formats))}); pass files of one type"
        )
    fmt = formats.pop()
    description = paths[0] if len(paths) == 1 else f"{paths[0]} (+{len(paths) - 1} more)"
    try:
        with _quiet():
            reader = spark.read
            if fmt == "parquet":
                frame = reader.parquet(*paths)
            elif fmt == "csv":
                sep = "\t" if paths[0].lower().endswith(".tsv") else ","
                frame = reader.csv(paths, header=True, inferSchema=True, sep=sep)
            elif fmt == "ndjson":
                frame = reader.json(paths)
            else:
                raise SourceError(
                    "the Spark engine reads Parquet, CSV and JSON lines, not Arrow IPC; "
                    "convert the files to Parquet or use the polars engine"
                )
            frame.schema  # noqa: B018 - fail now on a missing or corrupt file
    except PySparkException as exc:
        raise SourceError(f"could not read {description}: {_first_line(exc)}") from None
    return frame, description, tuple(paths)
