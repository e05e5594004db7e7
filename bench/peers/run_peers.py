"""Run the peers (pysubgroup, MacroBase-style FP-growth) on the planted-cause scenarios.

Run with the PEER venv (pysubgroup needs numpy<2)::

    bench/peers/.venv/bin/python bench/peers/run_peers.py --out bench/peers/results/peers.json

Every (scenario, tool) pair runs in a fresh child process (``--child``) so that its peak
RSS is its own; a child is killed after ``--timeout`` seconds and its address space is
capped at ``--mem-gb`` (RLIMIT_AS), so every run is bounded.

Tools (see ``bench/README.md``, section "Peers", for the reasons behind each choice):

``pysubgroup-all``
    The brief's configuration verbatim: ``ps.create_selectors`` on every attribute but
    ``outcome``/``sample_rate`` (nominal: one selector per value; numeric: its default 5
    equal-frequency intervals, nulls get ``attr.isnull()``), ``WRAccQF``, ``ps.Apriori()``
    (its default bitset representation), depth 3, result_set_size 10.
``pysubgroup``
    The same, but selectors covering fewer than 1% of the error rows are dropped before
    the search (the same minimum support the FP-growth baseline uses). This removes the
    ~50k one-row-ish ``customer`` values that make the bitset representation need ~10 GB.
``pysubgroup-sqf0.5``
    As ``pysubgroup`` with ``StandardQF(0.5)`` (favours smaller, purer subgroups).
``fpgrowth-rr``
    The brief's MacroBase-style baseline: itemsets of the error rows by
    ``mlxtend.frequent_patterns.fpgrowth`` (min support 0.01, max_len 3), MacroBase's risk
    ratio against the other rows, kept if ratio >= 3, minimal itemsets only, ranked by
    ratio then support.
``macrobase-lib``
    What MacroBase's ``FPGrowthSummarizer``/``FPGrowthEmerging`` (lib/, Java) actually
    does, re-implemented on mlxtend's FP-growth: an item enters the FP-tree only if it
    alone has support >= 0.01 and risk ratio > 3; itemsets are kept if their ratio >= 3;
    no minimality filter; sorted by outlier count (then longer first), with a subset that
    has the same count as the itemset before it dropped.

Numeric attributes for the two FP-growth tools: more than 24 distinct values -> 10
equal-frequency bins (nulls are their own ``is null`` item); otherwise one item per value.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import harness
from harness import Item

OUTCOME = "outcome"
ERROR = "error"
IGNORE = [OUTCOME, "sample_rate"]
TOOLS = ["pysubgroup-all", "pysubgroup", "pysubgroup-sqf0.5", "fpgrowth-rr", "macrobase-lib"]
MIN_SUPPORT = 0.01
MIN_RATIO = 3.0
MAX_LEN = 3
DEPTH = 3
RESULT_SET_SIZE = 10
MAX_DISTINCT_UNBINNED = 24
BINS = 10
TOP = 5


# --------------------------------------------------------------------------
# pysubgroup
# --------------------------------------------------------------------------


def read_pandas(path: Path) -> Any:
    """Read the Parquet file; string columns as numpy ``object`` (the pandas 2 layout).

    pandas 3 reads strings as its ``str`` dtype, whose ``to_numpy()`` copies; pysubgroup
    calls ``column.to_numpy()`` for every selector, so that copy would dominate its run.
    """
    import pandas as pd

    df = pd.read_parquet(path)
    strings = {c: object for c in df.columns if pd.api.types.is_string_dtype(df[c])}
    return df.astype(strings)


def _pyvalue(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def selector_item(sel: Any) -> Item:
    import pysubgroup as ps

    if isinstance(sel, ps.IntervalSelector):
        return {
            "attribute": sel.attribute_name,
            "op": "range",
            "low": harness.finite_or_none(float(sel.lower_bound)),
            "high": harness.finite_or_none(float(sel.upper_bound)),
        }
    if isinstance(sel, ps.EqualitySelector):
        value = _pyvalue(sel.attribute_value)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return {"attribute": sel.attribute_name, "op": "is_null"}
        return {"attribute": sel.attribute_name, "op": "=", "value": value}
    raise TypeError(f"unexpected selector {sel!r}")


def prune_selectors(df: Any, selectors: list[Any], min_support: float) -> list[Any]:
    """Keep the selectors that cover at least ``min_support`` of the error rows."""
    import pysubgroup as ps

    errors = df[df[OUTCOME] == ERROR]
    need = min_support * len(errors)
    counts: dict[str, dict[Any, int]] = {}
    kept = []
    for sel in selectors:
        column = errors[sel.attribute_name]
        value = getattr(sel, "attribute_value", None)
        if isinstance(sel, ps.EqualitySelector) and isinstance(value, str):
            if sel.attribute_name not in counts:
                counts[sel.attribute_name] = column.value_counts().to_dict()
            n = counts[sel.attribute_name].get(value, 0)
        else:
            n = int(sel.covers(errors).sum())
        if n >= need:
            kept.append(sel)
    return kept


def run_pysubgroup(
    path: Path, *, qf_name: str, prune: bool, nbins: int
) -> tuple[list[list[Item]], list[str], str]:
    import pysubgroup as ps

    df = read_pandas(path)
    target = ps.BinaryTarget(OUTCOME, ERROR)
    selectors = ps.create_selectors(df, nbins=nbins, ignore=IGNORE)
    n_all = len(selectors)
    if prune:
        selectors = prune_selectors(df, selectors, MIN_SUPPORT)
    qf = ps.WRAccQF() if qf_name == "wracc" else ps.StandardQF(0.5)
    task = ps.SubgroupDiscoveryTask(
        df, target, selectors, qf=qf, result_set_size=RESULT_SET_SIZE, depth=DEPTH
    )
    result = ps.Apriori().execute(task)
    explanations = [[selector_item(s) for s in sg.selectors] for _q, sg in result.to_descriptions()]
    tops = [
        f"{harness.label(e)} (q={q:.4g})"
        for e, (q, _sg) in zip(explanations[:TOP], result.to_descriptions(), strict=False)
    ]
    note = f"{len(selectors)} of {n_all} selectors"
    return explanations, tops, note


# --------------------------------------------------------------------------
# MacroBase-style FP-growth
# --------------------------------------------------------------------------


def risk_ratio(
    exposed_inliers: float, exposed_outliers: float, inliers: float, outliers: float
) -> float:
    """MacroBase's ``RiskRatio.compute`` (lib/.../summary/fpg/RiskRatio.java), edge cases too."""
    exposed = exposed_inliers + exposed_outliers
    unexposed_outliers = outliers - exposed_outliers
    unexposed = inliers + outliers - exposed
    if exposed == 0 or unexposed == 0:
        return 0.0
    if unexposed_outliers == 0:
        return math.inf
    return (exposed_outliers / exposed) / (unexposed_outliers / unexposed)


def encode_items(df: Any) -> tuple[list[Item], Any]:
    """One integer code array per attribute and the item each (column, code) stands for.

    Returns the items and an ``(n_rows, n_attributes)`` array of global item ids.
    """
    import numpy as np
    import pandas as pd

    items: list[Item] = []
    id_columns = []
    for name in [c for c in df.columns if c not in IGNORE]:
        col = df[name]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        null = col.isna().to_numpy()
        if numeric and col.nunique(dropna=True) > MAX_DISTINCT_UNBINNED:
            values = col.to_numpy(dtype=float, na_value=np.nan)
            qs = np.nanquantile(values, np.arange(1, BINS) / BINS)
            cuts = np.unique(qs)
            codes = np.searchsorted(cuts, values, side="left")  # bin i = (cuts[i-1], cuts[i]]
            edges = [-math.inf, *cuts.tolist(), math.inf]
            col_items: list[Item] = [
                {
                    "attribute": name,
                    "op": "range",
                    "low": harness.finite_or_none(edges[i]),
                    "high": harness.finite_or_none(edges[i + 1]),
                }
                for i in range(len(cuts) + 1)
            ]
        else:
            codes_, uniques = pd.factorize(col, use_na_sentinel=True)
            codes = np.asarray(codes_)
            col_items = [
                {"attribute": name, "op": "=", "value": _pyvalue(u)} for u in list(uniques)
            ]
        if null.any():
            codes = np.where(null, len(col_items), codes)
            col_items.append({"attribute": name, "op": "is_null"})
        id_columns.append(codes.astype(np.int64) + len(items))
        items.extend(col_items)
    return items, np.column_stack(id_columns)


def run_fpgrowth(path: Path, *, variant: str) -> tuple[list[list[Item]], list[str], str]:
    import numpy as np
    import pandas as pd
    from mlxtend.frequent_patterns import fpgrowth

    df = pd.read_parquet(path)
    outlier = (df[OUTCOME] == ERROR).to_numpy()
    items, ids = encode_items(df)
    n_items = len(items)
    n_out, n_in = int(outlier.sum()), int((~outlier).sum())
    out_counts = np.bincount(ids[outlier].ravel(), minlength=n_items)
    in_counts = np.bincount(ids[~outlier].ravel(), minlength=n_items)

    def ratio_of(in_count: float, out_count: float) -> float:
        return risk_ratio(in_count, out_count, n_in, n_out)

    if variant == "fpgrowth-rr":
        frequent = out_counts >= MIN_SUPPORT * n_out
    else:  # macrobase-lib: each item must pass support (int count) and ratio > 3 alone
        need = int(n_out * MIN_SUPPORT)
        frequent = np.array(
            [
                out_counts[i] >= need and ratio_of(in_counts[i], out_counts[i]) > MIN_RATIO
                for i in range(n_items)
            ],
            dtype=bool,
        )
    kept = np.flatnonzero(frequent)
    # one-hot of the error rows over the kept items only (the others cannot be frequent)
    onehot_out = np.zeros((n_out, len(kept)), dtype=bool)
    onehot_in = np.zeros((n_in, len(kept)), dtype=bool)
    pos = {int(item): j for j, item in enumerate(kept)}
    column_of = np.full(n_items, -1, dtype=np.int64)
    column_of[kept] = np.arange(len(kept))
    for rows, target in ((ids[outlier], onehot_out), (ids[~outlier], onehot_in)):
        for k in range(rows.shape[1]):
            col = column_of[rows[:, k]]
            hit = col >= 0
            target[np.flatnonzero(hit), col[hit]] = True
    if len(kept):
        fi = fpgrowth(
            pd.DataFrame(onehot_out, columns=[str(i) for i in kept]),
            min_support=MIN_SUPPORT,
            use_colnames=True,
            max_len=MAX_LEN,
        )
        itemsets = [
            (frozenset(int(x) for x in s), round(sup * n_out))
            for s, sup in zip(fi["itemsets"], fi["support"], strict=True)
        ]
    else:
        itemsets = []

    def inlier_count(itemset: frozenset[int]) -> int:
        cols = [pos[i] for i in itemset]
        return int(np.count_nonzero(np.logical_and.reduce(onehot_in[:, cols], axis=1)))

    if variant == "fpgrowth-rr":
        scored = {}
        for s, a in itemsets:
            b = in_counts[next(iter(s))] if len(s) == 1 else inlier_count(s)
            scored[s] = (ratio_of(b, a), a)
        qualifying = {s for s, (r, _a) in scored.items() if r >= MIN_RATIO}
        minimal = [
            s
            for s in qualifying
            if not any(frozenset(sub) in qualifying for sub in _proper_subsets(s))
        ]
        minimal.sort(key=lambda s: (-scored[s][0], -scored[s][1], sorted(s)))
        ordered = [(s, *scored[s]) for s in minimal]
        note = f"{len(kept)} items, {len(itemsets)} frequent itemsets, {len(qualifying)} ratio>=3"
    else:
        # FPGrowthEmerging: sort by count desc then size desc; skip a subset of the previous
        # itemset with the same count; singletons passed the ratio already.
        itemsets.sort(key=lambda t: (-t[1], -len(t[0]), sorted(t[0])))
        out: list[tuple[frozenset[int], float, int]] = []
        prev: frozenset[int] | None = None
        prev_count = -1
        for s, a in itemsets:
            if a == prev_count and prev is not None and s <= prev:
                continue
            prev, prev_count = s, a
            b = in_counts[next(iter(s))] if len(s) == 1 else inlier_count(s)
            r = ratio_of(b, a)
            if len(s) == 1 or r >= MIN_RATIO:
                out.append((s, r, a))
        out.sort(key=lambda t: (-t[2], -len(t[0])))
        ordered = out
        note = f"{len(kept)} items pass support and ratio alone, {len(itemsets)} itemsets"
    explanations = [[items[i] for i in sorted(s)] for s, _r, _a in ordered]
    tops = [
        f"{harness.label(items_)} (rr={r:.3g}, n_out={a})"
        for items_, (_s, r, a) in zip(explanations[:TOP], ordered, strict=False)
    ]
    return explanations, tops, note


def _proper_subsets(s: frozenset[int]) -> Iterable[tuple[int, ...]]:
    from itertools import combinations

    for k in range(1, len(s)):
        yield from combinations(sorted(s), k)


# --------------------------------------------------------------------------
# Child and parent
# --------------------------------------------------------------------------


def child(tool: str, scenario: str, data: Path, nbins: int, mem_gb: float | None) -> None:
    harness.limit_memory(mem_gb)
    import mlxtend.frequent_patterns  # noqa: F401  (imports outside the timed section)
    import pandas  # noqa: F401
    import pysubgroup  # noqa: F401

    cause = harness.load_causes(data)[scenario]
    path = data / f"{scenario}.parquet"
    runners: dict[str, Callable[[], tuple[list[list[Item]], list[str], str]]] = {
        "pysubgroup-all": lambda: run_pysubgroup(path, qf_name="wracc", prune=False, nbins=nbins),
        "pysubgroup": lambda: run_pysubgroup(path, qf_name="wracc", prune=True, nbins=nbins),
        "pysubgroup-sqf0.5": lambda: run_pysubgroup(path, qf_name="sqf", prune=True, nbins=nbins),
        "fpgrowth-rr": lambda: run_fpgrowth(path, variant="fpgrowth-rr"),
        "macrobase-lib": lambda: run_fpgrowth(path, variant="macrobase-lib"),
    }
    t0 = time.perf_counter()
    try:
        explanations, tops, note = runners[tool]()
    except MemoryError:
        harness.emit(
            {
                "status": "oom",
                "seconds": time.perf_counter() - t0,
                "note": f"MemoryError under the {mem_gb:g} GB address-space cap",
            }
        )
        return
    seconds = time.perf_counter() - t0
    harness.emit(
        {
            "status": "ok",
            "rank": harness.rank_of(explanations, cause),
            "reported": len(explanations),
            "seconds": seconds,
            "top": tops,
            "note": note,
        }
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=harness.DATA)
    parser.add_argument("--scenarios", nargs="*", default=harness.SCENARIOS)
    parser.add_argument("--tools", nargs="*", default=TOOLS, choices=TOOLS)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--mem-gb", type=float, default=8.0, help="address-space cap per run")
    parser.add_argument("--nbins", type=int, default=5, help="pysubgroup numeric bins")
    parser.add_argument("--out", type=Path, default=None, help="JSON results (default stdout)")
    parser.add_argument("--child", nargs=2, metavar=("TOOL", "SCENARIO"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], args.data, args.nbins, args.mem_gb)
        return
    results = []
    for scenario in args.scenarios:
        for tool in args.tools:
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                tool,
                scenario,
                "--data",
                str(args.data),
                "--nbins",
                str(args.nbins),
                "--mem-gb",
                str(args.mem_gb),
            ]
            r = harness.run_child(cmd, scenario=scenario, tool=tool, timeout=args.timeout)
            secs = "-" if r.seconds is None else f"{r.seconds:.1f}s"
            print(
                f"{scenario:10} {tool:18} rank={r.rank_text():22} {secs:>8} "
                f"{r.peak_mb or 0:8.0f} MB  {r.note}",
                file=sys.stderr,
                flush=True,
            )
            results.append(r)
    harness.write_results(results, args.out)


if __name__ == "__main__":
    main()
