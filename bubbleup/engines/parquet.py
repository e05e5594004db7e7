"""The polars engine's fast path for Parquet files: counting from dictionary codes.

Text columns in Parquet are almost always dictionary encoded: each row group stores its
distinct values once and one small integer per event. Grouping the decoded strings (what a
``group_by`` does) hashes every event's text; here pyarrow hands over the integer codes
(``read_dictionary``) and numpy counts them with ``bincount``, so a text column costs a
few nanoseconds per event whatever its values. Numbers in ranges are binned through a
look-up table (:class:`_Binner`); few-valued numbers and booleans get codes directly. The
codes of several attributes are packed into one key and counted together. The predicates
and the weight are still evaluated by polars, with the very expressions of the
:class:`~bubbleup.pipeline.split.Split` (once per distinct value when they read one text column).

The result is the same counts table as :func:`bubbleup.pipeline.count.count` (the tests check it
row for row), so everything downstream is unchanged. Row groups are read in batches of at
most :data:`BATCH_ROWS` events, the next one on a second thread while two are counted, so
memory is bounded by a few batches, not by the file.

:func:`plan` says whether a source can take this path: Parquet files read as they are
(no hive partition columns, no flattened struct fields among the columns used, the same
type in every file); otherwise the engine counts with polars queries.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bubbleup.errors import SourceError, first_line
from bubbleup.io.paths import hive_keys
from bubbleup.pipeline.count import (
    SUMS,
    concat_counts,
    label_bins,
    label_values,
    pack_sizes,
    rows_of,
)
from bubbleup.pipeline.profile import Attribute
from bubbleup.pipeline.split import Split

#: Attributes with more distinct values than this (estimated on a sample of at most
#: 200,000 events) are left to polars. Writers stop dictionary-encoding such text after
#: about 1 MB of dictionary, and building the dictionary while reading costs ~200 ns per
#: event, where polars' grouping costs ~80: 10M events with a 1M-value id (estimated 157k):
#: 4.9 s by codes, 0.9 s by polars. Below, codes win, the more so with more events:
#: 100M events with 165k values (estimated 107k): 6.3 s by codes, 14.7 s by polars.
MAX_CODED_DISTINCT = 120_000


def by_codes(attr: Attribute) -> bool:
    """Whether the fast path counts ``attr`` (see :data:`MAX_CODED_DISTINCT`)."""
    if attr.kind == "time" or attr.dtype.startswith("Duration"):
        return False  # counted by polars (a few arithmetic operations per event)
    return attr.binned or attr.distinct <= MAX_CODED_DISTINCT


#: Row groups with more rows than this are read in batches of this many rows: small
#: enough that a batch's per-event arrays (8-byte keys, codes) stay in the CPU caches and
#: that reading and counting overlap on two cores even for a file of two row groups
#: (2M x 41 events in two row groups of 1M: about 10% less cpu and wall than whole row
#: groups, bench/README.md "Counting near the floor")...
BATCH_ROWS = 1 << 17
#: ... or of fewer, so that a batch holds at most this many values (wide events).
BATCH_VALUES = 1 << 26
#: Per attribute, the (dictionary, counts) pieces of the row groups read so far are merged
#: into one table once they hold this many values (bounds memory for many-valued columns).
MERGE_VALUES = 2_000_000


@dataclass(frozen=True)
class Plan:
    """Which Parquet files to read, and which of their columns."""

    files: tuple[str, ...]
    #: columns the predicates and the weight read
    predicate_columns: tuple[str, ...]
    #: the one text column all predicates read, if so: it is read as dictionary codes and
    #: the predicates are evaluated once per distinct value, not once per event
    coded_predicate: str | None = None


@functools.lru_cache(maxsize=256)
def _polars_type(field_type: pa.DataType) -> pl.DataType | None:
    try:
        return pl.from_arrow(pa.nulls(0, type=field_type)).dtype  # type: ignore[union-attr]
    except Exception:  # any type polars cannot take: no fast path
        return None


def plan(
    files: Sequence[str],
    schema: Mapping[str, pl.DataType],
    split: Split,
    columns: Sequence[str],
    *,
    schemas: dict[str, pa.Schema] | None = None,
) -> Plan | None:
    """The fast-path plan for counting ``columns``, or ``None`` when it does not apply.

    It applies when every file is Parquet, none sits in a hive partition directory, and
    every column used (attributes, predicates, weight) is a top-level column of every file
    with the type the loaded frame gives it (so no widening or flattening is involved).
    ``schemas`` caches the files' Arrow schemas between calls.

    Examples
    --------
    >>> from bubbleup.pipeline.load import load
    >>> from bubbleup.pipeline.split import split as make_split
    >>> src = load("sample_data/builds.parquet")
    >>> schema = dict(src.frame.collect_schema())
    >>> sp = make_split(schema, where="exit_reason = 'oom'")
    >>> plan(src.paths, schema, sp, ["kernel_version"]) is not None
    True
    """
    if not files or any(not f.endswith(".parquet") or hive_keys(f) for f in files):
        return None
    needed = set(columns) | set(split.predicate_columns)
    if split.weight_column is not None:
        needed.add(split.weight_column)
    schemas = {} if schemas is None else schemas  # the files' schemas, read once
    for path in files:
        try:
            if path not in schemas:
                schemas[path] = pq.read_schema(path)
            arrow = schemas[path]
        except (pa.ArrowException, OSError):
            return None
        names = arrow.names
        for name in needed:
            if names.count(name) != 1:
                return None
            typ = arrow.field(name).type
            if pa.types.is_dictionary(typ):
                typ = typ.value_type
            if pa.types.is_string(typ) or pa.types.is_large_string(typ):
                if not isinstance(schema.get(name), (pl.String, pl.Categorical, pl.Enum)):
                    return None
            elif _polars_type(typ) != schema.get(name):
                return None
    predicate = sorted(c for c in (*split.predicate_columns, split.weight_column) if c is not None)
    coded = None
    if len(split.predicate_columns) == 1:
        (only,) = split.predicate_columns
        coded = only if isinstance(schema.get(only), pl.String) else None
    return Plan(tuple(files), tuple(dict.fromkeys(predicate)), coded)


#: The sample of :func:`sample` is this many blocks of consecutive events, evenly spaced.
#: Each block costs the decoding of the pages it touches, whatever its length up to a page
#: (polars' pages hold about 125,000 numbers): 200,000 events of 43 columns from a 2M file
#: read in 0.41 s as 16 blocks (the pages of nearly every event: a whole scan is 0.57 s)
#: and in 0.21 s as 8; from a 10M x 52 file in 0.65 and 0.47 s. Every 10th event of 2M
#: (the sample before these) cost a scan of the whole file.
SAMPLE_BLOCKS = 8


def sample(
    frame: pl.LazyFrame, columns: Sequence[str], *, rows: int, wanted: int, total: int
) -> pl.DataFrame | None:
    """About ``rows`` events for the column statistics, in evenly spaced blocks.

    ``frame`` scans Parquet files (of ``total`` events): polars reads a slice of it by
    decoding only the pages that hold it, so a few blocks spread over the source cost a
    fraction of a scan. ``wanted`` is how many of the source's events the sample is for
    (those in scope, or those selected: the caller filters the sample); this reads
    ``rows x total / wanted`` events to leave about ``rows`` of them. It is a sample of
    blocks spread over the whole source, which is what the statistics need (bin edges and
    distinct-value estimates; the counts stay exact), and it depends on the order of the
    events only, not on how the files are cut into row groups: the same events from a
    CSV's cached copy and from a Parquet file get the same statistics. Returns ``None``
    when the sample would read a quarter of the source or more (then scan it all).

    Examples
    --------
    >>> lf = pl.scan_parquet("sample_data/builds.parquet")
    >>> sample(lf, ["cpu_count"], rows=1000, wanted=200_000, total=200_000).height
    1000
    >>> sample(lf, ["cpu_count"], rows=1000, wanted=2_000, total=200_000) is None
    True
    """
    read = rows * total / max(wanted, 1)
    if total <= 0 or read > total / 4:
        return None
    each = max(1, math.ceil(read / SAMPLE_BLOCKS))
    # slice, then select: polars pushes a slice into the Parquet reader only when it comes
    # first (a select before it made polars decode the files up to each block: 10x slower)
    blocks = [
        frame.slice(i * total // SAMPLE_BLOCKS, each).select(list(columns))
        for i in range(SAMPLE_BLOCKS)
    ]
    return pl.concat(pl.collect_all(blocks))  # the engine names the source of an error


def _units(path: str, columns: list[str], dictionary: list[str]) -> Iterator[pa.Table]:
    """The row groups of one file (large ones in batches), as tables."""
    limit = max(1 << 16, min(BATCH_ROWS, BATCH_VALUES // max(1, len(columns))))
    try:
        pf = pq.ParquetFile(path, read_dictionary=dictionary)
        for rg in range(pf.metadata.num_row_groups):
            rows = pf.metadata.row_group(rg).num_rows
            if rows == 0:
                continue
            if rows <= limit:
                yield pf.read_row_group(rg, columns=columns, use_threads=True)
            else:
                for batch in pf.iter_batches(
                    batch_size=limit, row_groups=[rg], columns=columns, use_threads=True
                ):
                    yield pa.Table.from_batches([batch])
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"could not read {path}: {first_line(exc)}") from None


def _tables(files: Sequence[str], columns: list[str], dictionary: list[str]) -> Iterator[pa.Table]:
    """Every row group of every file, the next one read on a second thread."""

    def units() -> Iterator[pa.Table]:
        for path in files:
            yield from _units(path, columns, dictionary)

    source = units()
    done = object()
    with ThreadPoolExecutor(max_workers=1) as pool:
        ahead: Future[Any] = pool.submit(next, source, done)
        while True:
            table = ahead.result()
            if table is done:
                return
            ahead = pool.submit(next, source, done)
            yield table


@dataclass
class _Sides:
    """Which events of one table are in the selection and in the baseline, and weights.

    ``sel`` and ``base`` are row indices (``base`` is ``None`` when every event not
    selected is in the baseline: then baseline counts are totals minus selection counts).
    """

    rows: int
    sel: np.ndarray
    base: np.ndarray | None
    weight: np.ndarray | None  # None: every weight is 1
    sel_weight: np.ndarray | None
    base_weight: np.ndarray | None
    #: rows whose weight is not 1, and their weight minus 1 (None: too many to be worth it)
    odd: np.ndarray | None = None
    odd_extra: np.ndarray | None = None

    @classmethod
    def of(cls, table: pa.Table, split: Split, plan: Plan) -> _Sides:
        """Evaluate the split's polars expressions on the predicate columns of ``table``."""
        scope = split.scope if split.scope is not None else pl.lit(True)
        sides = [(scope & split.selection).alias("s"), (scope & split.baseline).alias("b")]
        by_value = _by_value(table, plan.coded_predicate, sides)
        if by_value is not None:
            s, b = by_value
            others = [c for c in plan.predicate_columns if c != plan.coded_predicate]
            out = _frame(table, others, None).select(split.weight.alias("w"))
        else:
            frame = _frame(table, plan.predicate_columns, plan.coded_predicate)
            out = frame.select(*sides, split.weight.alias("w"))
            s = out["s"].to_numpy()
            b = out["b"].to_numpy()
        sel = np.flatnonzero(s)
        complement = len(sel) + int(b.sum()) == table.num_rows  # the others are baseline
        base = None if complement else np.flatnonzero(b)
        if split.weight_column is None:
            return cls(table.num_rows, sel, base, None, None, None)
        w = out["w"].to_numpy()
        base_weight = None if base is None else w[base]
        odd = np.flatnonzero(w != 1.0)
        if len(odd) > table.num_rows // 2:
            return cls(table.num_rows, sel, base, w, w[sel], base_weight)
        return cls(table.num_rows, sel, base, w, w[sel], base_weight, odd, w[odd] - 1.0)

    def slice(self, offset: int, length: int) -> _Sides:
        """The sides of events ``offset`` to ``offset + length``."""
        if offset == 0 and length == self.rows:
            return self
        end = offset + length

        def part(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            keep = (index >= offset) & (index < end)
            return index[keep] - offset, keep

        sel, ks = part(self.sel)
        base, kb = (None, None) if self.base is None else part(self.base)
        if self.weight is None:
            return _Sides(length, sel, base, None, None, None)
        assert self.sel_weight is not None
        return _Sides(
            length,
            sel,
            base,
            self.weight[offset:end],
            self.sel_weight[ks],
            None if self.base_weight is None or kb is None else self.base_weight[kb],
        )


def _frame(table: pa.Table, columns: Sequence[str], coded: str | None) -> pl.DataFrame:
    """Some columns of ``table`` as a polars frame, the ``coded`` one decoded to text."""
    if not columns:
        return pl.DataFrame({"_n": np.zeros(table.num_rows, dtype=np.int8)})
    picked = table.select(list(columns))
    if coded is not None and coded in columns:
        column = picked.column(coded)
        if pa.types.is_dictionary(column.type):
            text = column.cast(column.type.value_type)
            picked = picked.set_column(picked.schema.get_field_index(coded), coded, text)
    frame = pl.from_arrow(picked)
    assert isinstance(frame, pl.DataFrame)
    frame.columns = picked.column_names  # polars names a column "" column_0
    return frame


def _by_value(
    table: pa.Table, column: str | None, sides: Sequence[pl.Expr]
) -> tuple[np.ndarray, np.ndarray] | None:
    """The two side flags per event, computed once per distinct value of a coded ``column``."""
    if column is None:
        return None
    data = table.column(column)
    if data.num_chunks != 1 or not pa.types.is_dictionary(data.type):
        return None
    chunk = data.chunk(0)
    values = pl.Series(column, chunk.dictionary.cast(pa.large_string()), dtype=pl.String)
    values = values.append(pl.Series(column, [None], dtype=pl.String))
    flags = values.to_frame().select(*sides)
    raw, missing = _raw(chunk.indices)
    codes = raw.astype(np.intp)
    if missing is not None:
        codes[missing] = len(values) - 1
    return flags["s"].to_numpy()[codes], flags["b"].to_numpy()[codes]


def _bincount(codes: np.ndarray, size: int, sides: _Sides) -> np.ndarray:
    """Counts per code (``codes`` of dtype ``intp``): (size, 4) sel, base and their events.

    The selection is counted from its row indices (it is usually small); the baseline as
    every event minus the selection when it is the complement, else from its indices. When
    most weights are 1 (sampled data keeps most events at rate 1), weighted sums are the
    event counts plus the excess weight of the other events.
    """
    out = np.empty((size, 4))
    sel_codes = codes[sides.sel]
    out[:, 2] = np.bincount(sel_codes, minlength=size)
    every = None
    if sides.base is None:
        every = np.bincount(codes, minlength=size)
        out[:, 3] = every - out[:, 2]
    else:
        out[:, 3] = np.bincount(codes[sides.base], minlength=size)
    if sides.weight is None:
        out[:, 0] = out[:, 2]
        out[:, 1] = out[:, 3]
        return out
    out[:, 0] = np.bincount(sel_codes, weights=sides.sel_weight, minlength=size)
    if every is not None:
        if sides.odd is not None:  # most weights are 1: sum the others' excess only
            extra = np.bincount(codes[sides.odd], weights=sides.odd_extra, minlength=size)
            total = every + extra
        else:
            total = np.bincount(codes, weights=sides.weight, minlength=size)
        # rounding: a value with no baseline event has a baseline weight of exactly 0
        out[:, 1] = np.where(out[:, 3] > 0, np.maximum(total - out[:, 0], 0.0), 0.0)
    else:
        out[:, 1] = np.bincount(codes[sides.base], weights=sides.base_weight, minlength=size)
    return out


@dataclass
class _Tally:
    """Counts of one attribute across tables: pieces of (values, counts) merged by value."""

    values: list[pa.Array] = field(default_factory=list)
    counts: list[np.ndarray] = field(default_factory=list)
    pending: int = 0
    merged: pl.DataFrame | None = None

    def add(self, values: pa.Array, counts: np.ndarray) -> None:
        """Add the counts of ``values`` (the last row of ``counts`` is the missing value)."""
        if self.values and len(values) == len(self.values[-1]) and values.equals(self.values[-1]):
            self.counts[-1] = self.counts[-1] + counts
            return
        self.values.append(values)
        self.counts.append(counts)
        self.pending += len(values)
        if self.pending > MERGE_VALUES:
            self.merged = self.frame()
            self.values, self.counts, self.pending = [], [], 0

    def frame(self) -> pl.DataFrame:
        """Everything counted so far, one row per value with events (key ``k``)."""
        parts = [] if self.merged is None else [self.merged]
        for values, counts in zip(self.values, self.counts, strict=True):
            keys = pl.Series("k", values)
            parts.append(_counts_frame(_with_missing(keys), counts))
        if not parts:
            return _counts_frame(pl.Series("k", [], pl.Int64), np.empty((0, 4)))
        frame = pl.concat(parts, how="vertical_relaxed")
        return frame.group_by("k").agg(pl.col(SUMS).sum())


def _with_missing(keys: pl.Series) -> pl.Series:
    """``keys`` and a missing one after them (the codes' last count is the missing values')."""
    return keys.append(pl.Series("k", [None], keys.dtype))


def _sums(counts: np.ndarray) -> dict[str, np.ndarray]:
    """The columns of the counts (an array of sel, base, sel_events, base_events)."""
    return {
        "sel": counts[:, 0],
        "base": counts[:, 1],
        "sel_events": counts[:, 2].astype(np.int64),
        "base_events": counts[:, 3].astype(np.int64),
    }


def _counts_frame(keys: pl.Series, counts: np.ndarray) -> pl.DataFrame:
    """Keys and their counts (array of sel, base, sel_events, base_events), those with events."""
    frame = pl.DataFrame({"k": keys, **_sums(counts)})
    return frame.filter((pl.col("sel_events") + pl.col("base_events")) > 0)


def _array(kind: pa.DataType, values: np.ndarray, n: int) -> pa.Array:
    """An array of ``n`` values without missing ones, from their numpy buffer.

    ``pa.array`` (like ``pa.scalar``, ``Array.to_numpy`` and compute functions given Python
    values) imports pandas to check its argument: 0.2-0.3 s of every analysis.
    """
    return pa.Array.from_buffers(kind, n, [None, pa.py_buffer(np.ascontiguousarray(values))])


def _floats(arr: pa.Array) -> np.ndarray:
    """A fixed-width array's values as float64 (missing: NaN), without importing pandas."""
    values, missing = _raw(arr)
    if missing is None and values.dtype == np.float64:
        return values
    out = values.astype(np.float64)
    if missing is not None:
        out[missing] = np.nan
    return out


def _raw(arr: pa.Array) -> tuple[np.ndarray, np.ndarray | None]:
    """The values of a fixed-width array as numpy, without a copy, and its missing mask.

    The slots of missing values hold anything: callers overwrite their codes.
    """
    n, offset = len(arr), arr.offset
    buffers = arr.buffers()
    if pa.types.is_boolean(arr.type):
        bits = np.frombuffer(buffers[1], dtype=np.uint8)
        values = np.unpackbits(bits, count=n + offset, bitorder="little")[offset:]
    else:
        dtype = np.dtype(arr.type.to_pandas_dtype())  # a numpy type; pandas is not imported
        values = np.frombuffer(buffers[1], dtype=dtype, count=n + offset)[offset:]
    missing = None
    if arr.null_count:
        valid = np.frombuffer(buffers[0], dtype=np.uint8)
        missing = np.unpackbits(valid, count=n + offset, bitorder="little")[offset:] == 0
    return values, missing


#: Bits of a float64 (from the top: sign, exponent, first mantissa bits) that index the
#: bin look-up table of :class:`_Binner`.
_CELL_BITS = 18
_CELL_SHIFT = np.uint64(64 - _CELL_BITS)
_AMBIGUOUS = 255
#: Numbers in one chunk from which the table pays for itself (building it costs about as
#: much as 2^20 binary searches); below, a wide file of few events would spend its time
#: building tables (2,000 events x 666 number columns: 25 s).
_TABLE_FROM = 1 << 16


class _Binner:
    """Bin numbers by the edges of an attribute: code ``i`` = how many edges are below x.

    ``searchsorted`` costs a branchy binary search per number (~35 ns). Instead the top
    18 bits of each float64 index a table that holds the bin of every number sharing them
    (numbers with the same top bits form an interval); the few numbers whose interval
    holds an edge are searched. Missing and NaN get the last code.
    """

    def __init__(self, edges: Sequence[float]) -> None:
        self.edges = np.asarray(edges, dtype=np.float64) + 0.0  # -0.0 -> 0.0
        self.size = len(self.edges) + 2
        self.missing = self.size - 1
        self._table: np.ndarray | None = None

    @property
    def table(self) -> np.ndarray | None:
        """The look-up table, built on first use (20-40 ms: worth it on many numbers only)."""
        if self._table is None and self.size < _AMBIGUOUS:
            self._table = self._build()
        return self._table

    def _build(self) -> np.ndarray:
        cells = np.arange(1 << _CELL_BITS, dtype=np.uint64)
        first = (cells << _CELL_SHIFT).view(np.float64)
        last = (((cells + np.uint64(1)) << _CELL_SHIFT) - np.uint64(1)).view(np.float64)
        lo = np.searchsorted(self.edges, first, side="left")
        hi = np.searchsorted(self.edges, last, side="left")
        nan = np.isnan(first) & np.isnan(last)
        table = np.where(lo == hi, lo, _AMBIGUOUS)
        table[np.isnan(first) | np.isnan(last)] = _AMBIGUOUS
        table[nan] = self.missing
        return table.astype(np.uint8)

    def codes(self, x: np.ndarray) -> np.ndarray:
        """The bin code of every number of ``x`` (float64, NaN for missing)."""
        # few numbers (or too many edges for the table): a binary search each
        if len(x) < _TABLE_FROM or self.table is None:
            codes = np.searchsorted(self.edges, x, side="left")
            codes[np.isnan(x)] = self.missing
            return codes
        codes = self.table[x.view(np.uint64) >> _CELL_SHIFT]
        todo = np.flatnonzero(codes == _AMBIGUOUS)
        if len(todo):
            xs = x[todo]
            found = np.searchsorted(self.edges, xs, side="left")
            found[np.isnan(xs)] = self.missing
            codes[todo] = found
        return np.asarray(codes)


@dataclass
class _Codes:
    """The codes of one chunk of an attribute: ``codes[i]`` for event ``i`` (any integer
    dtype, possibly a read-only view of Arrow memory), except where ``missing`` is set: those
    events have code ``size - 1``. ``dictionary`` holds the value of each other code (None
    for bins)."""

    codes: np.ndarray
    missing: np.ndarray | None
    dictionary: pa.Array | None
    size: int

    def intp(self) -> np.ndarray:
        """The codes as a new ``intp`` array, missing values included."""
        out = self.codes.astype(np.intp)
        if self.missing is not None:
            out[self.missing] = self.size - 1
        return out

    def combine(self, key: np.ndarray, spare: np.ndarray, *, first: bool) -> None:
        """``key = key * size + code`` in place (``key = code`` when ``first``).

        ``spare`` is scratch space of the same length and dtype as ``key``.
        """
        if not first:
            np.multiply(key, self.size, out=key)
            if self.missing is None:  # add the codes as they are: no copy
                np.add(key, self.codes, out=key, casting="unsafe")
                return
        target = key if first else spare
        np.copyto(target, self.codes, casting="unsafe")
        if self.missing is not None:
            np.copyto(target, self.size - 1, where=self.missing)
        if not first:
            np.add(key, spare, out=key)


def _codes_of(chunk: pa.Array, attr: Attribute, binner: _Binner | None) -> _Codes:
    """The codes of one chunk of ``attr``'s column (``binner``: for binned attributes)."""
    if attr.binned:
        assert binner is not None
        kind = chunk.type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            chunk = pc.cast(chunk, pa.float64())
        # integers straight from their buffer (numpy rounds beyond 2**53, as polars does):
        # pyarrow's checked cast cost 10 ns a number, twice the binning
        x = _floats(chunk)  # null -> NaN
        return _Codes(binner.codes(x), None, None, binner.size)
    if attr.kind == "boolean":
        raw, missing = _raw(chunk)
        false_true = _array(pa.bool_(), np.packbits([0, 1], bitorder="little"), 2)
        return _Codes(raw, missing, false_true, 3)
    if pa.types.is_integer(chunk.type) and len(chunk) > chunk.null_count:
        low, high = (v.as_py() for v in pc.min_max(chunk).values())
        if high - low < PACK_CODES:  # few-valued integers: codes are offsets
            raw, missing = _raw(chunk)
            codes = np.subtract(raw, low, out=np.empty(len(raw), np.int32), casting="unsafe")
            values = np.arange(low, high + 1, dtype=raw.dtype)
            dictionary = _array(chunk.type, values, len(values))
            return _Codes(codes, missing, dictionary, high - low + 2)
    if pa.types.is_floating(chunk.type):
        chunk = pc.if_else(pc.is_nan(chunk), pa.nulls(1, chunk.type)[0], chunk)
    if not pa.types.is_dictionary(chunk.type):
        chunk = pc.dictionary_encode(chunk)
    raw, missing = _raw(chunk.indices)
    return _Codes(raw, missing, chunk.dictionary, len(chunk.dictionary) + 1)


def count(
    files_plan: Plan,
    split: Split,
    attributes: Sequence[Attribute],
    schema: Mapping[str, pl.DataType],
) -> pl.DataFrame:
    """The counts table of ``attributes`` (see :func:`bubbleup.pipeline.count.count`), in one pass.

    Examples
    --------
    >>> from bubbleup.pipeline.load import load
    >>> from bubbleup.pipeline.split import split as make_split
    >>> src = load("sample_data/builds.parquet")
    >>> schema = dict(src.frame.collect_schema())
    >>> sp = make_split(schema, where="exit_reason = 'oom'")
    >>> attr = Attribute("build_tool", "categorical", "String", 4, 0)
    >>> p = plan(src.paths, schema, sp, ["build_tool"])
    >>> table = count(p, sp, [attr], schema)
    >>> table.filter(pl.col("value") == "gradle").select("sel_events", "base_events").row(0)
    (2104, 14334)
    """
    return concat_counts(count_each(files_plan, split, attributes, schema))


def count_each(
    files_plan: Plan,
    split: Split,
    attributes: Sequence[Attribute],
    schema: Mapping[str, pl.DataType],
) -> list[pl.DataFrame]:
    """The rows of :func:`count`, one frame per attribute, in the order of ``attributes``."""
    if not attributes:
        return []
    columns, text = _columns(files_plan, attributes, schema)
    tallies = [_Tally() for _ in attributes]
    binners = [_Binner(a.edges) if a.binned else None for a in attributes]
    bins: list[np.ndarray | None] = [
        np.zeros((len(a.edges) + 2, 4)) if a.binned else None for a in attributes
    ]

    def add(j: int, counts: np.ndarray, dictionary: pa.Array | None) -> None:
        acc = bins[j]
        if acc is not None:
            acc += counts
        else:
            assert dictionary is not None
            tallies[j].add(dictionary, counts)

    def one(table: pa.Table) -> list[tuple[int, np.ndarray, pa.Array | None]]:
        return _count_table(table, split, files_plan, attributes, binners)

    for counted in _map_tables(files_plan.files, columns, text, one):
        for j, counts, dictionary in counted:
            add(j, counts, dictionary)
    return _parts(attributes, bins, tallies, schema)


def _parts(
    attributes: Sequence[Attribute],
    bins: Sequence[np.ndarray | None],
    tallies: Sequence[_Tally],
    schema: Mapping[str, pl.DataType],
) -> list[pl.DataFrame]:
    """The counts-table rows of every attribute, all attributes of a key type at once (see
    :func:`~bubbleup.pipeline.count.rows_of`)."""
    tables: list[pl.DataFrame] = []
    binned = [j for j, a in enumerate(attributes) if a.binned]
    if binned:
        tables.append(label_bins(_bin_counts(binned, bins), attributes))
    by_type: dict[pl.DataType, list[int]] = {}
    for j, attr in enumerate(attributes):
        if not attr.binned:
            by_type.setdefault(_key_dtype(attr, schema), []).append(j)
    for dtype, group in by_type.items():
        tables.append(label_values(_value_counts(group, tallies, dtype), attributes))
    return rows_of(tables, len(attributes))


def _value_counts(
    group: Sequence[int],
    tallies: Sequence[_Tally],
    dtype: pl.DataType,
) -> pl.DataFrame:
    """``_j``, ``k`` (a value of type ``dtype``) and the counts of the attributes ``group``
    counted value by value: the values with events, each once."""
    keys: list[pl.Series] = []
    index: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    merge = False
    for j in group:
        tally = tallies[j]
        pieces = [
            (_with_missing(pl.Series("k", values)), piece)
            for values, piece in zip(tally.values, tally.counts, strict=True)
        ]  # the last row of a piece's counts is the missing value's
        if tally.merged is not None:
            merged = tally.merged
            pieces.append((merged.get_column("k"), merged.select(SUMS).to_numpy()))
        merge = merge or len(pieces) > 1
        for values, piece in pieces:
            events = (piece[:, 2] + piece[:, 3]) > 0
            keys.append(values.filter(pl.Series(events)).cast(dtype))
            counts.append(piece[events])
            index.append(np.full(int(events.sum()), j, dtype=np.uint32))
    if not keys:  # no events read
        keys, counts, index = [pl.Series("k", [], dtype)], [np.empty((0, 4))], [np.empty(0)]
    frame = pl.DataFrame(
        {
            "_j": pl.Series(np.concatenate(index), dtype=pl.UInt32),
            "k": pl.concat(keys),
            **_sums(np.vstack(counts)),
        }
    )
    if merge:  # a value counted in several row groups
        frame = frame.group_by("_j", "k").agg(pl.col(SUMS).sum())
    return frame


def _bin_counts(binned: Sequence[int], bins: Sequence[np.ndarray | None]) -> pl.DataFrame:
    """``_j``, ``k`` (the bin; missing: null) and the counts of the bins with events."""
    index: list[np.ndarray] = []
    keys: list[np.ndarray] = []
    missing: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    for j in binned:
        acc = bins[j]
        assert acc is not None
        rows = np.flatnonzero((acc[:, 2] + acc[:, 3]) > 0)
        index.append(np.full(len(rows), j, dtype=np.uint32))
        keys.append(rows)
        missing.append(rows == len(acc) - 1)  # the last row of ``acc``: missing values
        counts.append(acc[rows])
    k = pl.Series("k", np.concatenate(keys), dtype=pl.Int32)
    nulls = pl.Series("k", [], dtype=pl.Int32).extend_constant(None, len(k))
    return pl.DataFrame(
        {
            "_j": pl.Series(np.concatenate(index), dtype=pl.UInt32),
            "k": k.zip_with(pl.Series(~np.concatenate(missing)), nulls),
            **_sums(np.vstack(counts)),
        }
    )


def _columns(
    plan: Plan, attributes: Sequence[Attribute], schema: Mapping[str, pl.DataType]
) -> tuple[list[str], list[str]]:
    """The columns to read for ``attributes``, and those of them read as dictionary codes:
    text counted by codes (see :func:`by_codes`) and a one-column predicate."""
    names = [a.name for a in attributes]
    text = [
        a.name
        for a in attributes
        if a.kind == "categorical" and isinstance(schema[a.name], pl.String) and by_codes(a)
    ]
    if plan.coded_predicate is not None:
        text.append(plan.coded_predicate)
    return list(dict.fromkeys([*plan.predicate_columns, *names])), text


T = TypeVar("T")


def _map_tables(
    files: Sequence[str], columns: list[str], text: list[str], work: Callable[[pa.Table], T]
) -> Iterator[T]:
    """``work`` on every table of the files, in order; two tables at once, on two threads
    (numpy's arithmetic runs outside the GIL), while the next one is read."""
    with ThreadPoolExecutor(max_workers=COUNT_THREADS) as pool:
        running: deque[Future[T]] = deque()
        for table in _tables(files, columns, text):
            running.append(pool.submit(work, table))
            while len(running) >= COUNT_THREADS:
                yield running.popleft().result()
        while running:
            yield running.popleft().result()


def _count_table(
    table: pa.Table,
    split: Split,
    plan: Plan,
    attributes: Sequence[Attribute],
    binners: Sequence[_Binner | None],
) -> list[tuple[int, np.ndarray, pa.Array | None]]:
    """Counts of each attribute in one table: (attribute index, counts, dictionary)."""
    sides = _Sides.of(table, split, plan)
    out: list[tuple[int, np.ndarray, pa.Array | None]] = []
    if all(table.column(a.name).num_chunks == 1 for a in attributes):
        key = np.empty(table.num_rows, dtype=np.intp)
        spare = np.empty(table.num_rows, dtype=np.intp)
        coded = [
            _codes_of(table.column(a.name).chunk(0), a, binners[j])
            for j, a in enumerate(attributes)
        ]
        for pack in pack_sizes([c.size for c in coded], PACK_CODES):
            for i, j in enumerate(pack):
                coded[j].combine(key, spare, first=i == 0)
            sizes = [coded[j].size for j in pack]
            counts = _bincount(key, math.prod(sizes), sides).reshape((*sizes, 4))
            for axis, j in enumerate(pack):
                others = tuple(a for a in range(len(pack)) if a != axis)
                out.append((j, counts.sum(axis=others) if others else counts, coded[j].dictionary))
        return out
    for j, attr in enumerate(attributes):  # columns in several chunks: one at a time
        offset = 0
        for chunk in table.column(attr.name).chunks:
            part = sides.slice(offset, len(chunk))
            offset += len(chunk)
            codes = _codes_of(chunk, attr, binners[j])
            out.append((j, _bincount(codes.intp(), codes.size, part), codes.dictionary))
    return out


#: Tables counted at once (each on its own thread).
COUNT_THREADS = 2
#: Attributes are counted together, one ``bincount`` over their combined codes, while the
#: product of their numbers of codes stays below this.
PACK_CODES = 4096


def _key_dtype(attr: Attribute, schema: Mapping[str, pl.DataType]) -> pl.DataType:
    dtype = schema[attr.name]
    if attr.kind == "categorical":
        return pl.String()
    return dtype


__all__ = ["MAX_CODED_DISTINCT", "Plan", "by_codes", "count", "plan", "sample"]
