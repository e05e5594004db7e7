"""Every label bubbleup prints pastes back into ``--where`` and selects its events."""

from __future__ import annotations

import re

import polars as pl
import pytest

import bubbleup
from bubbleup.split import compile_predicate
from tests.conftest import SAMPLE

SELECTIONS = ("exit_reason = 'oom'", "exit_reason = 'infra_error'", "exit_reason = 'timeout'")


@pytest.fixture(scope="module")
def events() -> pl.DataFrame:
    return pl.read_parquet(SAMPLE)


@pytest.mark.parametrize("where", SELECTIONS)
def test_sample_labels_select_their_events(events: pl.DataFrame, where: str) -> None:
    result = bubbleup.analyze(SAMPLE, where=where)
    schema = dict(events.schema)
    selected, _ = compile_predicate(where, schema)
    frames = [result.explanations.head(25), result.restatements]
    checked = 0
    for frame in frames:
        for r in frame.iter_rows(named=True):
            condition, _ = compile_predicate(r["label"], schema)
            counts = events.select(
                a=(condition & selected).sum(), b=(condition & ~selected).sum()
            ).row(0)
            assert counts == (r["selection_events"], r["baseline_events"]), r["label"]
            checked += 1
    assert checked >= 10


def test_integer_ranges_have_whole_bounds() -> None:
    result = bubbleup.analyze(SAMPLE, where="exit_reason = 'timeout'", max_order=1)
    integers = {
        a["attribute"]
        for a in result.attributes.iter_rows(named=True)
        if a["dtype"].startswith(("Int", "UInt")) and a["binned"]
    }
    assert integers >= {"queue_ms", "test_count"}
    ranges = result.counts.filter(
        pl.col("attribute").is_in(list(integers)) & pl.col("op").is_in(["<=", ">", "between"])
    )
    assert ranges.height > 10
    for r in ranges.iter_rows(named=True):
        for bound in (r["low"], r["high"]):
            assert bound is None or bound == int(bound), r
    labels = result.explanations.filter(
        pl.col("items").list.eval(pl.element().struct.field("attribute")).list.first()
        .is_in(list(integers))
        & pl.col("label").str.contains("[<>]")
    )["label"]
    assert labels.len() > 0
    for label in labels:
        assert not re.search(r"\d\.\d", label), label
