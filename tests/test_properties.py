"""Properties of an analysis on generated event tables (hypothesis).

Whatever the events: the JSON does not depend on the order of the rows, on the unit of the
weights or on a column's name; swapping the selection and the baseline mirrors every share;
counts add up to the totals. Few, small tables and a fixed derandomized search keep this
fast and the same on every run.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import bubbleup

PROPERTY = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@st.composite
def event_tables(draw: st.DrawFn) -> pl.DataFrame:
    """20 to 80 events: two text columns (with missing values), a number with few values,
    a boolean, a number with many values, positive weights and a selection flag that is
    sometimes tied to a value (so that some tables have significant explanations)."""
    n = draw(st.integers(20, 80))

    def column(values: st.SearchStrategy[Any]) -> list[Any]:
        return draw(st.lists(values, min_size=n, max_size=n))

    region = column(st.sampled_from(["us", "eu", "ap", None]))
    tier = column(st.sampled_from(["free", "pro", "ent", "gov", None]))
    memory = column(st.sampled_from([512, 1024, 2048]))
    flag = column(st.booleans())
    latency = column(st.floats(0, 1e4, allow_nan=False, width=32))
    weight = column(st.integers(1, 20))
    noise = column(st.booleans())
    tied = draw(st.booleans())
    selected = [
        (r == "eu" and not q) if tied else q for r, q in zip(region, noise, strict=True)
    ]  # fmt: skip
    assume(0 < sum(selected) < n)
    return pl.DataFrame(
        {
            "region": region,
            "tier": tier,
            "memory_mb": memory,
            "flag": flag,
            "latency": latency,
            "sample_rate": weight,
            "selected": selected,
        },
        schema={
            "region": pl.String, "tier": pl.String, "memory_mb": pl.Int64,
            "flag": pl.Boolean, "latency": pl.Float64, "sample_rate": pl.Int64,
            "selected": pl.Boolean,
        },
    )  # fmt: skip


def analyze(frame: pl.DataFrame, where: str = "selected", **options: Any) -> bubbleup.Result:
    return bubbleup.analyze(frame, where=where, **options)


def shares_and_ranks(result: bubbleup.Result) -> dict[str, Any]:
    """What a scale of the weights must not change: every figure but weighted counts."""
    document = json.loads(result.to_json())
    keep = ("rank", "label", "selection_share", "baseline_share", "difference", "lift",
            "selection_rate", "p_value", "q_value", "significant", "selection_events",
            "baseline_events")  # fmt: skip
    return {
        "explanations": [{k: e[k] for k in keep} for e in document["explanations"]],
        "attributes": document["attributes"],
        "events": (document["selection"]["events"], document["baseline"]["events"]),
    }


@PROPERTY
@given(frame=event_tables(), order=st.randoms(use_true_random=False))
def test_row_order_changes_nothing(frame: pl.DataFrame, order: Any) -> None:
    rows = list(range(frame.height))
    order.shuffle(rows)
    shuffled = frame[rows]
    assert analyze(shuffled).to_json() == analyze(frame).to_json()


@PROPERTY
@given(frame=event_tables(), exponent=st.sampled_from([-1000, -300, -40, 3, 50, 900]))
def test_the_unit_of_the_weights_changes_no_share_and_no_rank(
    frame: pl.DataFrame, exponent: int
) -> None:
    """Weights times 2**exponent (1e-301 to 1e271): the same shares, tests and ranks."""
    scaled = frame.with_columns(sample_rate=pl.col("sample_rate").cast(pl.Float64) * 2.0**exponent)
    plain, other = analyze(frame), analyze(scaled)
    assert shares_and_ranks(other) == shares_and_ranks(plain)
    ratio = other.totals.selection_weight / plain.totals.selection_weight
    assert ratio == 2.0 ** (exponent + np.log2(other.parameters.get("weight_scale", 1.0)))


@PROPERTY
@given(frame=event_tables(), which=st.sampled_from(["region", "tier", "memory_mb", "flag"]))
def test_a_column_name_is_only_a_name(frame: pl.DataFrame, which: str) -> None:
    """Renamed to a name that sorts in the same place (ties break by name)."""
    new = f"{which}_renamed"
    renamed = analyze(frame.rename({which: new})).to_json()
    assert new in renamed or which not in analyze(frame).to_json()
    assert renamed.replace(new, which) == analyze(frame).to_json()


def values_only(explanations: pl.DataFrame) -> pl.DataFrame:
    op = pl.col("items").list.first().struct.field("op")
    return explanations.filter(op.is_in(["=", "is_null"]))


@PROPERTY
@given(frame=event_tables())
def test_swapping_the_sides_mirrors_every_share(frame: pl.DataFrame) -> None:
    """Values only: a range is the run of bins that is most over-represented on one side,
    so the swapped analysis picks another run."""
    one = values_only(analyze(frame, max_order=1).explanations)
    other = values_only(analyze(frame, where="NOT selected", max_order=1).explanations)
    both = one.join(other, on="label", suffix="_swapped")
    # every value seen on both sides is listed both ways
    assert both.height == one.filter(pl.col("baseline_count") > 0).height
    assert both["selection_share"].to_list() == both["baseline_share_swapped"].to_list()
    assert both["baseline_share"].to_list() == both["selection_share_swapped"].to_list()
    assert both["difference"].to_list() == (-both["difference_swapped"]).to_list()
    over = both.filter(pl.col("difference") > 0)
    assert (over["difference_swapped"] < 0).all()
    assert not both.filter("significant")["significant_swapped"].any()


@PROPERTY
@given(frame=event_tables())
def test_counts_add_up_to_the_totals(frame: pl.DataFrame) -> None:
    result = analyze(frame)
    t = result.totals
    assert t.selection_events + t.baseline_events == t.scope_events == frame.height
    weights = frame["sample_rate"].cast(pl.Float64)
    assert t.selection_weight == weights.filter(frame["selected"]).sum()
    assert t.baseline_weight == weights.filter(~frame["selected"]).sum()
    sums = result.counts.group_by("attribute").agg(
        pl.col("sel", "base").sum(), pl.col("sel_events", "base_events").sum()
    )
    assert sums.height == result.attributes.height > 0
    for row in sums.iter_rows(named=True):
        assert row["sel_events"] == t.selection_events, row
        assert row["base_events"] == t.baseline_events, row
        assert row["sel"] == pytest.approx(t.selection_weight, rel=1e-12), row
        assert row["base"] == pytest.approx(t.baseline_weight, rel=1e-12), row
    e = result.explanations
    assert (e["selection_count"] <= t.selection_weight * (1 + 1e-12)).all()
    assert np.allclose(e["selection_share"] * t.selection_weight, e["selection_count"])
    assert np.allclose(e["baseline_share"] * t.baseline_weight, e["baseline_count"])
