"""Generate synthetic wide events with a planted cause, for benchmarking.

Example::

    python bench/generate.py --rows 10_000_000 --cols 50 --seed 1 \
        --output bench/data/events_10m_50.parquet

The file has ``--cols`` attribute columns plus ``outcome`` (str) and
``sample_rate`` (Int64). The attribute columns are a mix, scaled with
``--cols``, of:

* ``c_planted``: low-cardinality string with 10 values; the value ``'bad'``
  (~8% of rows) makes ``outcome = 'error'`` ~20x more likely.
* ``low_NNN``: strings with 2-20 values (Zipf-like skew).
* ``med_NNN``: strings with 100-10,000 values (skewed).
* ``id_NNN``: high-cardinality string ids (50k, 250k or 1,000,000 values).
* ``bool_NNN``: booleans.
* ``few_NNN``: integers with 3-12 distinct values.
* ``float_NNN``: continuous floats (log-normal, rounded to 3 decimals).
* ``int_NNN``: continuous integers (log-normal "bytes" or near-unique
  uniform values).

About one column in six (never ``c_planted``) has 5-30% nulls.
``sample_rate`` is 1 for ~90% of rows and 10 for the rest. ``outcome`` is
``'error'`` for ~1% of rows and ``'ok'`` otherwise.

Rows are generated and written in chunks (one Parquet row group per chunk,
zstd), so memory stays bounded by the chunk size. Output is deterministic for
a given ``--seed``, ``--rows``, ``--cols`` and ``--chunk-rows``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

PLANTED_COLUMN = "c_planted"
PLANTED_VALUE = "bad"
PLANTED_SHARE = 0.08  # share of rows with c_planted = 'bad'
ERROR_RATE_PLANTED = 0.08  # P(error | bad)
ERROR_RATE_TARGET = 0.01  # overall P(error)
# P(error | not bad), chosen so that the overall error rate is ~1%.
ERROR_RATE_OTHER = (ERROR_RATE_TARGET - PLANTED_SHARE * ERROR_RATE_PLANTED) / (1.0 - PLANTED_SHARE)
SAMPLE_RATE_10_SHARE = 0.1

# Fractions of the attribute columns (besides c_planted) per kind; "int" takes
# the remainder.
KIND_FRACTIONS: dict[str, float] = {
    "low": 0.30,
    "med": 0.18,
    "id": 0.06,
    "bool": 0.10,
    "few": 0.12,
    "float": 0.12,
}
KINDS_ORDER = ["low", "med", "id", "bool", "few", "float", "int"]
ID_CARDINALITIES = [1_000_000, 250_000, 50_000]
NULL_FRACTIONS = [0.05, 0.10, 0.20, 0.30]
WORDS = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    "india", "juliett", "kilo", "lima", "mike", "november", "oscar", "papa",
    "quebec", "romeo", "sierra", "tango",
]  # fmt: skip


@dataclass
class ColumnSpec:
    """How to generate one attribute column."""

    name: str
    kind: str
    index: int  # position among attribute columns; used for seeding
    cardinality: int = 0
    null_fraction: float = 0.0
    vocab: pa.Array | None = None  # string values, for string kinds
    probs: np.ndarray | None = None  # value probabilities (low-cardinality)
    params: dict[str, float] = field(default_factory=dict)


def allocate_kinds(n_cols: int) -> list[str]:
    """Return the kind of each of ``n_cols - 1`` non-planted columns."""
    n_other = n_cols - 1
    counts = {k: round(f * n_other) for k, f in KIND_FRACTIONS.items()}
    if n_other >= 10:
        counts["id"] = max(counts["id"], 1)
    used = sum(counts.values())
    if used > n_other:  # tiny n_cols: trim from the largest
        for k in sorted(counts, key=counts.__getitem__, reverse=True):
            while used > n_other and counts[k] > 0:
                counts[k] -= 1
                used -= 1
    counts["int"] = n_other - used
    kinds: list[str] = []
    for k in KINDS_ORDER:
        kinds.extend([k] * counts[k])
    return kinds


def zipf_probs(n: int, a: float) -> np.ndarray:
    p: np.ndarray = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** a
    return p / float(p.sum())


def build_specs(n_cols: int, seed: int) -> list[ColumnSpec]:
    """Decide names, kinds, cardinalities, nulls and vocabularies."""
    if n_cols < 1:
        raise ValueError("--cols must be >= 1")
    rng = np.random.default_rng([seed, 0xC0])
    kinds = allocate_kinds(n_cols)
    rng.shuffle(kinds)  # interleave kinds (deterministic)
    # Put c_planted somewhere in the middle rather than first.
    planted_pos = n_cols // 3
    kinds.insert(planted_pos, "planted")

    specs: list[ColumnSpec] = []
    id_counter = 0
    for i, kind in enumerate(kinds):
        crng = np.random.default_rng([seed, 0xC1, i])
        if kind == "planted":
            others = [f"{w}" for w in WORDS[:9]]
            vocab = pa.array([*others, PLANTED_VALUE], pa.string())
            p_other = zipf_probs(9, 0.7) * (1.0 - PLANTED_SHARE)
            probs = np.append(p_other, PLANTED_SHARE)
            specs.append(ColumnSpec(PLANTED_COLUMN, kind, i, 10, 0.0, vocab, probs))
            continue
        name = f"{kind}_{i:03d}"
        null_fraction = 0.0
        if i % 6 == 5:
            null_fraction = NULL_FRACTIONS[(i // 6) % len(NULL_FRACTIONS)]
        spec = ColumnSpec(name, kind, i, null_fraction=null_fraction)
        if kind == "low":
            card = int(crng.integers(2, 21))
            spec.cardinality = card
            if card <= len(WORDS):
                words = [WORDS[(j + i) % len(WORDS)] for j in range(card)]
            else:  # pragma: no cover - card <= 20 == len(WORDS)
                words = [f"w{j}" for j in range(card)]
            spec.vocab = pa.array(words, pa.string())
            spec.probs = zipf_probs(card, float(crng.uniform(0.3, 1.5)))
        elif kind == "med":
            # log-uniform in [100, 10_000]
            card = round(10 ** crng.uniform(2.0, 4.0))
            spec.cardinality = card
            spec.vocab = pa.array([f"{name}-{j:05d}" for j in range(card)], pa.string())
            spec.params["skew"] = float(crng.uniform(1.0, 3.0))
        elif kind == "id":
            card = ID_CARDINALITIES[id_counter % len(ID_CARDINALITIES)]
            id_counter += 1
            spec.cardinality = card
            raw = crng.integers(0, 2**62, size=card, dtype=np.int64)
            spec.vocab = pa.array([f"{x:016x}" for x in raw.tolist()], pa.string())
            spec.params["skew"] = float(crng.uniform(1.0, 2.0))
        elif kind == "bool":
            spec.params["p"] = float(crng.uniform(0.05, 0.6))
        elif kind == "few":
            card = int(crng.integers(3, 13))
            spec.cardinality = card
            spec.params["offset"] = float(crng.choice([0, 1, 100, 200]))
            spec.params["step"] = float(crng.choice([1, 1, 10, 100]))
            spec.probs = zipf_probs(card, float(crng.uniform(0.3, 1.2)))
        elif kind == "float":
            spec.params["mu"] = float(crng.uniform(1.0, 5.0))
            spec.params["sigma"] = float(crng.uniform(0.5, 1.5))
        elif kind == "int":
            spec.params["uniform"] = float(i % 2)
            spec.params["mu"] = float(crng.uniform(6.0, 10.0))
            spec.params["sigma"] = float(crng.uniform(1.0, 2.0))
        specs.append(spec)
    return specs


def is_dictionary_kind(kind: str) -> bool:
    """String kinds generated as Arrow dictionary arrays (small vocabularies).

    They are written as plain Parquet strings (``store_schema=False``), so
    readers see ``string``, not ``dictionary``/categorical.
    """
    return kind in ("planted", "low", "med")


def arrow_type(kind: str) -> pa.DataType:
    if is_dictionary_kind(kind):
        return pa.dictionary(pa.int32(), pa.string())
    if kind == "id":
        return pa.string()
    if kind == "bool":
        return pa.bool_()
    if kind == "float":
        return pa.float64()
    return pa.int64()


def skewed_indices(rng: np.random.Generator, n: int, card: int, skew: float) -> np.ndarray:
    """Indices in [0, card) with a power-law skew towards small indices."""
    u = rng.random(n)
    idx = (card * u**skew).astype(np.int64)
    return np.minimum(idx, card - 1)


def categorical_indices(rng: np.random.Generator, n: int, probs: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(probs)
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(n), side="right").astype(np.int64)


def generate_column(spec: ColumnSpec, seed: int, chunk: int, n: int) -> pa.Array:
    rng = np.random.default_rng([seed, 0xD0, chunk, spec.index])
    mask: np.ndarray | None = None
    if spec.null_fraction > 0:
        mask = rng.random(n) < spec.null_fraction
    kind = spec.kind
    if kind in ("planted", "low", "med", "id"):
        assert spec.vocab is not None
        if spec.probs is not None:
            idx = categorical_indices(rng, n, spec.probs)
        else:
            idx = skewed_indices(rng, n, spec.cardinality, spec.params["skew"])
        indices = pa.array(idx.astype(np.int32), mask=mask)
        if is_dictionary_kind(kind):
            # Cheaper to write: Parquet dictionary pages come straight from it.
            return pa.DictionaryArray.from_arrays(indices, spec.vocab)
        return pc.take(spec.vocab, indices)
    if kind == "bool":
        return pa.array(rng.random(n) < spec.params["p"], mask=mask)
    if kind == "few":
        assert spec.probs is not None
        idx = categorical_indices(rng, n, spec.probs)
        vals = (spec.params["offset"] + spec.params["step"] * idx).astype(np.int64)
        return pa.array(vals, mask=mask)
    if kind == "float":
        vals = np.round(rng.lognormal(spec.params["mu"], spec.params["sigma"], n), 3)
        return pa.array(vals, mask=mask)
    if kind == "int":
        if spec.params["uniform"]:
            vals = rng.integers(0, 1_000_000_000, size=n, dtype=np.int64)
        else:
            vals = rng.lognormal(spec.params["mu"], spec.params["sigma"], n).astype(np.int64)
        return pa.array(vals, mask=mask)
    raise ValueError(f"unknown kind {kind!r}")


def generate_outcome_and_rate(
    planted: pa.Array, seed: int, chunk: int, n: int
) -> tuple[pa.Array, pa.Array]:
    rng = np.random.default_rng([seed, 0xE0, chunk])
    is_bad = pc.equal(planted.cast(pa.string()), PLANTED_VALUE).to_numpy(zero_copy_only=False)
    p = np.where(is_bad, ERROR_RATE_PLANTED, ERROR_RATE_OTHER)
    is_error = rng.random(n) < p
    outcome = pc.if_else(pa.array(is_error), "error", "ok")
    rate = np.where(rng.random(n) < SAMPLE_RATE_10_SHARE, 10, 1).astype(np.int64)
    return outcome, pa.array(rate)


def generate_chunk(
    specs: list[ColumnSpec],
    seed: int,
    chunk: int,
    n: int,
    pool: ThreadPoolExecutor,
) -> pa.Table:
    futures: list[Future[pa.Array]] = [
        pool.submit(generate_column, s, seed, chunk, n) for s in specs
    ]
    arrays = [f.result() for f in futures]
    planted_idx = next(i for i, s in enumerate(specs) if s.kind == "planted")
    outcome, rate = generate_outcome_and_rate(arrays[planted_idx], seed, chunk, n)
    names = [s.name for s in specs] + ["outcome", "sample_rate"]
    return pa.Table.from_arrays([*arrays, outcome, rate], names=names)


def default_chunk_rows(n_cols: int) -> int:
    """~1M rows per chunk/row group, smaller for very wide tables (memory)."""
    return max(100_000, min(1_000_000, 60_000_000 // max(n_cols, 1)))


def generate(
    rows: int,
    cols: int,
    seed: int,
    output: Path,
    chunk_rows: int | None = None,
    threads: int = 2,
    log: Callable[[str], None] = print,
) -> None:
    t0 = time.perf_counter()
    specs = build_specs(cols, seed)
    chunk_rows = chunk_rows or default_chunk_rows(cols)
    schema = pa.schema(
        [pa.field(s.name, arrow_type(s.kind)) for s in specs]
        + [pa.field("outcome", pa.string()), pa.field("sample_rate", pa.int64())]
    )
    kinds: dict[str, int] = {}
    for s in specs:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    log(
        f"{rows:,} rows x {cols} attribute columns {kinds}, "
        f"chunk/row group {chunk_rows:,} rows, seed {seed} -> {output}"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(output.suffix + ".tmp")
    n_chunks = (rows + chunk_rows - 1) // chunk_rows
    with (
        ThreadPoolExecutor(max_workers=threads) as pool,
        ThreadPoolExecutor(max_workers=1) as writer_pool,
        pq.ParquetWriter(tmp, schema, compression="zstd", store_schema=False) as writer,
    ):
        pending: Future[None] | None = None
        for chunk in range(n_chunks):
            n = min(chunk_rows, rows - chunk * chunk_rows)
            table = generate_chunk(specs, seed, chunk, n, pool)
            if pending is not None:
                pending.result()  # at most one chunk waiting to be written
            pending = writer_pool.submit(writer.write_table, table, n)
            log(f"  chunk {chunk + 1}/{n_chunks} generated ({time.perf_counter() - t0:.1f}s)")
        if pending is not None:
            pending.result()
    tmp.replace(output)
    size_mb = output.stat().st_size / 1e6
    log(f"wrote {output} ({size_mb:,.0f} MB) in {time.perf_counter() - t0:.1f}s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=lambda s: int(s.replace("_", "")), required=True)
    ap.add_argument("--cols", type=int, required=True, help="number of attribute columns")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--output", type=Path, required=True)
    ap.add_argument(
        "--chunk-rows",
        type=lambda s: int(s.replace("_", "")),
        default=None,
        help="rows per chunk and per Parquet row group (default: 1M, less when --cols > 60)",
    )
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    generate(args.rows, args.cols, args.seed, args.output, args.chunk_rows, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
