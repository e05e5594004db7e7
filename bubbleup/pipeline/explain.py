"""Explain stage: from scored items to the ranked explanations a user reads.

An explanation is a conjunction of items; each item is one condition on one attribute
(``=``, ``is_null``, ``<=``, ``>``, ``between``). This stage adds Benjamini-Hochberg
q-values over every explanation tested (single values, numeric ranges and conjunctions
together), decides which are significant, keeps the minimal answers and orders them:
significant explanations not explained by a reported conjunction first, then the ones
that are, both by difference (selection share minus baseline share); then those with a
large enough effect (lift and selection share) that are not significant, by q-value; then
the rest by difference. Ties break by label, so the same input always gives the same order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import polars as pl

from bubbleup.pipeline.combine import Mined, Patterns, Stats, clearly_better, mine
from bubbleup.pipeline.count import Totals
from bubbleup.pipeline.items import ITEM_DTYPE, item_label, quote_identifier
from bubbleup.pipeline.profile import Attribute
from bubbleup.pipeline.ranges import range_items
from bubbleup.pipeline.score import bh_qvalues, family_size, score_items

#: An item or conjunction whose events overlap the selection's at least this much
#: (:func:`overlap`) restates the selection: it is listed apart, never as an explanation.
RESTATEMENT_OVERLAP = 0.9

#: Columns of ``Result.explanations``, in order.
COLUMNS = (
    "rank",
    "label",
    "items",
    "aliases",
    "explained_by",
    "selection_count",
    "baseline_count",
    "selection_events",
    "baseline_events",
    "selection_share",
    "baseline_share",
    "difference",
    "lift",
    "selection_rate",
    "p_value",
    "q_value",
    "significant",
)


def single_items(
    counts: pl.DataFrame, attributes: Sequence[Attribute], totals: Totals
) -> pl.DataFrame:
    """The single-item candidates: values, missing values and one best range per number.

    Binned numbers take part through their best range (see :mod:`bubbleup.pipeline.ranges`) and
    their missing values, not bin by bin.
    """
    binned = [a.name for a in attributes if a.binned]
    values = counts.filter(
        ~(pl.col("attribute").is_in(binned) & (pl.col("op") != "is_null"))
    ).with_columns(candidates=pl.lit(1, dtype=pl.Int64))
    return pl.concat([values, range_items(counts, attributes, totals)], how="vertical")


def _with_labels(frame: pl.DataFrame, attributes: Sequence[Attribute]) -> pl.DataFrame:
    """Add ``label`` and ``items``; values are labelled in bulk, ranges one by one."""
    quoted = [a.name for a in attributes if a.kind == "categorical"]
    names = {a.name: quote_identifier(a.name) for a in attributes}
    dtypes = {a.name: a.dtype for a in attributes}
    op, value = pl.col("op"), pl.col("value")
    attr = pl.col("attribute").replace_strict(names, default=pl.col("attribute"))
    plain = (
        pl.when(value.str.ends_with(".0"))
        .then(value.str.slice(0, value.str.len_chars() - 2))
        .otherwise(value)
    )
    shown = (
        pl.when(pl.col("attribute").is_in(quoted))
        .then(pl.lit("'") + value.str.replace_all("'", "''", literal=True) + pl.lit("'"))
        .otherwise(plain)
    )
    bulk = (
        pl.when(op == "is_null")
        .then(attr + pl.lit(" IS NULL"))
        .when(op == "=")
        .then(attr + pl.lit(" = ") + shown)
        .otherwise(None)
    )
    frame = frame.with_columns(label=bulk)
    # durations (counted in milliseconds) read as intervals, one by one like ranges
    durations = [a.name for a in attributes if a.dtype.startswith("Duration")]
    frame = frame.with_columns(
        label=pl.when(pl.col("attribute").is_in(durations)).then(None).otherwise(pl.col("label"))
    )
    ranges = frame.filter(pl.col("label").is_null())
    if ranges.height:
        labels = [
            item_label(r, quoted=False, dtype=dtypes.get(r["attribute"]))
            for r in ranges.iter_rows(named=True)
        ]

        def key() -> pl.Expr:
            return pl.concat_str(
                [pl.col("attribute"), op, pl.col("value").fill_null("")], separator="\x00"
            )

        fill = dict(zip(ranges.select(key())[:, 0], labels, strict=True))
        frame = frame.with_columns(
            label=pl.coalesce(
                pl.col("label"),
                key().replace_strict(fill, default=None, return_dtype=pl.String),
            )
        )
    return frame.with_columns(
        items=pl.concat_list(
            pl.struct(
                pl.col("attribute"), pl.col("op"), pl.col("value"), pl.col("low"), pl.col("high")
            )
        ).cast(pl.List(ITEM_DTYPE)),
    )


def _combo_frame(mined: Mined) -> pl.DataFrame:
    rows = []
    for combo, (sel, base, sel_n, base_n) in zip(mined.combos, mined.combo_counts, strict=True):
        parts = [mined.gated[i] for i in combo]
        rows.append(
            {
                "label": " AND ".join(p["label"] for p in parts),
                "items": [p["items"][0] for p in parts],
                "sel": sel,
                "base": base,
                "sel_events": sel_n,
                "base_events": base_n,
                "members": list(combo),
                # a range was chosen among its runs by looking at the data: a conjunction
                # with ranges carries the product of their numbers of runs, as the range
                # alone does (else two ranges, of a time and a duration, find a rectangle
                # in any small random selection)
                "candidates": math.prod(int(p.get("candidates") or 1) for p in parts),
            }
        )
    schema: dict[str, pl.DataType] = {
        "label": pl.String(),
        "items": pl.List(ITEM_DTYPE),
        "sel": pl.Float64(),
        "base": pl.Float64(),
        "sel_events": pl.Int64(),
        "base_events": pl.Int64(),
        "members": pl.List(pl.Int64()),
        "candidates": pl.Int64(),
    }
    return pl.DataFrame(rows, schema=schema)


@dataclass(frozen=True)
class Explained:
    """What the explain stage returns."""

    #: candidate causes, ranked (see the module docstring); columns :data:`COLUMNS`
    explanations: pl.DataFrame
    #: items and conjunctions that restate the selection, by decreasing ``overlap``;
    #: columns :data:`COLUMNS` and ``overlap``
    restatements: pl.DataFrame
    #: the size of the Benjamini-Hochberg family
    tested: int


def overlap(n_s: float) -> pl.Expr:
    """Weighted overlap (Jaccard) of an explanation's events with the selection's.

    ``sel / (n_S + base)``: the selection's events that have it, over the selection's plus
    the baseline's events that have it (with the default baseline, every event in scope
    that has it or is selected). 1 means the same events as the selection.
    """
    return pl.col("sel") / (pl.lit(n_s) + pl.col("base"))


def explain(
    counts: pl.DataFrame,
    totals: Totals,
    attributes: Sequence[Attribute],
    *,
    patterns: Patterns | None,
    max_order: int,
    alpha: float,
    min_lift: float,
    min_share: float,
) -> Explained:
    """Rank the explanations, set the restatements apart and mark the significant ones.

    ``significant`` means ``q_value < alpha``, ``lift >= min_lift`` and
    ``selection_share >= min_share``. Single items of every attribute are tested; those
    whose events nearly coincide with the selection (overlap at least
    :data:`RESTATEMENT_OVERLAP`) are restatements; the rest of the outcome attributes'
    items are left to the outcomes section; the context attributes' items are the
    candidate explanations, and only they are combined.
    """
    roles = {a.name: a.role for a in attributes}
    outcomes = [name for name, role in roles.items() if role == "outcome"]
    n_s = totals.selection_weight
    singles = score_items(single_items(counts, attributes, totals), totals)
    singles = _with_labels(singles, attributes).with_columns(
        p_value=(pl.col("p_value") * pl.col("candidates")).clip(upper_bound=1.0),
        overlap=overlap(n_s).fill_nan(0.0),
    )
    restating = pl.col("overlap") >= RESTATEMENT_OVERLAP
    context = singles.filter(~pl.col("attribute").is_in(outcomes) & ~restating)
    mined = None
    if max_order >= 2 and patterns is not None:
        mined = mine(
            context,
            totals,
            patterns,
            max_order=max_order,
            gate_share=max(min_share / 2, 0.01),
            time_attributes={a.name for a in attributes if a.kind == "time"},
        )
    index = {g["label"]: i for i, g in enumerate(mined.gated)} if mined else {}
    singles = singles.with_columns(
        members=pl.when(pl.col("label").is_in(list(index)))
        .then(
            pl.concat_list(
                pl.col("label").replace_strict(index, default=None, return_dtype=pl.Int64)
            )
        )
        .otherwise(None),
        outcome=pl.col("attribute").is_in(outcomes),
    )
    columns = [*_FIGURES, "label", "items", "members", "overlap", "outcome"]
    frames = [singles.select(columns)]
    if mined and mined.combos:
        combos = score_items(_combo_frame(mined), totals).with_columns(
            p_value=(pl.col("p_value") * pl.col("candidates")).clip(upper_bound=1.0),
            overlap=overlap(n_s).fill_nan(0.0),
            outcome=pl.lit(False),
        )
        frames.append(combos.select(columns))
    tested = pl.concat(frames, how="vertical")
    # the family: every single item looked at (see family_size) and every conjunction
    # considered (see Mined.considered), whether it occurs in the selection or not
    n_combos = tested.height - singles.height
    family = family_size(counts, attributes) + max(n_combos, mined.considered if mined else 0)
    q = _qvalues(tested["p_value"].to_numpy(), _repeated(tested, mined), family)
    tested = tested.with_columns(q_value=pl.Series(q, dtype=pl.Float64)).with_columns(
        significant=(pl.col("q_value") < alpha)
        & (pl.col("lift") >= min_lift)
        & (pl.col("selection_share") >= min_share)
    )
    restatements = tested.filter(restating)
    tested = tested.filter(~restating & ~pl.col("outcome"))
    aliases: dict[str, list[str]] = {}
    explained: dict[str, str] = {}
    dropped: set[str] = set()
    if mined is not None:
        mined_rows = tested.filter(pl.col("members").is_not_null()).to_dicts()
        dropped, aliases, explained = _minimal(
            mined_rows, mined, Stats(totals), alpha=alpha, min_lift=min_lift, min_share=min_share
        )
    label = pl.col("label")
    out = tested.filter(~label.is_in(list(dropped))).with_columns(
        aliases=(
            label.replace_strict(aliases, default=[], return_dtype=pl.List(pl.String))
            if aliases
            else pl.lit([], dtype=pl.List(pl.String))
        ),
        explained_by=label.replace_strict(explained, default=None, return_dtype=pl.String),
    )
    effect = (pl.col("lift") >= min_lift) & (pl.col("selection_share") >= min_share)
    tier = (
        pl.when(pl.col("significant") & pl.col("explained_by").is_null())
        .then(0)
        .when(pl.col("significant"))
        .then(1)
        .when(effect)
        .then(2)
        .otherwise(3)
    )
    # large enough but not significant: the nearest to significance first
    near = pl.when(tier == 2).then(pl.col("q_value")).otherwise(0.0)
    out = out.sort(
        [tier, near, pl.col("difference"), pl.col("label")],
        descending=[False, False, True, False],
    ).with_row_index("rank", offset=1)
    restatements = (
        restatements.with_columns(
            aliases=pl.lit([], dtype=pl.List(pl.String)),
            explained_by=pl.lit(None, dtype=pl.String),
        )
        .sort([pl.col("overlap"), pl.col("label")], descending=[True, False])
        .with_row_index("rank", offset=1)
    )
    return Explained(
        _final(out).select(COLUMNS),
        _final(restatements).select([*COLUMNS, "overlap"]),
        max(family, tested.height + restatements.height),
    )


def _repeated(tested: pl.DataFrame, mined: Mined | None) -> np.ndarray:
    """Which tested rows hold exactly the events of another with a smaller p-value.

    Items and conjunctions made of the gated items cover whole rows of the mask table
    (each event is in exactly one), so two of them hold the same events exactly when they
    cover the same mask rows: the same hypothesis, tested again under another name.
    """
    repeated = np.zeros(tested.height, dtype=bool)
    if mined is None:
        return repeated
    seen: set[bytes] = set()
    order = np.argsort(tested["p_value"].to_numpy(), kind="stable")
    members = tested["members"].to_list()
    for i in order:
        if members[i] is None:
            continue
        key = np.packbits(mined.table.rows_with(members[i])).tobytes()
        if key in seen:
            repeated[i] = True
        else:
            seen.add(key)
    return repeated


def _qvalues(p: np.ndarray, repeated: np.ndarray, family: int) -> np.ndarray:
    """Benjamini-Hochberg q-values, where a hypothesis tested again (``repeated``: an
    explanation holding exactly the events of another, see :func:`_repeated`) takes no
    rank of its own: each gets the q-value its p-value would have among the others.

    Without this, a selection of one event made dozens of conjunctions of that event's
    values, all holding that one event with the same p-value, and their ranks alone made
    them "significant".

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([0.001, 0.001, 0.001, 0.5])
    >>> _qvalues(p, np.array([False, True, True, False]), 4).round(3).tolist()
    [0.004, 0.004, 0.004, 1.0]
    """
    own = ~repeated
    q = np.ones(p.size)
    if not own.any():
        return q
    ref_p = p[own]
    q[own] = bh_qvalues(ref_p, family=family)
    order = np.argsort(ref_p, kind="stable")
    sorted_p, sorted_q = ref_p[order], q[own][order]
    at = np.searchsorted(sorted_p, p[repeated], side="left")
    tail = np.minimum(1.0, p[repeated] * max(family, ref_p.size) / ref_p.size)
    q[repeated] = np.where(at < sorted_p.size, sorted_q[np.minimum(at, sorted_p.size - 1)], tail)
    return q


def _final(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.rename(
        {
            "sel": "selection_count",
            "base": "baseline_count",
            "sel_events": "selection_events",
            "base_events": "baseline_events",
        }
    ).with_columns(pl.col("rank").cast(pl.Int64))


_FIGURES = (
    "sel",
    "base",
    "sel_events",
    "base_events",
    "selection_share",
    "baseline_share",
    "difference",
    "lift",
    "selection_rate",
    "p_value",
)


def _minimal(
    rows: list[dict[str, Any]],
    mined: Mined,
    stats: Stats,
    *,
    alpha: float,
    min_lift: float,
    min_share: float,
) -> tuple[set[str], dict[str, list[str]], dict[str, str]]:
    """Decide which mined rows are reported, their aliases and what explains what.

    ``rows`` are the tested explanations made of gated items (singles and conjunctions).
    Returns the labels not to report (aliases, conjunctions that are not minimal or are
    near-duplicates of a better one), the aliases of each representative, and
    ``explained_by`` for the rest.
    """

    @cache
    def counts(members: tuple[int, ...]) -> tuple[float, float, int, int]:
        return mined.table.counts(members)

    reported: list[dict[str, Any]] = []
    aliases: dict[str, list[str]] = {}
    dropped: set[str] = set()
    tested = [r for r in rows if len(r["members"]) > 1 and r["significant"]]
    better = clearly_better(
        [(tuple(r["members"]), (r["sel"], r["base"])) for r in tested],
        mined,
        stats,
        alpha=alpha,
        counts=counts,
    )
    minimal = {id(r) for r, ok in zip(tested, better, strict=True) if ok}
    for r in rows:
        members = r["members"]
        if len(members) == 1:
            rep = mined.representative[members[0]]
            if rep != members[0]:
                aliases.setdefault(mined.gated[rep]["label"], []).append(r["label"])
                dropped.add(r["label"])
            else:
                reported.append(r)
        elif id(r) in minimal:
            reported.append(r)
        else:
            dropped.add(r["label"])
    # Greedy, best first: an explanation is explained by a better one already kept when its
    # events outside that one are no longer significantly over-represented.
    n_s = stats.totals.selection_weight
    leaders: list[dict[str, Any]] = []
    explained: dict[str, str] = {}
    ordered = sorted(
        (r for r in reported if r["significant"]), key=lambda r: (-r["difference"], r["label"])
    )
    for r in ordered:
        own = tuple(sorted(r["members"]))
        a, b, _, _ = counts(own)
        for c in leaders:
            both = tuple(sorted(set(own) | set(c["members"])))
            a_both, b_both, _, _ = counts(both)
            a_rest, b_rest = a - a_both, b - b_both
            still = (
                a_rest > 0
                and stats.p_over(a_rest, b_rest) < alpha
                and stats.lift(a_rest, b_rest) >= min_lift
                and a_rest / n_s >= min_share
            )
            if not still:
                explained[r["label"]] = c["label"]
                if len(own) > 1:  # an explained conjunction is a near-duplicate
                    dropped.add(r["label"])
                break
        else:
            leaders.append(r)
    return dropped, aliases, explained
