"""Planted causes come out at rank 1; extreme inputs finish with a sensible answer."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import bubbleup
from bubbleup.interfaces.cli import app
from tests.planted import items_of, scenario

WHERE = "outcome = 'error'"


@pytest.mark.parametrize("name", ["single", "pair", "triple", "customer", "missing"])
def test_planted_cause_is_rank_one(name: str) -> None:
    frame, cause = scenario(name)
    doc = bubbleup.analyze(frame, where=WHERE).to_dict()
    top = doc["explanations"][0]
    assert items_of(top) == cause, top["label"]
    assert top["significant"]
    assert top["explained_by"] is None


def test_pair_where_neither_half_is_the_cause() -> None:
    frame, _ = scenario("pair")
    ex = bubbleup.analyze(frame, where=WHERE).explanations
    top = ex.row(0, named=True)["label"]
    for half in ("version = 'v3'", "os = 'mac'"):
        row = ex.filter(pl.col("label") == half).row(0, named=True)
        assert row["explained_by"] == top
        assert row["rank"] > 1


def test_numeric_threshold() -> None:
    frame, _ = scenario("threshold")
    top = bubbleup.analyze(frame, where=WHERE).to_dict()["explanations"][0]
    assert [i["op"] for i in top["items"]] == ["<="], top["label"]
    assert top["items"][0]["attribute"] == "disk_free_gb"
    assert top["items"][0]["value"] == pytest.approx(5.0, abs=1.5)


def test_confounded_cause_is_one_explanation_with_its_alias() -> None:
    frame, _ = scenario("alias")
    top = bubbleup.analyze(frame, where=WHERE).to_dict()["explanations"][0]
    names = {top["label"], *top["aliases"]}
    assert names == {"kernel = '6.1'", "node_pool = 'pool-c'"}
    labels = [e["label"] for e in bubbleup.analyze(frame, where=WHERE).to_dict()["explanations"]]
    assert len([x for x in labels if x in names]) == 1  # the alias is not repeated


def test_dynamic_sampling_needs_the_weights() -> None:
    frame, cause = scenario("sampling")
    weighted = bubbleup.analyze(frame, where=WHERE).to_dict()
    assert items_of(weighted["explanations"][0]) == cause
    free = [e for e in weighted["explanations"] if e["label"] == "tier = 'free'"]
    assert not free or not free[0]["significant"]
    unweighted = bubbleup.analyze(frame, where=WHERE, weight=False).to_dict()
    wrong = [e for e in unweighted["explanations"] if "tier = 'free'" in e["label"]]
    assert wrong
    assert wrong[0]["significant"]


def test_combination_figures_match_pandas() -> None:
    from scipy import stats

    from tests.conftest import items_mask

    frame, _ = scenario("triple", seed=3)
    result = bubbleup.analyze(frame, where=WHERE)
    df = frame.to_pandas()
    sel = df["outcome"] == "error"
    combos = result.explanations.filter(pl.col("items").list.len() > 1)
    assert combos.height >= 1
    for r in combos.iter_rows(named=True):
        mask = items_mask(df, r["items"])
        a, b = int((sel & mask).sum()), int((~sel & mask).sum())
        assert (r["selection_count"], r["baseline_count"]) == (a, b)
        n_s, n_b = int(sel.sum()), int((~sel).sum())
        table = np.array([[a, n_s - a], [b, n_b - b]])
        if stats.contingency.expected_freq(table).min() < 5:
            p = stats.fisher_exact(table, alternative="greater").pvalue
        else:
            g = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
            p = g.pvalue / 2 if a / n_s > b / n_b else 1 - g.pvalue / 2
        assert r["p_value"] == pytest.approx(p, rel=1e-6, abs=1e-300)


def test_max_order_one_gives_singles_only() -> None:
    frame, _ = scenario("pair")
    ex = bubbleup.analyze(frame, where=WHERE, max_order=1).explanations
    assert ex["items"].list.len().max() == 1
    ex2 = bubbleup.analyze(frame, where=WHERE, max_order=2).explanations
    assert ex2["items"].list.len().max() == 2


@pytest.mark.parametrize("order", ["0", "9"])
def test_max_order_out_of_range_is_usage_error(order: str, tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    scenario("single", n=500)[0].write_parquet(path)
    out = CliRunner().invoke(app, ["analyze", str(path), "--where", WHERE, "--max-order", order])
    assert out.exit_code == 2
    want = f"Error: --max-order must be 1, 2 or 3 (items per explanation), not {order}\n"
    assert out.stderr == want


def test_library_max_order_error() -> None:
    frame, _ = scenario("single", n=500)
    with pytest.raises(bubbleup.UsageError, match="max_order must be 1, 2 or 3"):
        bubbleup.analyze(frame, where=WHERE, max_order=4)


def _timed(frame: pl.DataFrame, where: str) -> tuple[bubbleup.Result, float]:
    start = time.perf_counter()
    result = bubbleup.analyze(frame, where=where)
    return result, time.perf_counter() - start


def test_all_attributes_identical() -> None:
    frame = pl.DataFrame({"a": ["x"] * 1000, "b": [1] * 1000, "flag": [True] * 500 + [False] * 500})
    result, _ = _timed(frame, "flag")
    assert result.explanations.height == 0
    assert {x.column for x in result.left_out} == {"a", "b", "flag"}
    assert result.to_dict()["explanations"] == []


def test_every_value_unique() -> None:
    n = 5000
    frame = pl.DataFrame(
        {
            "id": [f"id-{i}" for i in range(n)],
            "seq": np.arange(n),
            "x": np.random.default_rng(1).normal(size=n),
            "bad": np.random.default_rng(2).random(n) < 0.1,
        }
    )
    result, _ = _timed(frame, "bad")
    assert "id" in {x.column for x in result.left_out}
    assert not result.explanations["significant"].any()


def test_selection_of_one_event() -> None:
    frame, _ = scenario("single", n=5000)
    frame = frame.with_row_index("row")
    result, _ = _timed(frame, "row = 17")
    assert result.totals.selection_events == 1
    assert not result.explanations["significant"].any()
    assert result.explanations["selection_share"].max() == pytest.approx(1.0)


def test_selection_of_99_percent() -> None:
    frame, _ = scenario("single", n=5000)
    frame = frame.with_row_index("row")
    result, _ = _timed(frame, "row >= 50")
    assert result.totals.baseline_events == 50
    assert not result.explanations["significant"].any()
