"""Write wide synthetic events with a planted cause, in bounded memory, for scale benchmarks.

Example::

    python bench/gen_scale.py --rows 100_000_000 --cols 40 --output bench/data/scale_100m_40.parquet

The file has ``--cols`` attribute columns plus ``outcome`` (``'error'`` for about 1% of the
events) and ``sample_rate`` (1, or 10 for a tenth of the events). The attributes cycle
through a fixed mix of kinds, so that 50, 100, 200 and 400 columns have the same make-up:

========= ===============================================================================
``cause``  10 strings; ``'bad'`` (8% of events) makes an error 8x more likely (always 1st)
``req_id`` unique per event (an identifier: bubbleup leaves it out) (always 2nd)
``lo_*``   strings with 2 to 20 values, skewed
``md_*``   strings with 100 to 10,000 values, skewed
``hi_*``   strings with 100,000 to 1,000,000 values (user and host ids), skewed
``b_*``    booleans
``n_*``    integers with 3 to 12 values (``memory_mb``-like)
``f_*``    continuous floats (log-normal, 3 decimals): counted in ranges
``i_*``    continuous integers (log-normal bytes): counted in ranges
========= ===============================================================================

One column in five (never ``cause``) has 5% to 30% missing values. Rows are generated
and written one row group (``--chunk`` events) at a time, so memory stays bounded whatever
``--rows``; the output depends only on the arguments.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: The repeating mix of attribute kinds after ``cause`` and ``req_id``.
MIX = ("lo", "n", "md", "b", "f", "lo", "i", "md", "lo", "hi", "n", "f", "lo", "b", "i")
WORDS = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
    "sierra", "tango",
]  # fmt: skip


def column_kinds(cols: int) -> list[tuple[str, str]]:
    """Names and kinds of the ``cols`` attribute columns."""
    out = [("cause", "cause"), ("req_id", "req")][:cols]
    for i in range(cols - len(out)):
        kind = MIX[i % len(MIX)]
        out.append((f"{kind}_{i:03d}", kind))
    return out


def _zipf(n: int, a: float) -> np.ndarray:
    p = 1.0 / np.arange(1, n + 1) ** a
    return np.asarray(p / p.sum())


class Column:
    """How one column is drawn: vocabulary, skew, missing share (fixed by the seed)."""

    def __init__(self, name: str, kind: str, index: int, seed: int) -> None:
        rng = np.random.default_rng([seed, index])
        self.name, self.kind, self.index = name, kind, index
        self.nulls = 0.0 if kind in ("cause", "req") or index % 5 != 4 else rng.choice(
            [0.05, 0.1, 0.2, 0.3]
        )
        self.vocab: pa.Array | None = None
        self.probs: np.ndarray | None = None
        if kind == "cause":
            self.vocab = pa.array([*WORDS[:9], "bad"])
            self.probs = np.append(_zipf(9, 0.7) * 0.92, 0.08)
        elif kind == "lo":
            card = int(rng.integers(2, 21))
            self.vocab = pa.array([WORDS[(j + index) % 20] for j in range(card)])
            self.probs = _zipf(card, float(rng.uniform(0.3, 1.5)))
        elif kind in ("md", "hi"):
            card = int(10 ** rng.uniform(2, 4)) if kind == "md" else int(10 ** rng.uniform(5, 6))
            self.vocab = pa.array([f"{name}-{j:07d}" for j in range(card)])
            self.skew = float(rng.uniform(1.0, 3.0))
        elif kind == "n":
            card = int(rng.integers(3, 13))
            self.values = (rng.choice([0, 1, 100]) + rng.choice([1, 10, 512]) * np.arange(card))
            self.probs = _zipf(card, float(rng.uniform(0.3, 1.2)))
        elif kind == "b":
            self.p = float(rng.uniform(0.05, 0.6))
        else:  # f, i
            self.mu, self.sigma = float(rng.uniform(1, 8)), float(rng.uniform(0.5, 1.5))

    def arrow_type(self) -> pa.DataType:
        if self.kind in ("cause", "lo", "md", "hi"):
            return pa.dictionary(pa.int32(), pa.string())
        return {"req": pa.string(), "b": pa.bool_(), "f": pa.float64()}.get(self.kind, pa.int64())

    def draw(self, seed: int, chunk: int, start: int, n: int) -> pa.Array:
        rng = np.random.default_rng([seed, self.index, chunk, 7])
        mask = rng.random(n) < self.nulls if self.nulls else None
        if self.kind == "req":
            return pc.binary_join_element_wise(
                "r", pa.array(np.arange(start, start + n)).cast(pa.string()), ""
            )
        if self.probs is not None and self.kind != "n":
            idx = np.searchsorted(np.cumsum(self.probs), rng.random(n) * 0.999999)
            return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32), mask=mask),
                                                  self.vocab)
        if self.kind in ("md", "hi"):
            assert self.vocab is not None
            idx = np.minimum((len(self.vocab) * rng.random(n) ** self.skew).astype(np.int32),
                             len(self.vocab) - 1)
            return pa.DictionaryArray.from_arrays(pa.array(idx, mask=mask), self.vocab)
        if self.kind == "n":
            assert self.probs is not None
            idx = np.searchsorted(np.cumsum(self.probs), rng.random(n) * 0.999999)
            return pa.array(self.values[idx].astype(np.int64), mask=mask)
        if self.kind == "b":
            return pa.array(rng.random(n) < self.p, mask=mask)
        x = rng.lognormal(self.mu, self.sigma, n)
        if self.kind == "f":
            return pa.array(np.round(x, 3), mask=mask)
        return pa.array(x.astype(np.int64), mask=mask)


def generate(rows: int, cols: int, output: Path, *, seed: int = 1, chunk: int = 1_000_000) -> None:
    """Write ``rows`` events with ``cols`` attribute columns to the Parquet file ``output``."""
    columns = [Column(n, k, i, seed) for i, (n, k) in enumerate(column_kinds(cols))]
    schema = pa.schema(
        [pa.field(c.name, c.arrow_type()) for c in columns]
        + [pa.field("outcome", pa.string()), pa.field("sample_rate", pa.int64())]
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    t0 = time.perf_counter()
    # store_schema=False: readers see plain strings, not dictionaries / categoricals
    with pq.ParquetWriter(tmp, schema, compression="zstd", store_schema=False) as writer:
        for i, start in enumerate(range(0, rows, chunk)):
            n = min(chunk, rows - start)
            arrays = [c.draw(seed, i, start, n) for c in columns]
            rng = np.random.default_rng([seed, 10_000, i])
            if columns and columns[0].kind == "cause":
                bad = pc.equal(arrays[0].cast(pa.string()), "bad").to_numpy(zero_copy_only=False)
            else:
                bad = np.zeros(n, dtype=bool)
            error = rng.random(n) < np.where(bad, 0.06, 0.0057)
            outcome = pa.array(np.where(error, "error", "ok"))
            rate = pa.array(np.where(rng.random(n) < 0.1, 10, 1).astype(np.int64))
            writer.write_table(pa.Table.from_arrays([*arrays, outcome, rate], schema=schema))
            if i % 10 == 9:
                print(f"  {start + n:,} rows ({time.perf_counter() - t0:.0f} s)", flush=True)
    tmp.replace(output)
    print(f"wrote {output}: {rows:,} rows x {cols} columns, "
          f"{output.stat().st_size / 2**20:,.0f} MiB, {time.perf_counter() - t0:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=lambda s: int(s.replace("_", "")), required=True)
    ap.add_argument("--cols", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chunk", type=lambda s: int(s.replace("_", "")), default=None)
    ap.add_argument("--output", type=Path, required=True)
    args = ap.parse_args()
    chunk = args.chunk or max(50_000, min(1_000_000, 40_000_000 // max(args.cols, 1)))
    generate(args.rows, args.cols, args.output, seed=args.seed, chunk=chunk)


if __name__ == "__main__":
    main()
