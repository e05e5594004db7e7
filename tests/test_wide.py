"""Many columns: the work per column is constant, so a wide table finishes with the answer.

Timing lives in bench/ (``bench/bench_wide.py``), not here; this checks correctness.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from typer.testing import CliRunner

import bubbleup
from bubbleup.interfaces.cli import app


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_wide_table_gives_the_planted_answer(tmp_path: Path) -> None:
    """3,000 columns (a third of them numbers binned into ranges): it finishes, right."""
    import numpy as np

    rng = np.random.default_rng(7)
    rows = 1500
    error = rng.random(rows) < 0.1
    data: dict[str, object] = {
        "outcome": np.where(error, "error", "ok"),
        "c_planted": np.where(rng.random(rows) < np.where(error, 0.9, 0.05), "bad", "good"),
    }
    for i in range(2999):
        if i % 3 == 2:
            data[f"n{i:05d}"] = np.round(rng.lognormal(5, 1, rows), 2)
        else:
            data[f"c{i:05d}"] = np.char.add("v", rng.integers(0, 2 + i % 11, rows).astype(str))
    path = tmp_path / "wide.parquet"
    pl.DataFrame(data).write_parquet(path)
    result = bubbleup.analyze(str(path), where="outcome = 'error'")
    top = result.explanations.row(0, named=True)
    assert top["label"] == "c_planted = 'bad'"
    assert top["significant"]
    attributes = set(result.attributes["attribute"])
    assert len(attributes) == 3000  # every column measured and counted
    assert result.attributes.row(0, named=True)["attribute"] == "c_planted"
    code, out, err = run("columns", path, "-f", "csv")
    assert code == 0, err
    assert pl.read_csv(out.encode()).height == 3001


def test_binner_table_and_binary_search_agree() -> None:
    """Few numbers are binned by binary search, many through the table: same codes."""
    import numpy as np

    from bubbleup.engines.parquet import _TABLE_FROM, _Binner

    rng = np.random.default_rng(3)
    edges = [*np.sort(rng.normal(0, 50, 15)).tolist(), 0.0, 1e300]
    edges = sorted(set(edges))
    x = np.concatenate(
        [
            rng.normal(0, 80, _TABLE_FROM * 2),
            np.array(edges),
            np.nextafter(np.array(edges), np.inf),
            [np.nan, -0.0, 0.0, np.inf, -np.inf, 5e-324],
        ]
    )
    binner = _Binner(edges)
    many = binner.codes(x)
    assert binner._table is not None  # the table was used
    few = np.concatenate([_Binner(edges).codes(x[i : i + 1000]) for i in range(0, len(x), 1000)])
    assert np.array_equal(many, few)
    assert few[len(x) - 6] == len(edges) + 1  # NaN: the missing code
