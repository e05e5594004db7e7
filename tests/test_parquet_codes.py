"""Counting Parquet files from their dictionary codes gives the polars queries' counts.

The fast path (:mod:`bubbleup.engines.parquet`) must produce the counts table of
:func:`bubbleup.pipeline.count.count` row for row: every value, missing values, bins, weights,
scopes and baselines, over several files and row groups, whatever the writer did with the
dictionaries. Each test writes real Parquet files and compares the two counters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

import bubbleup
from bubbleup.engines import PolarsEngine, parquet
from bubbleup.pipeline import count as counting
from bubbleup.pipeline.count import Totals
from bubbleup.pipeline.load import load
from bubbleup.pipeline.profile import Profile, build_profile, candidates, finalize
from bubbleup.pipeline.split import Split
from bubbleup.pipeline.split import split as make_split
from tests.conftest import SAMPLE, item_holds

KEY = ["attribute", "op", "value", "low", "high"]


def odd_events(n: int, seed: int) -> pa.Table:
    """Events with every kind of column and every awkward value the counter must handle."""
    rng = np.random.default_rng(seed)

    def nulls(values: list, share: float) -> list:
        return [None if rng.random() < share else v for v in values]

    floats = rng.lognormal(3, 2, n)
    floats[rng.random(n) < 0.02] = np.nan
    floats[:6] = [np.inf, -np.inf, -0.0, 0.0, -3.5, np.nan]
    few_float = rng.choice([0.5, 1.5, np.nan, 2.5], size=n)
    return pa.table(
        {
            "region": pa.array(nulls(rng.choice(["us", "eu", "ap"], n).tolist(), 0.05)),
            "host": pa.array([f"h-{i}" for i in rng.integers(0, 3000, n)]),
            "tier": pa.array(rng.choice(["free", "pro"], n)).dictionary_encode(),
            "flag": pa.array(nulls((rng.random(n) < 0.3).tolist(), 0.1), pa.bool_()),
            "mem": pa.array(nulls(rng.choice([2048, 4096, 8192], n).tolist(), 0.03), pa.int64()),
            "far": pa.array(rng.choice([0, 10**12, 7], n), pa.int64()),
            "small": pa.array(rng.integers(0, 5, n), pa.uint8()),
            "ratio": pa.array(few_float),
            "size": pa.array(floats),
            "bytes": pa.array(nulls(rng.integers(0, 10**9, n).tolist(), 0.04), pa.int64()),
            "outcome": pa.array(np.where(rng.random(n) < 0.1, "error", "ok")),
            "team": pa.array(nulls(rng.choice(["a", "b", "c"], n).tolist(), 0.2)),
            # mostly 1 (the usual sampled data), and a weight that is rarely 1
            "sample_rate": pa.array(nulls(rng.choice([1.0] * 8 + [2.5, 10.0], n).tolist(), 0.05)),
            "rate": pa.array(nulls(rng.choice([1.0, 2.5, 10.0], n).tolist(), 0.05)),
        }
    )


@dataclass
class Profiled:
    """A source opened by the polars engine, split and profiled, with its fast-path plan."""

    engine: PolarsEngine
    split: Split
    totals: Totals
    profile: Profile
    plan: parquet.Plan


def profiled(source: object, **options: object) -> Profiled:
    """Open, split (``where`` defaults to errors), measure and profile ``source``."""
    engine = PolarsEngine(load(source))
    schema = engine.schema()
    sp = engine.split(
        where=options.get("where", "outcome = 'error'"),  # type: ignore[arg-type]
        baseline=options.get("baseline"),  # type: ignore[arg-type]
        filter=options.get("filter"),  # type: ignore[arg-type]
        weight=options.get("weight"),  # type: ignore[arg-type]
    )
    names, left = candidates(
        schema,
        columns=None,
        exclude=None,
        predicate_columns=sp.predicate_columns,
        weight_column=sp.weight_column,
    )
    totals, stats = engine.measure(sp, names)
    profile = build_profile(schema, names, stats, n_rows=totals.scope_events, left_out=left)
    plan = parquet.plan(engine.paths, schema, sp, [a.name for a in profile.attributes])
    assert plan is not None
    return Profiled(engine, sp, totals, profile, plan)


def both_ways(source: object, **options: object) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The final counts table by polars queries and by codes, for the same profile."""
    p = profiled(source, **options)
    attributes = p.profile.attributes
    by_polars = counting.count(p.engine.frame, p.split, attributes)
    by_codes = parquet.count(p.plan, p.split, attributes, p.engine.schema())
    out = []
    for table in (by_polars, by_codes):
        _, final = finalize(
            p.profile,
            table,
            baseline_weight=p.totals.baseline_weight,
            baseline_events=p.totals.baseline_events,
        )
        out.append(final)
    return out[0], out[1]


def assert_same_counts(a: pl.DataFrame, b: pl.DataFrame) -> None:
    assert a.height == b.height
    assert a.columns == b.columns
    joined = a.join(b, on=KEY, how="full", nulls_equal=True, suffix="_c")
    assert joined.height == a.height, "items differ"
    for column in ("sel_events", "base_events"):
        assert (joined[column] == joined[f"{column}_c"]).all(), column
    for column in ("sel", "base"):
        np.testing.assert_allclose(
            joined[column].to_numpy(), joined[f"{column}_c"].to_numpy(), rtol=1e-12, atol=1e-9
        )
    # the same attributes in the same order
    assert a["attribute"].unique(maintain_order=True).to_list() == (
        b["attribute"].unique(maintain_order=True).to_list()
    )


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("odd")
    paths = []
    for i in range(3):  # three files, several row groups each
        path = folder / f"part-{i}.parquet"
        pq.write_table(odd_events(4000, seed=i), path, row_group_size=1500)
        paths.append(path)
    return paths


def test_every_kind_of_column_counts_the_same(odd_files: list[Path]) -> None:
    a, b = both_ways([str(p) for p in odd_files])
    assert_same_counts(a, b)
    kinds = set(a["attribute"].to_list())
    assert {"region", "host", "tier", "flag", "mem", "far", "small", "ratio", "size"} <= kinds
    # the awkward values are there: missing numbers, a binned column, missing booleans
    assert a.filter((pl.col("attribute") == "size") & (pl.col("op") == "is_null")).height == 1
    assert a.filter((pl.col("attribute") == "size") & (pl.col("op") == "between")).height > 5
    assert a.filter((pl.col("attribute") == "flag") & (pl.col("op") == "is_null")).height == 1


def test_scope_baseline_and_no_weight(odd_files: list[Path]) -> None:
    a, b = both_ways(
        [str(p) for p in odd_files],
        where="outcome = 'error' AND region = 'eu'",
        baseline="region = 'us'",
        filter="team IS NOT NULL",
        weight=False,
    )
    assert_same_counts(a, b)


@pytest.mark.parametrize("weight", ["sample_rate", "rate"])
def test_weights_with_missing_values_count_as_one(odd_files: list[Path], weight: str) -> None:
    a, b = both_ways(str(odd_files[0]), weight=weight)
    assert_same_counts(a, b)
    assert not (a["sel"] == a["sel_events"]).all()  # the weights do change the sums


def test_dictionary_fallback_and_small_pages(tmp_path: Path) -> None:
    """A writer that gives up on dictionaries part-way (plain pages) is read right too."""
    table = odd_events(20_000, seed=5)
    path = tmp_path / "fallback.parquet"
    pq.write_table(table, path, row_group_size=7000, dictionary_pagesize_limit=2000)
    a, b = both_ways(str(path))
    assert_same_counts(a, b)
    path2 = tmp_path / "plain.parquet"
    pq.write_table(table, path2, use_dictionary=False, data_page_size=4096)
    a, b = both_ways(str(path2))
    assert_same_counts(a, b)


def test_large_row_groups_are_read_in_batches(
    odd_files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parquet, "BATCH_ROWS", 700)
    a, b = both_ways([str(p) for p in odd_files])
    assert_same_counts(a, b)


def test_columns_in_several_chunks(odd_files: list[Path]) -> None:
    """Tables whose columns come in several chunks are counted chunk by chunk."""
    p = profiled(str(odd_files[0]))
    sp, plan, attrs = p.split, p.plan, p.profile
    whole = pq.read_table(odd_files[0], read_dictionary=["region", "host", "team", "outcome"])
    chunked = pa.Table.from_batches(whole.to_batches(max_chunksize=999))
    assert chunked.column("region").num_chunks > 1
    binners = [parquet._Binner(a.edges) if a.binned else None for a in attrs.attributes]
    one = parquet._count_table(whole, sp, plan, attrs.attributes, binners)
    many = parquet._count_table(chunked, sp, plan, attrs.attributes, binners)
    for j, attr in enumerate(attrs.attributes):
        got = sum(c.sum(axis=0) for k, c, _ in many if k == j)
        want = sum(c.sum(axis=0) for k, c, _ in one if k == j)
        np.testing.assert_allclose(got, want, err_msg=attr.name)


def test_the_sample_data_answer_is_identical_either_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = bubbleup.analyze(str(SAMPLE), where="exit_reason = 'oom'").to_dict()
    monkeypatch.setenv("BUBBLEUP_PARQUET_CODES", "0")
    slow = bubbleup.analyze(str(SAMPLE), where="exit_reason = 'oom'").to_dict()
    assert json.dumps(fast, sort_keys=True) == json.dumps(slow, sort_keys=True)


def test_sources_the_fast_path_does_not_take(tmp_path: Path) -> None:
    events = odd_events(500, seed=1)
    hive = tmp_path / "date=2026-11-20"
    hive.mkdir()
    pq.write_table(events, hive / "a.parquet")
    nested = tmp_path / "nested.parquet"
    pq.write_table(
        pa.table({"outcome": events["outcome"], "http": pa.StructArray.from_arrays(
            [events["region"].combine_chunks()], names=["route"])}),
        nested,
    )  # fmt: skip
    ints = tmp_path / "ints.parquet"
    floats = tmp_path / "floats.parquet"
    pq.write_table(pa.table({"outcome": events["outcome"], "x": events["mem"]}), ints)
    pq.write_table(
        pa.table({"outcome": events["outcome"], "x": events["mem"].cast(pa.float64())}),
        floats,
    )
    for source, columns in [
        ([str(hive / "a.parquet")], ["region"]),
        ([str(nested)], ["http.route"]),
        ([str(ints), str(floats)], ["x"]),  # widened to one type across files
    ]:
        loaded = load(source)
        schema = dict(loaded.frame.collect_schema())
        sp = make_split(schema, where="outcome = 'error'")
        assert parquet.plan(loaded.paths, schema, sp, columns) is None, source
        # and the engine still counts them (with polars)
        result = bubbleup.analyze(source, where="outcome = 'error'")
        assert result.totals.scope_events == 500 * len(source)


def test_sample_takes_evenly_spaced_blocks_whatever_the_row_groups(tmp_path: Path) -> None:
    table = pa.table({"i": np.arange(100_000), "outcome": np.full(100_000, "ok")})
    samples = []
    for rows_per_group in (5_000, 50_000, 100_000):  # 20 row groups, 2, one
        path = tmp_path / f"by_{rows_per_group}.parquet"
        pq.write_table(table, path, row_group_size=rows_per_group)
        frame = pl.scan_parquet(path)
        got = parquet.sample(frame, ["i"], rows=2_000, wanted=100_000, total=100_000)
        assert got is not None
        assert got.columns == ["i"]
        blocks = parquet.SAMPLE_BLOCKS
        each = -(-2_000 // blocks)
        assert got.height == blocks * each
        # block b holds the events b/SAMPLE_BLOCKS of the way through the source, consecutive
        starts = [b * 100_000 // blocks for b in range(blocks)]
        expected = np.concatenate([np.arange(s, s + each) for s in starts])
        assert got["i"].to_list() == expected.tolist()
        samples.append(got)
    assert samples[0].equals(samples[1])
    assert samples[1].equals(samples[2])
    # half the events in scope: twice as many read
    frame = pl.scan_parquet(tmp_path / "by_5000.parquet")
    half = parquet.sample(frame, ["i"], rows=2_000, wanted=50_000, total=100_000)
    assert half is not None
    assert half.height == 4_000
    # a sample of a quarter of the source or more: none (the caller scans everything)
    assert parquet.sample(frame, ["i"], rows=25_001, wanted=100_000, total=100_000) is None
    assert parquet.sample(frame, ["i"], rows=25_000, wanted=100_000, total=100_000) is not None


@pytest.mark.parametrize(
    "where",
    ["team = 'a'", "team LIKE 'b%' OR team IS NULL", "outcome <> 'ok'", "upper(region) = 'EU'"],
)
def test_one_column_predicates_evaluated_per_value(odd_files: list[Path], where: str) -> None:
    """A predicate on one text column is evaluated per distinct value (missing included)."""
    a, b = both_ways([str(p) for p in odd_files], where=where)
    assert_same_counts(a, b)
    loaded = load([str(p) for p in odd_files])
    schema = dict(loaded.frame.collect_schema())
    plan = parquet.plan(loaded.paths, schema, make_split(schema, where=where), ["mem"])
    assert plan is not None
    assert plan.coded_predicate is not None


def test_pattern_masks_of_parquet_match_a_naive_count(odd_files: list[Path]) -> None:
    """Combinations on Parquet files (polars, in one pass): the masks of items of every
    kind and operation, against masks built value by value in Python."""
    p = profiled([str(path) for path in odd_files])
    engine, sp, profile = p.engine, p.split, p.profile
    attrs = {a.name: a for a in profile.attributes}
    assert attrs["size"].binned
    assert not attrs["mem"].binned
    edge = attrs["size"].edges[3]

    def item(attribute: str, op: str, value: object = None, low: object = None,
             high: object = None) -> dict:  # fmt: skip
        return {"attribute": attribute, "op": op, "value": value, "low": low, "high": high}

    items = [
        item("region", "=", "eu"),
        item("region", "is_null"),
        item("host", "=", "h-7"),
        item("host", "=", "not-there"),
        item("tier", "=", "pro"),
        item("flag", "=", "true"),
        item("flag", "is_null"),
        item("mem", "=", "4096"),
        item("mem", "is_null"),
        item("ratio", "=", "1.5"),
        item("ratio", "is_null"),
        item("size", "<=", high=edge),
        item("size", ">", low=edge),
        item("size", "between", low=attrs["size"].edges[1], high=edge),
        item("size", "is_null"),
        item("bytes", ">", low=attrs["bytes"].edges[5]),
        item("small", "=", "3"),
        item("mem", "<=", high=4096.0),  # edges at values that occur: <= and > matter
        item("mem", ">", low=4096.0),
        item("mem", "between", low=2048.0, high=4096.0),
        item("far", "=", str(10**12)),
    ]
    got = engine.count_patterns(sp, items, attrs)

    events = pl.concat([pl.read_parquet(path) for path in odd_files])
    mask = np.zeros(events.height, dtype=np.uint64)
    for bit, it in enumerate(items):
        held = np.array([item_holds(it, v) for v in events[it["attribute"]].to_list()])
        mask |= held.astype(np.uint64) << np.uint64(bit)
    selected = np.array([v == "error" for v in events["outcome"].to_list()])
    weight = events.select(sp.weight.alias("w"))["w"].to_numpy()
    masks = np.unique(mask)
    assert got["mask"].to_list() == masks.tolist()
    at = np.searchsorted(masks, mask)
    sel_events = np.bincount(at[selected], minlength=len(masks))
    base_events = np.bincount(at[~selected], minlength=len(masks))
    assert got["sel_events"].to_list() == sel_events.tolist()
    assert got["base_events"].to_list() == base_events.tolist()
    np.testing.assert_allclose(
        got["sel"].to_numpy(),
        np.bincount(at[selected], weights=weight[selected], minlength=len(masks)),
    )
    np.testing.assert_allclose(
        got["base"].to_numpy(),
        np.bincount(at[~selected], weights=weight[~selected], minlength=len(masks)),
    )
    # every item holds somewhere (except the absent value), so the test can fail
    held_any = np.bitwise_or.reduce(masks)
    assert all(held_any & (1 << i) for i in range(len(items)) if i != 3)


def test_a_corrupt_row_group_is_a_clear_error(tmp_path: Path) -> None:
    """Damage that only the counting pass reads (statistics come from samples) is reported
    with the file's name, not a traceback."""
    n = 1_200_000
    rng = np.random.default_rng(3)
    table = pa.table(
        {
            "a": rng.choice(["x", "y", "z"], n),
            "c": rng.random(n),
            "outcome": np.where(rng.random(n) < 0.1, "error", "ok"),
        }
    )
    path = tmp_path / "damaged.parquet"
    pq.write_table(table, path, row_group_size=60_000, compression="zstd")
    data = bytearray(path.read_bytes())
    start = int(len(data) * 0.8)
    data[start : start + 3000] = bytes(b ^ 0x5A for b in data[start : start + 3000])
    path.write_bytes(bytes(data))
    with pytest.raises(bubbleup.BubbleupError, match=r"could not read .*damaged\.parquet"):
        bubbleup.analyze(str(path), where="outcome = 'error'")


@pytest.mark.parametrize("option", ["filter", "where"])
def test_a_sample_that_misses_the_scope_or_selection_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str
) -> None:
    """Blocks spread over the source can all miss a narrow scope or selection: the
    statistics then come from every event, as they would without a sample."""
    from bubbleup.engines import PolarsEngine
    from bubbleup.pipeline import count as counting
    from bubbleup.pipeline import profile

    # small sizes stand for large ones: above 4,000 events, statistics come from samples
    monkeypatch.setattr(profile, "EXACT_QUANTILE_ROWS", 4_000)
    monkeypatch.setattr(profile, "QUANTILE_SAMPLE", 2_000)
    monkeypatch.setattr(counting, "QUANTILE_SAMPLE", 2_000)
    monkeypatch.setattr(counting, "SELECTION_SAMPLE", 1_000)
    n = 200_000
    rng = np.random.default_rng(5)
    i = np.arange(n)
    # 8 blocks start every 25,000 events: events 16,000-24,000 lie between two of them
    inside = (i >= 16_000) & (i < 24_000)
    path = tmp_path / "narrow.parquet"
    table = pa.table(
        {
            "i": i,
            # many values everywhere (ranges), those of events 16,000-24,000 above 2,000
            "x": np.where(inside, 2000 + rng.random(n) * 1000, rng.random(n) * 1000),
            "outcome": np.where(inside & (rng.random(n) < 0.5), "error", "ok"),
        }
    )
    pq.write_table(table, path, row_group_size=50_000)
    narrow = "i >= 16000 AND i < 24000"
    if option == "filter":
        keywords = {"where": "outcome = 'error'", "filter": narrow}
    else:
        keywords = {"where": narrow}
    engine = PolarsEngine(load(str(path)))
    schema = engine.schema()
    sp = make_split(schema, **keywords)
    drawn: list[int] = []
    sampler_of = parquet.sample

    def spy(*args: object, **kwargs: object) -> pl.DataFrame | None:
        got = sampler_of(*args, **kwargs)  # type: ignore[arg-type]
        drawn.append(-1 if got is None else got.height)
        return got

    monkeypatch.setattr(parquet, "sample", spy)
    _, with_sampler = engine.measure(sp, ["x"])
    assert any(h > 0 for h in drawn)  # a sample was drawn, and not used
    _, exact = counting.measure(engine.frame, sp, schema, ["x"])
    if option == "filter":  # every statistic from the scope's events
        assert with_sampler == exact
        assert min(exact["q0"]) > 2000  # the scope's numbers, not the others
    else:  # the selection's quantiles from every selected event (the scope's: a sample)
        assert with_sampler["_selected"] == exact["_selected"] == int(inside.sum())
        assert with_sampler["s0"] == exact["s0"]
        assert exact["s0"][0] > 2000  # the selection's numbers, not the others


def test_many_valued_attributes_counted_meanwhile(
    odd_files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine counts attributes with very many values by polars, on a second thread,
    while the others are counted from codes: the table is the polars queries' own, in the
    attributes' order."""
    p = profiled([str(path) for path in odd_files])
    attributes = p.profile.attributes
    monkeypatch.setattr(parquet, "MAX_CODED_DISTINCT", 100)  # "host" (3000 values) and more
    many = [a.name for a in attributes if not parquet.by_codes(a)]
    assert "host" in many
    assert len(many) < len(attributes)
    by_engine = p.engine.count(p.split, attributes)
    by_polars = counting.count(p.engine.frame, p.split, attributes)
    assert by_engine["attribute"].unique(maintain_order=True).to_list() == [
        a.name for a in attributes
    ]
    assert_same_counts(by_polars, by_engine)


def test_a_failure_meanwhile_reaches_the_caller() -> None:
    """An error on the second thread is raised where the result is asked for."""
    from bubbleup.engines import _meanwhile
    from bubbleup.errors import SourceError

    def fail() -> None:
        raise SourceError("could not read x.parquet: truncated")

    result = _meanwhile(fail)
    with pytest.raises(SourceError, match="truncated"):
        result()


def test_integers_beyond_2_53_are_binned_like_polars(tmp_path: Path) -> None:
    """Integers that a float64 cannot hold exactly (hashes, nanoseconds) are binned as
    polars does, rounded to the nearest float; pyarrow's checked cast used to stop the
    analysis with an ArrowInvalid traceback."""
    rng = np.random.default_rng(5)
    n = 20_000
    big = rng.integers(2**60, 2**62, n)
    big[:3] = [2**53 + 1, -(2**62), 2**63 - 1]
    path = tmp_path / "big.parquet"
    pq.write_table(
        pa.table(
            {
                "big": pa.array(big, pa.int64()),
                "outcome": pa.array(np.where(rng.random(n) < 0.1, "error", "ok")),
            }
        ),
        path,
    )
    a, b = both_ways(str(path))
    assert_same_counts(a, b)
    assert "big" in set(b["attribute"].to_list())
    assert b.filter(pl.col("attribute") == "big")["low"].drop_nulls().len() > 3  # binned


@pytest.mark.parametrize("merge", [False, True])
def test_each_attributes_rows_come_as_the_polars_path_gives_them(
    odd_files: list[Path], monkeypatch: pytest.MonkeyPatch, merge: bool
) -> None:
    """Built for all attributes at once, the codes path's rows are, attribute by attribute,
    the polars path's: the same values and counts in the same order (missing first, then
    the values or bins in order); for a two-phase attribute the values ever selected come
    first, in order, and the others after them. ``merge``: the pieces of every attribute
    are merged as they come (as for attributes with very many values)."""
    if merge:
        monkeypatch.setattr(parquet, "MERGE_VALUES", 0)
    p = profiled([str(f) for f in odd_files])
    attributes = [
        replace(a, two_phase=True) if a.name == "host" else a for a in p.profile.attributes
    ]
    by_polars = counting.count_each(p.engine.frame, p.split, attributes)
    by_codes = parquet.count_each(p.plan, p.split, attributes, p.engine.schema())
    assert len(by_codes) == len(attributes)
    for attr, a, b in zip(attributes, by_polars, by_codes, strict=True):
        if attr.two_phase:
            rest = (pl.col("sel_events") == 0) & pl.col("value").is_not_null()
            assert b.filter(rest).height > 0  # there are values never selected...
            assert_frame_equal(a.filter(~rest), b.filter(~rest))  # ... after those that were
            assert b.head(b.filter(~rest).height).equals(b.filter(~rest))
            assert_frame_equal(a.filter(rest).sort("value"), b.filter(rest).sort("value"))
        else:
            assert_frame_equal(a, b, check_exact=False, rel_tol=1e-12)
    assert any(a.binned for a in attributes)  # bins, booleans and integers were compared
    assert {"flag", "small"} <= {a.name for a in attributes}
