"""Every label bubbleup prints pastes back into ``--where`` and selects its events."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

import bubbleup
from bubbleup.pipeline.split import compile_predicate
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
        pl.col("items")
        .list.eval(pl.element().struct.field("attribute"))
        .list.first()
        .is_in(list(integers))
        & pl.col("label").str.contains("[<>]")
    )["label"]
    assert labels.len() > 0
    for label in labels:
        assert not re.search(r"\d\.\d", label), label


def test_time_columns_compare_with_iso_text() -> None:
    import datetime as dt

    times = [dt.datetime(2026, 11, 20, h, 30) for h in range(24)]
    frame = pl.DataFrame({"naive": times, "k": ["2026-11-20 12:00"] * 24}).with_columns(
        zoned=pl.col("naive").dt.replace_time_zone("Europe/Paris"),
        utc=pl.col("naive").dt.replace_time_zone("UTC"),
        day=pl.col("naive").dt.date() + pl.duration(days=pl.int_range(24) % 3),
        x=pl.int_range(24),
    )
    cases = {
        "naive >= '2026-11-20 12:00'": 12,  # 12:30 .. 23:30
        "naive >= '2026-11-20T12:00:00Z'": 12,
        "'2026-11-20 12:00' > naive": 12,
        "utc >= '2026-11-20T13:00:00+01:00'": 12,  # 12:00 UTC
        "zoned >= '2026-11-20 12:00'": 12,  # read in the column's zone
        "zoned >= '2026-11-20T11:00:00Z'": 12,  # 12:00 in Paris
        "zoned BETWEEN '2026-11-20 05:00' AND '2026-11-20 07:59'": 3,
        "naive BETWEEN '2026-11-20 05:00' AND '2026-11-20 07:59'": 3,
        "naive NOT BETWEEN '2026-11-20 05:00' AND '2026-11-20 07:59'": 21,
        "day = '2026-11-21'": 8,
        "k = '2026-11-20 12:00' AND x < 5": 5,  # a text column keeps its text
        "naive >= TIMESTAMP '2026-11-20 12:00'": 12,
    }
    for where, expected in cases.items():
        result = bubbleup.analyze(
            frame.with_columns(y=pl.col("x") % 2), where=where, max_order=1, baseline="x >= 0"
        )
        assert result.totals.selection_events == expected, where


def test_time_range_labels_on_every_kind_of_time_column() -> None:
    """Zoned (UTC and other zones), naive and date columns: labels select their events."""
    import numpy as np

    rng = np.random.default_rng(3)
    n = 6000
    start = np.datetime64("2026-11-19T00:00:00", "us")
    naive = start + rng.integers(0, 2 * 86400, size=n).astype("timedelta64[s]")
    late = naive >= np.datetime64("2026-11-20T09:00:00", "us")
    bad = rng.random(n) < np.where(late, 0.3, 0.02)
    base = pl.DataFrame({"naive": naive, "bad": bad, "noise": rng.choice(["a", "b"], n)})
    for column, frame in {
        "naive": base,
        "utc": base.with_columns(utc=pl.col("naive").dt.replace_time_zone("UTC")).drop("naive"),
        "paris": base.with_columns(
            paris=pl.col("naive").dt.replace_time_zone("UTC").dt.convert_time_zone("Europe/Paris")
        ).drop("naive"),
        "day": base.with_columns(day=pl.col("naive").dt.date()).drop("naive"),
    }.items():
        result = bubbleup.analyze(frame, where="bad", max_order=1)
        first = result.explanations.row(0, named=True)
        assert first["items"][0]["attribute"] == column, first["label"]
        again = bubbleup.analyze(frame, where=first["label"], max_order=1, weight=False)
        assert again.totals.selection_events == (
            first["selection_events"] + first["baseline_events"]
        ), first["label"]


def test_duration_labels_are_intervals(tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(1)
    n = 4000
    bad = rng.random(n) < 0.1
    took = np.where(bad, rng.integers(5000, 9000, n), rng.integers(10, 6000, n))
    frame = pl.DataFrame(
        {
            "bad": bad,
            "took": pl.Series(took).cast(pl.Duration("us")) * 1000,  # microseconds: ms x 1000
            "few": pl.Series(np.where(bad, 2000, 1000)).cast(pl.Duration("ms")),
            "k": rng.choice(["a", "b"], n),
        }
    )
    path = tmp_path / "durations.parquet"
    frame.write_parquet(path)
    result = bubbleup.analyze(path, where="bad", context=["took", "few"])
    labels = [*result.explanations["label"].head(3), *result.restatements["label"]]
    assert "few = INTERVAL '2000 milliseconds'" in labels
    assert any(label.startswith("took > INTERVAL '") for label in labels)
    for frame_rows in (result.explanations.head(3), result.restatements):
        for r in frame_rows.iter_rows(named=True):
            again = bubbleup.analyze(path, where=r["label"], max_order=1)
            assert again.totals.selection_events == r["selection_events"] + r["baseline_events"]
    # a duration is an outcome unless --context says otherwise
    plain = bubbleup.analyze(path, where="bad")
    assert set(plain.outcomes["attribute"]) == {"took", "few"}
