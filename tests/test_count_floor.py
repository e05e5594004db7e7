"""Shortcuts of the count stage (issue 15, counting near the floor) keep the answers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import bubbleup
import bubbleup.engines.parquet
from bubbleup.pipeline.count import SUMS, items_table
from bubbleup.pipeline.profile import (
    Attribute,
    Profile,
    finalize,
    scope_queries,
    selection_queries,
)
from tests.conftest import make_events


def _grouped(seed: int) -> pl.DataFrame:
    """A group-by result of an id: 5,000 values in random order, a few selected, and null."""
    rng = np.random.default_rng(seed)
    n = 5_000
    keys = [f"u{v:05d}" for v in rng.permutation(n)]
    sel_events = np.where(rng.random(n) < 0.02, rng.integers(1, 4, n), 0)
    base_events = rng.integers(0, 6, n)
    base_events[(sel_events == 0) & (base_events == 0)] = 1
    weights = rng.choice([1.0, 2.5, 10.0], n)
    frame = pl.DataFrame(
        {
            "k": keys,
            "sel": sel_events * weights,
            "base": base_events * weights,
            "sel_events": sel_events,
            "base_events": base_events,
        }
    )
    missing = pl.DataFrame(
        {"k": [None], "sel": [2.0], "base": [7.5], "sel_events": [1], "base_events": [3]},
        schema=frame.schema,
    )
    return pl.concat([frame.head(2_000), missing, frame.tail(n - 2_000)])


def test_two_phase_values_never_selected_are_left_unsorted_but_finalize_agrees() -> None:
    grouped = _grouped(7)
    attr = Attribute("user", "categorical", "String", 5_001, 1, two_phase=True)
    fast = items_table(attr, grouped)
    # the rows finalize keeps come first, sorted (null first), then the others
    kept = (pl.col("sel_events") > 0) | (pl.col("op") == "is_null")
    n_kept = fast.filter(kept).height
    assert fast.head(n_kept).select(kept.all()).item()
    head = fast.head(n_kept)["value"]
    assert head[0] is None
    assert head[1:].to_list() == sorted(head[1:].to_list())
    # every value is still there (finalize counts them: the exact number of values)
    assert fast.height == grouped.height
    assert sorted(fast.select(SUMS).rows()) == sorted(grouped.select(SUMS).rows())
    # the answer after finalize is the one of a fully sorted table, to the last bit
    full = items_table(replace(attr, two_phase=False), grouped)
    assert full["value"].drop_nulls().to_list() == sorted(full["value"].drop_nulls().to_list())
    totals = {"baseline_weight": float(grouped["base"].sum()), "baseline_events": 20_000}
    profile = Profile((attr,), ())
    got_profile, got = finalize(profile, fast, **totals)
    want_profile, want = finalize(profile, full, **totals)
    assert got_profile == want_profile
    assert got_profile.attributes[0].distinct == grouped.height
    assert_frame_equal(got, want, check_exact=True)
    assert got.filter(pl.col("op") == "other").height == 1


def test_the_selection_is_read_once_for_up_to_32_numbers() -> None:
    """The selection's quantiles of 20 numbers spread over 70 columns come from one query
    (one read of the selection), with the same statistics as one query per column."""
    rng = np.random.default_rng(5)
    n = 3_000
    data: dict[str, object] = {"outcome": rng.choice(["ok", "error"], n, p=[0.9, 0.1])}
    for j in range(70):
        data[f"c{j:02d}"] = rng.normal(size=n) if j % 7 < 2 else rng.choice(["a", "b"], n)
    frame = pl.LazyFrame(data)
    schema = frame.collect_schema()
    names = [c for c in schema if c != "outcome"]
    assert sum(schema[c].is_numeric() for c in names) == 20
    selection = pl.col("outcome") == "error"

    def stats_queries(names: list[str], per_query: int | None = None) -> list[pl.LazyFrame]:
        return [
            *scope_queries(frame, schema, names, n_rows=n, per_query=per_query),
            *selection_queries(frame, schema, names, selection=selection, per_query=per_query),
        ]

    queries = stats_queries(names, per_query=32)
    on_selection = [q for q in queries if "_selected" in q.collect_schema()]
    assert len(queries) == 4  # 3 of the scope (70 columns in slices of 32)...
    assert len(on_selection) == 1  # ... and 1 of the selection
    merged: dict[str, object] = {}
    for q in queries:
        merged.update(q.collect().row(0, named=True))
    alone: dict[str, object] = {}
    for i, name in enumerate(names):
        for q in stats_queries([name]):
            alone.update(
                {
                    k.replace("0", str(i), 1) if k[1:] == "0" else k: v
                    for k, v in q.collect().row(0, named=True).items()
                }
            )
    assert merged == alone


def test_the_selection_is_measured_for_numbers_with_ranges_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Numbers with few values are counted value by value: the selection's quantiles are
    read for the many-valued numbers only (one column fewer to read here), and the answer
    is the one measuring every number gives."""
    from bubbleup.pipeline import count as counting

    rng = np.random.default_rng(8)
    n = 4_000
    frame = pl.DataFrame(
        {
            "outcome": rng.choice(["ok", "error"], n, p=[0.85, 0.15]),
            "mem": rng.choice([2048, 4096, 8192], n),  # few values: no ranges
            "latency": rng.lognormal(3, 1, n),  # ranges
            "region": rng.choice(["eu", "us"], n),
        }
    )
    built: list[list[str]] = []
    real = counting.selection_queries

    def spy(*args: Any, **kwargs: Any) -> list[pl.LazyFrame]:
        queries = real(*args, **kwargs)
        built.append([c for q in queries for c in q.collect_schema() if c.startswith("s")])
        return queries

    monkeypatch.setattr(counting, "selection_queries", spy)
    answer = bubbleup.analyze(frame, where="outcome = 'error'").to_json()
    names = ["mem", "latency", "region"]
    assert built == [[f"s{names.index('latency')}"]]

    def every_number(schema: Any, names: Any, stats: Any) -> list[str]:
        return [name for name in names if schema[name].is_numeric()]

    monkeypatch.setattr(counting, "ranged", every_number)
    built.clear()
    assert bubbleup.analyze(frame, where="outcome = 'error'").to_json() == answer
    assert built == [["s0", "s1"]]


def test_small_queries_and_samples_are_measured_in_memory_with_the_same_answer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The column statistics of a few events (of Parquet files or a table in memory), or of
    a sample already in memory, are computed by polars' in-memory engine; above
    ``SMALL_VALUES``, or of a LazyFrame, by the streaming engine; the answer is the same
    whichever engine measured."""
    from bubbleup.pipeline import count as counting

    path = tmp_path / "events.parquet"
    make_events(3_000, seed=21, planted=True).write_parquet(path)
    engines: list[str] = []
    real = counting._collect

    def spy(frames: Any, what: str, *args: Any, **kwargs: Any) -> list[pl.DataFrame]:
        if what == "measuring columns":
            engines.append(kwargs.get("engine", "streaming"))
        return real(frames, what, *args, **kwargs)

    monkeypatch.setattr(counting, "_collect", spy)
    where = "outcome = 'error'"
    small = bubbleup.analyze(path, where=where).to_json()
    assert engines == ["in-memory", "in-memory"]  # the scope, the selection

    # a table in memory is small too; a LazyFrame's plan may read anything: streamed
    engines.clear()
    frame = pl.read_parquet(path)
    in_memory = bubbleup.analyze(frame, where=where).to_json()
    assert engines == ["in-memory", "in-memory"]
    engines.clear()
    lazy = bubbleup.analyze(frame.lazy(), where=where).to_json()
    assert lazy == in_memory.replace('"DataFrame (3,000 rows)"', '"LazyFrame"')
    assert engines == ["streaming", "streaming"]

    engines.clear()
    monkeypatch.setattr(counting, "SMALL_VALUES", 0)
    assert bubbleup.analyze(path, where=where).to_json() == small
    assert engines == ["streaming", "streaming"]

    # above the exact limit the statistics come from samples in memory, whatever their size
    engines.clear()
    drawn: list[int] = []
    sample = bubbleup.engines.parquet.sample

    def sampled(*args: Any, **kwargs: Any) -> pl.DataFrame | None:
        out = sample(*args, **kwargs)
        drawn.append(0 if out is None else out.height)
        return out

    monkeypatch.setattr(bubbleup.engines.parquet, "sample", sampled)
    monkeypatch.setattr(counting, "sample_stride", lambda rows, *a: 2)
    monkeypatch.setattr(counting, "QUANTILE_SAMPLE", 500)
    monkeypatch.setattr(counting, "SELECTION_SAMPLE", 50)
    bubbleup.analyze(path, where=where)
    assert len(drawn) == 2  # the scope's sample, the selection's
    assert min(drawn) > 0
    assert engines == ["in-memory", "in-memory"]
