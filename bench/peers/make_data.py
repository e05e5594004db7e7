"""Write the planted-cause scenarios of ``tests/planted.py`` to Parquet for the peer benchmark.

Run with the project venv (it needs numpy 2 / polars like the tests)::

    .venv/bin/python bench/peers/make_data.py            # n=200_000 -> bench/peers/data/
    .venv/bin/python bench/peers/make_data.py --n 1000000 --out bench/peers/data/1m

Each scenario ``<name>`` becomes ``<out>/<name>.parquet``; ``<out>/causes.json`` maps every
scenario to its planted items (``[attribute, op, value]``), the alias items that describe
exactly the same events (``equivalents``; the ``alias`` scenario only: the other name, and
both names together), the row count and the seed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SCENARIOS = ["single", "pair", "triple", "customer", "threshold", "missing", "alias", "sampling"]
#: Other item sets that select exactly the planted events (same rows, other names).
EQUIVALENTS: dict[str, list[list[list[Any]]]] = {
    "alias": [
        [["node_pool", "=", "pool-c"]],
        [["kernel", "=", "6.1"], ["node_pool", "=", "pool-c"]],
    ]
}


def load_planted() -> ModuleType:
    """Import ``tests/planted.py`` by path (``tests`` need not be importable as a package)."""
    path = REPO / "tests" / "planted.py"
    spec = importlib.util.spec_from_file_location("planted", path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["planted"] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="events before sampling")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "data")
    parser.add_argument("--scenarios", nargs="*", default=SCENARIOS)
    args = parser.parse_args(argv)

    planted = load_planted()
    args.out.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256((REPO / "tests" / "planted.py").read_bytes()).hexdigest()[:12]
    causes: dict[str, Any] = {}
    for name in args.scenarios:
        frame, cause = planted.scenario(name, n=args.n, seed=args.seed)
        path = args.out / f"{name}.parquet"
        frame.write_parquet(path)
        errors = int((frame["outcome"] == "error").sum())
        causes[name] = {
            "items": sorted([list(item) for item in cause], key=str),
            "equivalents": EQUIVALENTS.get(name, []),
            "rows": frame.height,
            "errors": errors,
            "n": args.n,
            "seed": args.seed,
            "planted_py_sha256": digest,
        }
        print(f"{path}: {frame.height} rows, {errors} errors, cause {sorted(cause, key=str)}")
    (args.out / "causes.json").write_text(json.dumps(causes, indent=2) + "\n")


if __name__ == "__main__":
    main()
