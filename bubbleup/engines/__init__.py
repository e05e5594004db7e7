"""Engines: the code that reads events, behind one small protocol.

An engine compiles the predicates with its own SQL parser and runs the three passes that
touch every event: :meth:`Engine.measure` (totals and column statistics),
:meth:`Engine.count` (the counts table) and :meth:`Engine.count_patterns` (bit masks of
candidate items, for combinations). Everything else (profile decisions, statistics,
explanations, rendering) is shared code that reads only what these return, so the engines
give the same answer on the same data.

- ``polars`` (default): embedded, streaming, for anything one machine can read.
- ``spark``: pyspark (classic or Spark Connect), for data that sits in a data lake; see
  :mod:`bubbleup.engines.spark`.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import polars as pl
import pyarrow as pa

from bubbleup.engines import parquet
from bubbleup.errors import EngineError, SourceError, UsageError, first_line
from bubbleup.options import option_name
from bubbleup.pipeline import count as counting
from bubbleup.pipeline.items import Item
from bubbleup.pipeline.load import Loaded, Source, load
from bubbleup.pipeline.profile import Attribute
from bubbleup.pipeline.split import Predicate, Split, split

#: Names accepted by ``engine=`` / ``--engine``.
ENGINES = ("polars", "spark")


class Engine(Protocol):
    """What the pipeline needs from an engine.

    ``measure`` returns the :class:`~bubbleup.pipeline.count.Totals` and a row of statistics keyed
    like those of :func:`bubbleup.pipeline.profile.scope_queries` and
    :func:`~bubbleup.pipeline.profile.selection_queries` (``u{i}``, ``q{i}``, ``s{i}`` for the
    ``i``-th name); ``count`` returns the counts table
    (:data:`bubbleup.pipeline.count.COUNTS_SCHEMA`); ``count_patterns`` the mask table
    (:data:`bubbleup.pipeline.count.PATTERNS_SCHEMA`).
    """

    name: str
    description: str
    paths: tuple[str, ...]

    def schema(self) -> dict[str, pl.DataType]:
        """The source's columns, as polars types."""
        ...

    def split(
        self,
        *,
        where: Predicate,
        baseline: Predicate | None,
        filter: Predicate | None,
        weight: str | bool | None,
    ) -> Split:
        """Compile the predicates and the weight with the engine's SQL."""
        ...

    def measure(self, split: Split, names: Sequence[str]) -> tuple[counting.Totals, dict[str, Any]]:
        """Totals of both sides and the statistics of the candidate columns, in one pass."""
        ...

    def count(self, split: Split, attributes: Sequence[Attribute]) -> pl.DataFrame:
        """The counts table of ``attributes``."""
        ...

    def count_patterns(
        self, split: Split, items: Sequence[Item], attributes: Mapping[str, Attribute]
    ) -> pl.DataFrame:
        """Weighted and raw counts per bit mask of ``items``."""
        ...

    def count_values(
        self, split: Split, attributes: Sequence[Attribute], *, stride: int = 1
    ) -> list[pl.DataFrame]:
        """Weighted events per distinct number of each attribute, on both sides
        (:func:`bubbleup.pipeline.count.count_values`), of every ``stride``-th event in scope
        (engines without a stable event order may count every event)."""
        ...


class PolarsEngine:
    """The embedded engine: polars lazy queries on the streaming engine."""

    name = "polars"

    def __init__(self, loaded: Loaded, *, direct: bool = True) -> None:
        self.loaded = loaded
        self.frame = loaded.frame
        self.description = loaded.description
        self.paths = loaded.scanned  # the Parquet files the frame reads as they are
        #: whether the frame reads the files as they are (no time window or other filter
        #: added after loading): only then may Parquet files be counted from their codes
        self.direct = direct
        self._schema: dict[str, pl.DataType] | None = None
        self._arrow: dict[str, pa.Schema] = {}

    def schema(self) -> dict[str, pl.DataType]:
        """The source's columns, as polars types."""
        if self._schema is None:
            self._schema = dict(self.frame.collect_schema())
        return self._schema

    def split(
        self,
        *,
        where: Predicate,
        baseline: Predicate | None,
        filter: Predicate | None,
        weight: str | bool | None,
    ) -> Split:
        """Compile the predicates with polars' SQL parser."""
        return split(self.schema(), where=where, baseline=baseline, filter=filter, weight=weight)

    def measure(self, split: Split, names: Sequence[str]) -> tuple[counting.Totals, dict[str, Any]]:
        """Totals, then column statistics (from samples of blocks of events for large Parquet)."""
        fast = self._parquet_plan(split, names)
        sampler = None
        if fast is not None:
            # the files as they are (the plan says every column measured is read as it is):
            # a slice reaches the Parquet reader only when nothing comes before it
            frame = pl.scan_parquet(list(fast.files), hive_partitioning=False, glob=False)

            @functools.cache
            def total() -> int:  # from the files' metadata, once, and only if sampled
                return int(frame.select(pl.len()).collect().item())

            def sampler(rows: int, wanted: int, columns: Sequence[str]) -> pl.DataFrame | None:
                return parquet.sample(frame, columns, rows=rows, wanted=wanted, total=total())

        try:
            plain = self.loaded.in_memory or (self.direct and bool(self.paths))
            return counting.measure(
                self.frame, split, self.schema(), names, sampler=sampler, plain=plain
            )
        except pl.exceptions.PolarsError as exc:
            raise SourceError(f"could not read {self.description}: {first_line(exc)}") from None

    def count(self, split: Split, attributes: Sequence[Attribute]) -> pl.DataFrame:
        """The counts table (one pass for all attributes).

        When the source is Parquet files read as they are, attributes are counted from the
        files' dictionary codes (:mod:`bubbleup.engines.parquet`), except those with so
        many values that writers stop dictionary-encoding them: polars counts those (every
        value) on a second thread meanwhile. Any other source is counted by polars queries.
        """
        coded = [a for a in attributes if parquet.by_codes(a)]
        fast = self._parquet_plan(split, [a.name for a in coded]) if coded else None
        if fast is None:
            return counting.count(self.frame, split, attributes)
        rest = [a for a in attributes if not parquet.by_codes(a)]
        if not rest:
            return parquet.count(fast, split, coded, self.schema())
        # polars counts the many-valued ones while the codes are counted: the codes pass
        # leaves a core idle about a tenth of the time (2M x 41, two ids: 2.22 -> 2.10 s
        # a whole analysis; 10M x 50: the same time, the same peak memory)
        many = _meanwhile(counting.count_each, self.frame, split, rest)
        by_codes = parquet.count_each(fast, split, coded, self.schema())
        parts = {a.name: part for a, part in zip(coded, by_codes, strict=True)}
        parts.update((a.name, part) for a, part in zip(rest, many(), strict=True))
        # in the order of the attributes, part after part (sorting the rows instead cost
        # 0.1 s of 2.0 at 2M x 41: the ids' rows are a million)
        return counting.concat_counts([parts[a.name] for a in attributes])

    def _parquet_plan(self, split: Split, columns: Sequence[str]) -> parquet.Plan | None:
        if not self.direct or os.environ.get("BUBBLEUP_PARQUET_CODES", "1") == "0":
            return None
        return parquet.plan(self.paths, self.schema(), split, columns, schemas=self._arrow)

    def count_patterns(
        self, split: Split, items: Sequence[Item], attributes: Mapping[str, Attribute]
    ) -> pl.DataFrame:
        """Counts per bit mask of ``items`` (one polars pass, Parquet included).

        Parquet files are not read from their codes here: polars reads only the items'
        columns, evaluates the conditions and groups the masks in one streaming query, a
        fifth faster than the codes (9 items on 2M x 41 events: 0.20 -> 0.15 s; 3 items on
        10M: 0.39 -> 0.33 s; 25 items on the sample: 0.058 -> 0.046 s; polars 2.1).
        """
        return counting.count_patterns(self.frame, split, items, attributes)

    def count_values(
        self, split: Split, attributes: Sequence[Attribute], *, stride: int = 1
    ) -> list[pl.DataFrame]:
        """Weighted events per distinct number of each attribute (one polars pass)."""
        return counting.count_values(self.frame, split, attributes, stride=stride)


T = TypeVar("T")


def _meanwhile(work: Callable[..., T], *args: Any) -> Callable[[], T]:
    """Start ``work(*args)`` on a daemon thread; return a function that waits for its result.

    A daemon thread, not a thread pool: when the caller fails or is interrupted (Ctrl-C)
    before asking for the result, nothing waits for a polars query that cannot be stopped,
    neither the caller nor the interpreter's exit.

    Examples
    --------
    >>> _meanwhile(sum, [1, 2, 3])()
    6
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = work(*args)
        except BaseException as exc:  # handed to the caller, who raises it
            box["error"] = exc

    thread = threading.Thread(target=run, name="bubbleup-meanwhile", daemon=True)
    thread.start()

    def result() -> T:
        thread.join()
        if "error" in box:
            raise box["error"]
        value: T = box["value"]
        return value

    return result


def is_spark_frame(source: object) -> bool:
    """Whether ``source`` is a pyspark DataFrame (classic or Spark Connect).

    Examples
    --------
    >>> import polars as pl
    >>> is_spark_frame(pl.DataFrame({"x": [1]}))
    False
    """
    kind = type(source)
    return kind.__name__ == "DataFrame" and kind.__module__.startswith("pyspark.")


def open_engine(
    source: Source,
    *,
    engine: str | None = None,
    spark_master: str | None = None,
    progress: Any = None,
) -> Engine:
    """Return the engine that reads ``source``.

    ``engine`` is ``"polars"`` (the default) or ``"spark"``; a Spark DataFrame always runs
    on Spark, in its own session. ``spark_master`` (``local[2]``, ``spark://host:7077``,
    ``sc://host:15002`` for Spark Connect, ``yarn``...) is where bubbleup starts its Spark
    session; without it, an active session is reused, else a local one is started.

    Examples
    --------
    >>> open_engine("sample_data/builds.parquet").name
    'polars'
    """
    if engine is not None and engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; use one of: {', '.join(ENGINES)}")
    spark_frame = is_spark_frame(source)
    if spark_frame and engine == "polars":
        raise UsageError(
            "a Spark DataFrame runs on the Spark engine; leave engine unset, "
            "or convert it to Arrow first (DataFrame.toArrow())"
        )
    if engine == "spark" or spark_frame:
        if importlib.util.find_spec("pyspark") is None:
            raise EngineError(
                "the Spark engine needs pyspark, which is not installed; install it with: "
                "pip install 'bubbleup[spark]'"
            )
        from bubbleup.engines.spark import SparkEngine

        return SparkEngine.open(source, master=spark_master, progress=progress)
    if spark_master is not None:
        raise UsageError(f"{option_name('spark_master')} needs {option_name('engine_spark')}")
    return PolarsEngine(load(source))
