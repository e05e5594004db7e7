"""Run bubbleup and the peers on the planted-cause scenarios and print one table.

Any Python 3.11+ runs it (standard library only); it calls the two runners with their own
venvs::

    python3 bench/peers/compare.py                      # 200k rows, every tool
    python3 bench/peers/compare.py --no-run             # reprint the saved results
    python3 bench/peers/compare.py --data bench/peers/data/1m --tag 1m \\
        --peer-tools pysubgroup fpgrowth-rr macrobase-lib

Results go to ``bench/peers/results/<tag>_{bubbleup,peers}.json``; the table is Markdown:
one row per scenario, one column per tool, each cell ``rank · seconds · peak MB`` (rank of
the planted cause, 1-based; "not found (of N)" when none of the N reported explanations is
the cause).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import harness

REPO = harness.HERE.parent.parent
MAIN_VENV = REPO / ".venv"
PEER_VENV = harness.HERE / ".venv"
RESULTS = harness.HERE / "results"
TOOL_ORDER = [
    "bubbleup",
    "pysubgroup-all",
    "pysubgroup",
    "pysubgroup-sqf0.5",
    "fpgrowth-rr",
    "macrobase-lib",
]


def cell(r: harness.RunResult) -> str:
    secs = "–" if r.seconds is None else f"{r.seconds:.1f} s"
    mb = "–" if r.peak_mb is None else f"{r.peak_mb:.0f} MB"
    return f"{r.rank_text()} · {secs} · {mb}"


def table(results: list[harness.RunResult]) -> str:
    tools = [t for t in TOOL_ORDER if any(r.tool == t for r in results)]
    tools += sorted({r.tool for r in results} - set(tools))
    scenarios = [s for s in harness.SCENARIOS if any(r.scenario == s for r in results)]
    by_key = {(r.scenario, r.tool): r for r in results}
    lines = [
        "| scenario | " + " | ".join(tools) + " |",
        "|---|" + "---|" * len(tools),
    ]
    for s in scenarios:
        cells = [cell(by_key[s, t]) if (s, t) in by_key else "" for t in tools]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def details(results: list[harness.RunResult]) -> str:
    out = []
    for r in results:
        if r.rank != 1:
            top = "; ".join(r.top[:3]) if r.top else "-"
            out.append(f"- {r.scenario} / {r.tool}: {r.rank_text()}; {r.note}; top: {top}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=harness.DATA)
    parser.add_argument("--tag", default="200k")
    parser.add_argument("--scenarios", nargs="*", default=harness.SCENARIOS)
    parser.add_argument("--peer-tools", nargs="*", default=None, help="default: all")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--mem-gb", type=float, default=8.0, help="peer address-space cap")
    parser.add_argument("--no-run", action="store_true", help="only print saved results")
    args = parser.parse_args(argv)

    bub_json = RESULTS / f"{args.tag}_bubbleup.json"
    peer_json = RESULTS / f"{args.tag}_peers.json"
    if not args.no_run:
        common = ["--data", str(args.data), "--timeout", str(args.timeout)]
        common += ["--scenarios", *args.scenarios]
        subprocess.run(
            [
                harness.python_of_venv(MAIN_VENV),
                str(harness.HERE / "run_bubbleup.py"),
                *common,
                "--out",
                str(bub_json),
            ],
            check=True,
        )
        peer_cmd = [
            harness.python_of_venv(PEER_VENV),
            str(harness.HERE / "run_peers.py"),
            *common,
            "--mem-gb",
            str(args.mem_gb),
            "--out",
            str(peer_json),
        ]
        if args.peer_tools:
            peer_cmd += ["--tools", *args.peer_tools]
        subprocess.run(peer_cmd, check=True)
    results = [*harness.read_results(bub_json), *harness.read_results(peer_json)]
    print(table(results))
    print()
    print(details(results))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
