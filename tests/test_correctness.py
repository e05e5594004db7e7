"""Every figure of every single item against an independent computation.

The reference uses pandas group-bys for the counts and scipy on each 2x2 table for the
tests (Fisher's exact test or the G-test, chosen by the same documented rule), and
scipy's Benjamini-Hochberg for the q-values.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy import stats
from scipy.stats.contingency import expected_freq

import bubbleup
from tests.conftest import items_mask, make_events


def _text(v: object) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def reference(frame: pl.DataFrame, column: str, *, weighted: bool) -> pd.DataFrame:
    """Per value of a categorical column: weighted and raw counts on both sides."""
    df = frame.to_pandas()
    df["_w"] = df["sample_rate"].astype(float) if weighted else 1.0
    df["_sel"] = df["outcome"] == "error"
    key = df[column].astype(object).where(df[column].notna(), "<null>")
    df["_key"] = key.map(_text)
    g = df.groupby("_key")
    out = pd.DataFrame(
        {
            "sel": g.apply(lambda x: x.loc[x["_sel"], "_w"].sum(), include_groups=False),
            "base": g.apply(lambda x: x.loc[~x["_sel"], "_w"].sum(), include_groups=False),
            "sel_events": g.apply(lambda x: int(x["_sel"].sum()), include_groups=False),
            "base_events": g.apply(lambda x: int((~x["_sel"]).sum()), include_groups=False),
        }
    )
    n_s = df.loc[df["_sel"], "_w"].sum()
    n_b = df.loc[~df["_sel"], "_w"].sum()
    eff_s = n_s**2 / (df.loc[df["_sel"], "_w"] ** 2).sum()
    eff_b = n_b**2 / (df.loc[~df["_sel"], "_w"] ** 2).sum()
    out.attrs.update(n_s=n_s, n_b=n_b, eff_s=eff_s, eff_b=eff_b, base_rows=int((~df["_sel"]).sum()))
    return out


def reference_p(a: float, n_s: float, b: float, n_b: float) -> float:
    """One-sided p-value for over-representation, straight from scipy."""
    table = np.array([[a, n_s - a], [b, n_b - b]])
    if expected_freq(table).min() < 5:
        # effective counts are rounded: the cells a, b and the side sizes n_s, n_b
        ai, bi, nsi, nbi = np.rint([a, b, n_s, n_b])
        t = np.array([[ai, nsi - ai], [bi, nbi - bi]])
        return float(stats.fisher_exact(t, alternative="greater").pvalue)
    _, p_two, _, _ = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    return p_two / 2 if a / n_s > b / n_b else 1 - p_two / 2


def label_key(label: str) -> tuple[str, str]:
    attribute, _, rest = label.partition(" = ")
    if label.endswith(" IS NULL"):
        return label[: -len(" IS NULL")], "<null>"
    return attribute, rest.strip("'")


@pytest.mark.parametrize(("seed", "weighted"), [(1, True), (2, True), (3, False), (4, False)])
def test_every_single_item_matches_reference(seed: int, weighted: bool) -> None:
    frame = make_events(4000, seed, planted=seed % 2 == 1)
    result = bubbleup.analyze(
        frame,
        where="outcome = 'error'",
        weight=None if weighted else False,
        exclude=["duration_ms"],
        max_order=1,
    )
    ex = result.explanations
    checked = 0
    all_p = []
    for column in ["region", "tier", "memory_mb", "flag", "customer", "version"]:
        ref = reference(frame, column, weighted=weighted)
        t = ref.attrs
        assert result.totals.selection_weight == pytest.approx(t["n_s"])
        assert result.totals.baseline_weight == pytest.approx(t["n_b"])
        first = pl.col("items").list.first().struct
        rows = ex.filter(
            (first.field("attribute") == column) & first.field("op").is_in(["=", "is_null"])
        )
        # every value present in the selection is reported, and nothing else
        assert set(ref.index[ref["sel"] > 0]) == {label_key(lbl)[1] for lbl in rows["label"]}
        for r in rows.iter_rows(named=True):
            value = label_key(r["label"])[1]
            want = ref.loc[value]
            a, b = float(want["sel"]), float(want["base"])
            assert r["selection_count"] == pytest.approx(a)
            assert r["baseline_count"] == pytest.approx(b)
            assert r["selection_events"] == want["sel_events"]
            assert r["baseline_events"] == want["base_events"]
            assert r["selection_share"] == pytest.approx(a / t["n_s"])
            assert r["baseline_share"] == pytest.approx(b / t["n_b"])
            assert r["difference"] == pytest.approx(a / t["n_s"] - b / t["n_b"])
            base_share = b / t["n_b"] if b > 0 else 0.5 / t["base_rows"]
            assert r["lift"] == pytest.approx((a / t["n_s"]) / base_share)
            assert r["selection_rate"] == pytest.approx(a / (a + b))
            # the selection's effective cell never exceeds its raw number of events
            a_eff = min(a * t["eff_s"] / t["n_s"], float(want["sel_events"]))
            p = reference_p(a_eff, t["eff_s"], b * t["eff_b"] / t["n_b"], t["eff_b"])
            assert r["p_value"] == pytest.approx(p, rel=1e-6, abs=1e-300)
            checked += 1
        all_p.extend(rows["p_value"].to_list())
    assert checked > 150  # the customer column alone has hundreds of values
    # q-values: Benjamini-Hochberg over the whole family: every value of every column,
    # in the selection or not (missing counts as a value), and one range per number
    analysed = ["region", "tier", "memory_mb", "flag", "customer", "version"]
    numbers = 1  # memory_mb
    if not weighted:  # sample_rate is then an attribute like the others
        analysed.append("sample_rate")
        numbers += 1
    pdf = frame.to_pandas()
    family = sum(pdf[c].nunique(dropna=False) for c in analysed) + numbers
    assert result.parameters["tested"] == family
    assert family > ex.height  # values absent from the selection are in the family too
    p_all = np.concatenate([ex["p_value"].to_numpy(), np.ones(family - ex.height)])
    q_ref = stats.false_discovery_control(p_all, method="bh")[: ex.height]
    np.testing.assert_allclose(ex["q_value"].to_numpy(), q_ref, rtol=1e-9)
    sig = (ex["q_value"] < 0.05) & (ex["lift"] >= 1.5) & (ex["selection_share"] >= 0.05)
    assert (ex["significant"] == sig).all()


def test_numeric_ranges_match_reference() -> None:
    frame = make_events(5000, 11, planted=True)
    result = bubbleup.analyze(
        frame,
        where="outcome = 'error'",
        columns=["duration_ms", "memory_mb"],
        context=["duration_ms"],
    )
    rows = result.explanations
    df = frame.to_pandas()
    sel = df["outcome"] == "error"
    w = df["sample_rate"].astype(float)
    n_s = w[sel].sum()
    eff_s = n_s**2 / (w[sel] ** 2).sum()
    eff_b = w[~sel].sum() ** 2 / (w[~sel] ** 2).sum()
    ops = set()
    for r in rows.iter_rows(named=True):
        item = r["items"][0]
        ops.add(item["op"])
        mask = items_mask(df, r["items"])
        assert r["selection_count"] == pytest.approx(w[sel & mask].sum())
        assert r["baseline_count"] == pytest.approx(w[~sel & mask].sum())
        assert r["selection_share"] == pytest.approx(w[sel & mask].sum() / n_s)
        if len(r["items"]) == 1 and item["op"] in ("<=", ">", "between"):
            # a range is chosen among m(m+1)/2 - 1 runs: its p-value carries that factor
            p = reference_p(
                w[sel & mask].sum() * eff_s / n_s,
                eff_s,
                w[~sel & mask].sum() * eff_b / w[~sel].sum(),
                eff_b,
            )
            assert r["p_value"] >= min(1.0, p * 2)
    assert ops & {"<=", ">", "between"}
    # duration_ms (binned) is reported through one range and its missing values only
    duration = rows.filter(pl.col("label").str.contains("duration_ms"))
    assert duration.filter(pl.col("items").list.len() == 1).height == 2


def test_attribute_distance_and_test_match_reference() -> None:
    frame = make_events(4000, 5, planted=True, weights=False)
    result = bubbleup.analyze(frame, where="outcome = 'error'")
    attrs = {r["attribute"]: r for r in result.attributes.iter_rows(named=True)}
    for column in ["region", "version", "tier"]:
        ref = reference(frame, column, weighted=False)
        p_s = ref["sel"] / ref.attrs["n_s"]
        p_b = ref["base"] / ref.attrs["n_b"]
        assert attrs[column]["distance"] == pytest.approx(0.5 * (p_s - p_b).abs().sum())
        table = np.stack([ref["sel"].to_numpy(), ref["base"].to_numpy()])
        if expected_freq(table).min() >= 5:
            g = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
            assert attrs[column]["p_value"] == pytest.approx(g.pvalue, rel=1e-6, abs=1e-300)
    assert attrs["version"]["q_value"] < 1e-6  # the planted attribute
    assert attrs["tier"]["q_value"] > 0.01


def test_hand_checked_tiny_table() -> None:
    # 4 selected events (3 with x = 'a'), 6 baseline events (1 with 'a')
    frame = pl.DataFrame({"x": list("aaab") + list("abbbbb"), "s": [True] * 4 + [False] * 6})
    r = bubbleup.analyze(frame, where="s").explanations.row(0, named=True)
    assert r["label"] == "x = 'a'"
    assert (r["selection_count"], r["baseline_count"]) == (3, 1)
    assert r["selection_share"] == 0.75
    assert r["baseline_share"] == pytest.approx(1 / 6)
    assert r["lift"] == pytest.approx(4.5)
    # Fisher: P(A >= 3), A ~ Hypergeom(10, 4, 4) = (C(4,3)C(6,1) + C(4,4)C(6,0)) / C(10,4)
    assert r["p_value"] == pytest.approx((4 * 6 + 1) / math.comb(10, 4))


def test_high_cardinality_two_phase_counts_match_reference() -> None:
    """A column with many values is counted in two phases; figures must not change."""
    rng = np.random.default_rng(21)
    n = 30_000
    frame = pl.DataFrame(
        {
            "session": [f"s{v}" for v in rng.integers(0, 12_000, size=n)],
            "region": rng.choice(["a", "b", "c"], size=n).tolist(),
            "outcome": np.where(rng.random(n) < 0.03, "error", "ok").tolist(),
            "sample_rate": rng.choice([1, 4], size=n),
        }
    ).with_columns(
        session=pl.when(pl.int_range(pl.len()) % 97 == 0).then(None).otherwise(pl.col("session"))
    )
    result = bubbleup.analyze(frame, where="outcome = 'error'", max_order=1)
    attrs = {r["attribute"]: r for r in result.attributes.iter_rows(named=True)}
    assert attrs["session"]["distinct"] > 2_000  # counted in two phases
    ref = reference(frame, "session", weighted=True)
    rows = result.explanations.filter(pl.col("label").str.starts_with("session"))
    assert rows.height == int((ref["sel"] > 0).sum())
    for r in rows.iter_rows(named=True):
        want = ref.loc[label_key(r["label"])[1]]
        assert (r["selection_count"], r["baseline_count"]) == (want["sel"], want["base"])
        assert (r["selection_events"], r["baseline_events"]) == (
            want["sel_events"],
            want["base_events"],
        )
    p_s = ref["sel"] / ref.attrs["n_s"]
    p_b = ref["base"] / ref.attrs["n_b"]
    assert attrs["session"]["distance"] == pytest.approx(0.5 * (p_s - p_b).abs().sum())
    assert attrs["session"]["missing"] == int(frame["session"].null_count())
