"""Run bubbleup on the planted-cause scenarios (same files and matching as the peers).

Run with the project venv::

    .venv/bin/python bench/peers/run_bubbleup.py --out bench/peers/results/bubbleup.json

Each scenario runs in a fresh child process (``--child``): ``bubbleup.analyze(path,
where="outcome = 'error'")`` with every default (so the ``sample_rate`` column of the
``sampling`` scenario is used as the weight), then the rank of the planted cause among
``result.to_dict()["explanations"]``; an explanation whose ``aliases`` hold the planted
label (or whose label is the planted alias) counts as the cause too.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import harness
from harness import Item

WHERE = "outcome = 'error'"
TOOL = "bubbleup"
TOP = 5


def normalise(item: dict[str, Any]) -> Item:
    """bubbleup's JSON item -> the benchmark's item form."""
    a, op = item["attribute"], item["op"]
    if op == "=":
        return {"attribute": a, "op": "=", "value": item["value"]}
    if op == "is_null":
        return {"attribute": a, "op": "is_null"}
    if op == "<=":
        return {"attribute": a, "op": "range", "low": None, "high": item["value"]}
    if op == ">":
        return {"attribute": a, "op": "range", "low": item["value"], "high": None}
    if op == "between":
        return {"attribute": a, "op": "range", "low": item["low"], "high": item["high"]}
    raise ValueError(f"unknown op {op!r}")


def planted_labels(cause: dict[str, Any]) -> set[str]:
    """bubbleup's labels of the planted items (``attr = 'v'``), for the ``aliases`` check."""
    out = set()
    for group in [cause["items"], *(cause.get("equivalents") or [])]:
        if len(group) == 1 and group[0][1] == "=":
            out.add(f"{group[0][0]} = '{group[0][2]}'")
    return out


def child(scenario: str, data: Path) -> None:
    import bubbleup

    cause = harness.load_causes(data)[scenario]
    path = data / f"{scenario}.parquet"
    t0 = time.perf_counter()
    result = bubbleup.analyze(str(path), where=WHERE)
    doc = result.to_dict()
    seconds = time.perf_counter() - t0
    explanations = doc["explanations"]
    labels = planted_labels(cause)
    rank = None
    for i, e in enumerate(explanations):
        items = [normalise(x) for x in e["items"]]
        if harness.matches(items, cause) or labels & set(e.get("aliases") or []):
            rank = i + 1
            break
    tops = [
        f"{e['label']} (lift={e.get('lift', float('nan')):.3g}"
        f"{', sig' if e.get('significant') else ''})"
        for e in explanations[:TOP]
    ]
    harness.emit(
        {
            "status": "ok",
            "rank": rank,
            "reported": len(explanations),
            "seconds": seconds,
            "top": tops,
            "note": f"weight={doc['weight']['column']}",
        }
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=harness.DATA)
    parser.add_argument("--scenarios", nargs="*", default=harness.SCENARIOS)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--out", type=Path, default=None, help="JSON results (default stdout)")
    parser.add_argument("--child", metavar="SCENARIO", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.data)
        return
    results = []
    for scenario in args.scenarios:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            scenario,
            "--data",
            str(args.data),
        ]
        r = harness.run_child(cmd, scenario=scenario, tool=TOOL, timeout=args.timeout)
        secs = "-" if r.seconds is None else f"{r.seconds:.1f}s"
        print(
            f"{scenario:10} {TOOL:18} rank={r.rank_text():22} {secs:>8} "
            f"{r.peak_mb or 0:8.0f} MB  {r.top[:1]}",
            file=sys.stderr,
            flush=True,
        )
        results.append(r)
    harness.write_results(results, args.out)


if __name__ == "__main__":
    main()
