"""Score stage: statistics over the (small) counts table. The only module that uses scipy.

For one item X the numbers come from a 2x2 table of weighted counts
``a = w(S and X)``, ``n_S = w(S)``, ``b = w(B and X)``, ``n_B = w(B)``:

- ``selection_share = a / n_S`` and ``baseline_share = b / n_B``;
- ``difference = selection_share - baseline_share`` (the ranking key);
- ``lift = selection_share / baseline_share``; when ``b = 0`` the baseline share is taken as
  half an event, ``0.5 / baseline_events``, so lift stays finite;
- ``selection_rate = a / (a + b)`` (how often events with X are selected);
- ``p_value``: one-sided test that X is over-represented in S. Counts are first scaled to
  effective sample sizes (Kish: ``(sum w)^2 / sum w^2`` per side), which leaves unweighted
  data unchanged. Fisher's exact test (hypergeometric tail) when an expected cell is below
  5, else the G-test, one-sided through its signed square root;
- ``q_value``: Benjamini-Hochberg over every item tested.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import polars as pl
from scipy import special

from bubbleup.pipeline.count import Totals
from bubbleup.pipeline.profile import Attribute

#: Fisher's exact test is used when an expected cell of the 2x2 table is below this.
MIN_EXPECTED = 5.0


def one_sided_pvalues(
    a: np.ndarray, n_s: float | np.ndarray, b: np.ndarray, n_b: float | np.ndarray
) -> np.ndarray:
    """One-sided p-values for "X is more common in S than in B" on 2x2 tables.

    ``a`` and ``b`` are (effective) counts of X in S and B; ``n_s`` and ``n_b`` the
    (effective) sizes of S and B: one for every table, or one per table (arrays shaped
    like ``a``). A table with an empty side gets p = 1.

    Examples
    --------
    >>> import numpy as np
    >>> p = one_sided_pvalues(np.array([3.0]), 3.0, np.array([0.0]), 3.0)
    >>> round(float(p[0]), 4)  # Fisher: 1 / C(6, 3)
    0.05
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    p: np.ndarray = np.ones_like(a)
    sizes = np.broadcast_to(np.asarray(n_s, dtype=np.float64), a.shape)
    others = np.broadcast_to(np.asarray(n_b, dtype=np.float64), a.shape)
    both = (sizes > 0) & (others > 0)
    if not both.all():
        p[both] = one_sided_pvalues(a[both], sizes[both], b[both], others[both])
        return p
    if a.size == 0:
        return p
    n_s, n_b = sizes, others
    n = n_s + n_b
    m = a + b
    # the four cells and their expectations under independence
    cells = np.stack([a, n_s - a, b, n_b - b])
    expected = np.stack([m * n_s / n, (n - m) * n_s / n, m * n_b / n, (n - m) * n_b / n])
    small = expected.min(axis=0) < MIN_EXPECTED
    if small.any():
        ai = np.rint(a[small])
        bi = np.rint(b[small])
        ns_i = np.rint(n_s[small])
        nb_i = np.rint(n_b[small])
        # P(A >= a) for A ~ Hypergeom(population ns+nb, successes a+b, draws ns)
        p[small] = hypergeom_sf(ai - 1, ns_i + nb_i, ai + bi, ns_i)
    large = ~small
    if large.any():
        obs = cells[:, large]
        exp = expected[:, large]
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(obs > 0, obs * np.log(obs / exp), 0.0)
        g = np.maximum(2.0 * terms.sum(axis=0), 0.0)
        sign = np.sign(a[large] / n_s[large] - b[large] / n_b[large])
        # the normal's upper tail: what stats.norm.sf computes (the same numbers), without
        # its per-call checks (77 us a call against 2 us; explain makes thousands of calls)
        p[large] = special.ndtr(-(sign * np.sqrt(g)))
    out: np.ndarray = np.clip(p, 0.0, 1.0)
    return out


def _boost_hypergeom_sf() -> Callable[..., np.ndarray] | None:
    try:
        from scipy.special import _ufuncs
    except ImportError:  # pragma: no cover - scipy's layout changed
        return None
    return getattr(_ufuncs, "_hypergeom_sf", None)


#: Boost's hypergeometric upper tail, the function ``scipy.stats.hypergeom.sf`` calls inside
#: its support. Importing ``scipy.stats`` for it would cost half a second of every command's
#: start (``tests/test_imports.py``); where scipy no longer has it, ``scipy.stats`` is used.
_HYPERGEOM_SF = _boost_hypergeom_sf()


def hypergeom_sf(
    k: np.ndarray, total: np.ndarray, good: np.ndarray, draws: np.ndarray
) -> np.ndarray:
    """``P(X > k)`` for ``X ~ Hypergeom(total, good, draws)``: ``scipy.stats.hypergeom.sf``.

    The same numbers as scipy's (``tests/test_statistics.py`` compares them on every kind
    of table), without importing ``scipy.stats``: 1 below the support, 0 at or above its top.

    Examples
    --------
    >>> import numpy as np
    >>> # 3 of the 4 events with X among the 5 selected out of 10
    >>> p = hypergeom_sf(np.array([2.0]), np.array([10.0]), np.array([4.0]), np.array([5.0]))
    >>> print(f"{p[0]:.4f}")
    0.2619
    """
    k, total, good, draws = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (k, total, good, draws))
    )
    if _HYPERGEOM_SF is None:  # pragma: no cover - see _boost_hypergeom_sf
        from scipy import stats

        return np.asarray(stats.hypergeom.sf(k, total, good, draws), dtype=float)
    low = np.maximum(0.0, draws - (total - good))
    high = np.minimum(good, draws)
    inside = (k >= low) & (k < high)
    out = np.where(k < low, 1.0, 0.0)
    if inside.any():
        out[inside] = _HYPERGEOM_SF(k[inside], good[inside], draws[inside], total[inside])
    return out


def bh_qvalues(p: np.ndarray, family: int | None = None) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input's order.

    ``family`` is the number of hypotheses in the family when it is larger than
    ``p.size``: the others were looked at and could not be rejected (p = 1), so they
    rank last and only make the multiplier ``family / rank`` larger.

    Examples
    --------
    >>> import numpy as np
    >>> bh_qvalues(np.array([0.01, 0.04, 0.03])).round(3).tolist()
    [0.03, 0.04, 0.04]
    >>> bh_qvalues(np.array([0.01, 0.04, 0.03]), family=6).round(3).tolist()
    [0.06, 0.08, 0.08]
    """
    p = np.asarray(p, dtype=np.float64)
    n = p.size
    if n == 0:
        return p.copy()
    m = max(n, family or 0)
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, n + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(n)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


def score_items(counts: pl.DataFrame, totals: Totals) -> pl.DataFrame:
    """Add shares, difference, lift, rates and one-sided p-values to counts-table rows.

    Only items that occur in the selection can be over-represented; items with no
    selected event are dropped here (their p-value would be 1). They still belong to the
    multiple-testing family: see :func:`family_size`.
    """
    n_s, n_b = totals.selection_weight, totals.baseline_weight
    items = counts.filter(pl.col("sel") > 0)
    floor = 0.5 / max(totals.baseline_events, 1)
    items = items.with_columns(
        selection_share=pl.col("sel") / n_s,
        baseline_share=pl.col("base") / n_b,
    ).with_columns(
        difference=pl.col("selection_share") - pl.col("baseline_share"),
        lift=pl.col("selection_share")
        / pl.when(pl.col("base") > 0).then(pl.col("baseline_share")).otherwise(pl.lit(floor)),
        selection_rate=pl.col("sel") / (pl.col("sel") + pl.col("base")),
    )
    f_s = totals.selection_eff / n_s if n_s > 0 else 0.0
    f_b = totals.baseline_eff / n_b if n_b > 0 else 0.0
    # A cell cannot hold more information than its events: when the selected events of an
    # item carry more weight than the selection's average (two events at sample rate 10),
    # share x effective size overstates them, so the selection's cell is capped at its
    # raw count (random 1% selections of sampled events: 24% -> see bench/calibration.py).
    sel_eff = np.minimum(items["sel"].to_numpy() * f_s, items["sel_events"].to_numpy())
    p = one_sided_pvalues(
        sel_eff,
        totals.selection_eff,
        items["base"].to_numpy() * f_b,
        totals.baseline_eff,
    )
    return items.with_columns(p_value=pl.Series(p, dtype=pl.Float64))


def family_size(counts: pl.DataFrame, attributes: Sequence[Attribute]) -> int:
    """How many single items were looked at, whether they occur in the selection or not.

    Which values occur in the selection depends on the selection, so leaving the others
    out of the Benjamini-Hochberg family would shrink it by chance: a 60-event selection
    shows a few dozen of a 400-value column, and one of them seen 3 times looked
    significant in a third of random selections. Every value of every attribute counts:
    the rows of the counts table that are tested as values (bins of ranged numbers are
    not), one range per numeric attribute (its p-value already carries the number of runs
    it was chosen from, see :mod:`bubbleup.pipeline.ranges`), plus, for attributes counted in two
    phases, the values never seen in the selection (estimated from their number of
    distinct values).

    Examples
    --------
    >>> from bubbleup.pipeline.profile import Attribute
    >>> counts = pl.DataFrame({"attribute": ["a", "a", "a"], "op": ["=", "=", "is_null"]})
    >>> family_size(counts, [Attribute("a", "categorical", "String", 3, 0)])
    3
    """
    binned = {a.name for a in attributes if a.binned}
    rows = counts.filter(
        ~(pl.col("attribute").is_in(list(binned)) & (pl.col("op") != "is_null"))
        & (pl.col("op") != "other")
    )
    listed = dict(rows.filter(pl.col("op") == "=").group_by("attribute").len().iter_rows())
    unlisted = sum(
        max(0, a.distinct - int(listed.get(a.name, 0))) for a in attributes if a.two_phase
    )
    ranges = sum(1 for a in attributes if a.kind in ("numeric", "time"))
    return rows.height + ranges + unlisted


def attribute_tests(counts: pl.DataFrame, totals: Totals) -> pl.DataFrame:
    """Per attribute: total variation distance between S and B and a G-test of independence.

    ``distance = 1/2 * sum_v |p_S(v) - p_B(v)|`` over all values (missing included; value
    ranges for binned numbers). The test runs on effective counts; values whose expected
    count is below 5 on either side are pooled into one cell first. For attributes counted
    in two phases, the ``other`` row (baseline events with values never seen in the
    selection) is pooled too: it stands for many small cells, and keeping it apart would
    make the attribute look dependent on the side merely because the listed values were
    chosen from the selection.
    """
    n_s, n_b = totals.selection_weight, totals.baseline_weight
    f_s = totals.selection_eff / n_s if n_s > 0 else 0.0
    f_b = totals.baseline_eff / n_b if n_b > 0 else 0.0
    rows = []
    for (name,), group in counts.group_by("attribute", maintain_order=True):
        sel = group["sel"].to_numpy()
        base = group["base"].to_numpy()
        tvd = 0.5 * float(np.abs(sel / n_s - base / n_b).sum()) if n_s and n_b else 0.0
        pooled = (group["op"] == "other").to_numpy()
        rows.append((str(name), tvd, _independence_p(sel * f_s, base * f_b, pooled)))
    return pl.DataFrame(
        rows,
        schema={"attribute": pl.String, "distance": pl.Float64, "p_value": pl.Float64},
        orient="row",
    )


def _independence_p(sel: np.ndarray, base: np.ndarray, pooled: np.ndarray) -> float:
    n_s, n_b = float(sel.sum()), float(base.sum())
    n = n_s + n_b
    if n_s <= 0 or n_b <= 0:
        return 1.0
    row = sel + base
    small = (np.minimum(row * n_s / n, row * n_b / n) < MIN_EXPECTED) | pooled
    if small.any():
        sel = np.append(sel[~small], sel[small].sum())
        base = np.append(base[~small], base[small].sum())
        keep = (sel + base) > 0
        sel, base = sel[keep], base[keep]
    if sel.size < 2:
        return 1.0
    obs = np.stack([sel, base])
    exp = np.outer([n_s, n_b], (sel + base) / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = 2.0 * float(np.where(obs > 0, obs * np.log(obs / exp), 0.0).sum())
    # the chi-squared upper tail: the function stats.chi2.sf calls
    return float(special.chdtrc(sel.size - 1, max(g, 0.0)))
