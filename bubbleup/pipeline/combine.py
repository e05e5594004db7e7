"""Combinations: conjunctions of two or three items, aliases, and minimal answers.

Mining follows MacroBase's idea. Single items that pass a lenient gate (common enough in
the selection, somewhat enriched) are counted together in one pass over the events (see
:func:`bubbleup.pipeline.count.count_patterns`): every event gets the bit mask of the gated items it
has, and the engine returns the weighted counts per mask. Everything below works on that
small table, so a combination costs one extra pass whatever its order.

- **Aliases**: two gated items whose events nearly coincide (weighted Jaccard similarity
  of at least :data:`ALIAS_JACCARD` over all events in scope) are one explanation with
  several names; the one with the largest difference represents the group.
- **Conjunctions**: every pair of representatives (of different attributes) present in at
  least ``gate_share`` of the selection, then triples grown from the best pairs.
- **Minimal answers**: a conjunction is reported only when it is *clearly better* than
  each of its parts (the conjunctions one item shorter): its lift is at least
  :data:`MIN_GAIN` times the part's, and within the part's events, the extra item is itself
  significantly over-represented in the selection (one-sided test at ``alpha``).
- **Explained items**: a reported explanation E is *explained by* a reported conjunction
  C that contains it when E's events outside C are no longer significantly
  over-represented (same criteria as ``significant``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from bubbleup.pipeline.count import Totals
from bubbleup.pipeline.score import one_sided_pvalues

#: Items whose events overlap at least this much (Jaccard) are aliases.
ALIAS_JACCARD = 0.95
#: A conjunction must have at least this many times the lift of each of its parts.
MIN_GAIN = 1.5
#: At most this many single items take part in combinations.
MAX_GATED = 30
#: Gate: minimum lift of a single item to take part in combinations.
GATE_LIFT = 1.1
#: Triples are grown from at most this many of the best pairs.
MAX_PAIRS_GROWN = 40

Patterns = Callable[[list[dict[str, Any]]], pl.DataFrame]


@dataclass
class PatternTable:
    """The engine's mask counts, as matrices: one row per distinct mask, one column per item."""

    has: np.ndarray  # (masks x items) 0/1 floats
    sel: np.ndarray
    base: np.ndarray
    sel_events: np.ndarray
    base_events: np.ndarray

    @classmethod
    def from_frame(cls, frame: pl.DataFrame, n_items: int) -> PatternTable:
        masks = frame["mask"].to_numpy().astype(np.uint64)
        bits = np.left_shift(np.uint64(1), np.arange(n_items, dtype=np.uint64))
        has = ((masks[:, None] & bits[None, :]) != 0).astype(np.float64)
        return cls(
            has,
            frame["sel"].to_numpy().astype(np.float64),
            frame["base"].to_numpy().astype(np.float64),
            frame["sel_events"].to_numpy().astype(np.float64),
            frame["base_events"].to_numpy().astype(np.float64),
        )

    def rows_with(self, members: Sequence[int]) -> np.ndarray:
        """Boolean vector of the masks that contain every item in ``members``."""
        return np.asarray(self.has[:, list(members)].all(axis=1))

    def counts(self, members: Sequence[int]) -> tuple[float, float, int, int]:
        """Weighted and raw counts of the conjunction of ``members`` on both sides."""
        rows = self.rows_with(members)
        return (
            float(self.sel[rows].sum()),
            float(self.base[rows].sum()),
            int(self.sel_events[rows].sum()),
            int(self.base_events[rows].sum()),
        )

    def extend(self, members: Sequence[int]) -> tuple[np.ndarray, ...]:
        """Counts of ``members`` AND each single item, for every item at once."""
        rows = self.rows_with(members) if members else np.ones(self.has.shape[0], dtype=bool)
        sub = self.has[rows]
        return (
            self.sel[rows] @ sub,
            self.base[rows] @ sub,
            self.sel_events[rows] @ sub,
            self.base_events[rows] @ sub,
        )


@dataclass
class Stats:
    """Helper for the effect and test of an ad-hoc 2x2 table."""

    totals: Totals

    @property
    def f_s(self) -> float:
        t = self.totals
        return t.selection_eff / t.selection_weight if t.selection_weight else 0.0

    @property
    def f_b(self) -> float:
        t = self.totals
        return t.baseline_eff / t.baseline_weight if t.baseline_weight else 0.0

    def lift(self, a: float, b: float) -> float:
        t = self.totals
        base_share = b / t.baseline_weight if b > 0 else 0.5 / max(t.baseline_events, 1)
        return (a / t.selection_weight) / base_share

    def p_over(self, a: float, b: float) -> float:
        """One-sided p-value that a set of events (a, b) is over-represented in S."""
        t = self.totals
        p = one_sided_pvalues(
            np.array([a * self.f_s]), t.selection_eff, np.array([b * self.f_b]), t.baseline_eff
        )
        return float(p[0])

    def p_within(
        self, a: np.ndarray, b: np.ndarray, a_part: np.ndarray, b_part: np.ndarray
    ) -> np.ndarray:
        """One-sided p-values that each (a, b) is over-represented in S within its
        (a_part, b_part); 1 where a part side is empty."""
        return one_sided_pvalues(a * self.f_s, a_part * self.f_s, b * self.f_b, b_part * self.f_b)


class _Groups:
    """Union-find over item indices (alias groups)."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


@dataclass
class Mined:
    """What combination mining found, for the explain stage to assemble."""

    gated: list[dict[str, Any]]  # the gated single rows, best first
    table: PatternTable
    representative: dict[int, int]  # gated index -> index of its alias group's representative
    combos: list[tuple[int, ...]]  # conjunctions evaluated (gated indices, best item first)
    combo_counts: list[tuple[float, float, int, int]]
    #: conjunctions looked at: every pair (and triple, for order 3) of gated items of
    #: different attributes, evaluated or not; they all belong to the multiple-testing
    #: family, since which of them reach the support to be evaluated depends on the data
    considered: int = 0


def gate(singles: pl.DataFrame, *, gate_share: float) -> list[dict[str, Any]]:
    """The single items that may take part in combinations, best first."""
    rows = singles.filter(
        (pl.col("selection_share") >= gate_share) & (pl.col("lift") >= GATE_LIFT)
    ).sort(["difference", "label"], descending=[True, False])
    return rows.head(MAX_GATED).to_dicts()


def mine(
    singles: pl.DataFrame,
    totals: Totals,
    patterns: Patterns,
    *,
    max_order: int,
    gate_share: float,
    time_attributes: Collection[str] = (),
) -> Mined | None:
    """Count the gated items together; find aliases; list the conjunctions to test."""
    gated = gate(singles, gate_share=gate_share)
    if len(gated) < 2:
        return None
    items = [g["items"][0] for g in gated]
    table = PatternTable.from_frame(patterns(items), len(items))
    n = len(gated)
    attrs = [it["attribute"] for it in items]
    groups = _Groups(n)
    # pairwise overlap of all events (selection + baseline), weighted
    weights = table.sel + table.base
    overlap = table.has.T @ (table.has * weights[:, None])
    size = np.diag(overlap)
    for i in range(n):
        for j in range(i + 1, n):
            union = size[i] + size[j] - overlap[i, j]
            if attrs[i] != attrs[j] and union > 0 and overlap[i, j] / union >= ALIAS_JACCARD:
                groups.union(i, j)
    # the best of each group represents it, but a time range gives way to any other item:
    # "version = '1.5.0'" says why, "after 14:00" only when (a deploy at 14:00 is both)
    timed = [it["attribute"] in time_attributes for it in items]
    members: dict[int, list[int]] = {}
    for i in range(n):
        members.setdefault(groups.find(i), []).append(i)
    representative = {}
    for group in members.values():
        lead = next((i for i in group if not timed[i]), group[0])
        representative.update(dict.fromkeys(group, lead))
    reps = [i for i in range(n) if representative[i] == i]
    n_s = totals.selection_weight
    combos: list[tuple[int, ...]] = []
    counts: list[tuple[float, float, int, int]] = []
    pair_scores: list[tuple[float, tuple[int, int]]] = []
    for x, i in enumerate(reps):
        if max_order < 2:
            break
        s, b, se, be = table.extend([i])
        for j in reps[x + 1 :]:
            if attrs[i] == attrs[j] or s[j] / n_s < gate_share:
                continue
            combos.append((i, j))
            counts.append((float(s[j]), float(b[j]), int(se[j]), int(be[j])))
            diff = s[j] / n_s - b[j] / totals.baseline_weight
            pair_scores.append((diff, (i, j)))
    if max_order >= 3:
        seen: set[frozenset[int]] = set()
        pair_scores.sort(key=lambda t: (-t[0], t[1]))
        for _, (i, j) in pair_scores[:MAX_PAIRS_GROWN]:
            s, b, se, be = table.extend([i, j])
            for k in reps:
                key = frozenset((i, j, k))
                if k in (i, j) or attrs[k] in (attrs[i], attrs[j]) or key in seen:
                    continue
                if s[k] / n_s < gate_share:
                    continue
                seen.add(key)
                combos.append(tuple(sorted((i, j, k))))
                counts.append((float(s[k]), float(b[k]), int(se[k]), int(be[k])))
    return Mined(gated, table, representative, combos, counts, _considered(reps, attrs, max_order))


def _considered(reps: list[int], attrs: list[str], max_order: int) -> int:
    """Pairs (and triples) of the representatives with items of different attributes.

    Examples
    --------
    >>> _considered([0, 1, 2, 3], ["a", "a", "b", "c"], 3)
    7
    """
    per_attribute: dict[str, int] = {}
    for i in reps:
        per_attribute[attrs[i]] = per_attribute.get(attrs[i], 0) + 1
    # elementary symmetric sums of the per-attribute counts: e2 (pairs), e3 (triples)
    e1 = e2 = e3 = 0
    for n in per_attribute.values():
        e3 += e2 * n
        e2 += e1 * n
        e1 += n
    return e2 + (e3 if max_order >= 3 else 0)


def clearly_better(
    candidates: Sequence[tuple[tuple[int, ...], tuple[float, float]]],
    mined: Mined,
    stats: Stats,
    *,
    alpha: float,
    counts: Callable[[tuple[int, ...]], tuple[float, float, int, int]] | None = None,
) -> list[bool]:
    """Whether each conjunction beats each of its parts (see the module docstring).

    ``candidates`` are (members, (selection weight, baseline weight)) pairs; every part of
    every candidate is tested in one vectorised call.
    """
    count = counts or (lambda members: mined.table.counts(members))
    owner: list[int] = []
    part_a: list[float] = []
    part_b: list[float] = []
    for index, (combo, _) in enumerate(candidates):
        for drop in combo:
            a_p, b_p, _, _ = count(tuple(i for i in combo if i != drop))
            owner.append(index)
            part_a.append(a_p)
            part_b.append(b_p)
    at = np.array(owner, dtype=np.intp)  # each part's candidate
    own = np.array([weights for _, weights in candidates], dtype=np.float64).reshape(-1, 2)
    lifts = np.array([stats.lift(a, b) for a, b in own.tolist()], dtype=np.float64)[at]
    part_lifts = np.array([stats.lift(a, b) for a, b in zip(part_a, part_b, strict=True)])
    p = stats.p_within(own[at, 0], own[at, 1], np.array(part_a), np.array(part_b))
    passed = (lifts >= MIN_GAIN * part_lifts) & (p < alpha)
    failures = np.bincount(at[~passed], minlength=len(candidates))
    return [bool(n == 0) for n in failures]
