"""Inputs in every format give the same answer; every output format is well formed."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

import bubbleup
from bubbleup.interfaces.cli import app
from tests.conftest import ROOT

WHERE = "outcome = 'error'"


def _core(result: bubbleup.Result) -> pl.DataFrame:
    return result.explanations.select(
        "label",
        "selection_count",
        "baseline_count",
        "selection_events",
        "baseline_events",
        "p_value",
        "q_value",
    )


@pytest.mark.parametrize("kind", ["csv", "ndjson", "arrow", "dir"])
def test_every_file_format_gives_the_same_answer(tiny: dict[str, Path], kind: str) -> None:
    reference = bubbleup.analyze(tiny["parquet"], where=WHERE)
    other = bubbleup.analyze(tiny[kind], where=WHERE)
    assert_frame_equal(_core(reference), _core(other), check_dtypes=False)


def test_glob_and_list_of_paths(tiny: dict[str, Path]) -> None:
    reference = bubbleup.analyze(tiny["parquet"], where=WHERE)
    globbed = bubbleup.analyze(str(tiny["dir"] / "*.parquet"), where=WHERE)
    listed = bubbleup.analyze(sorted(tiny["dir"].glob("*.parquet")), where=WHERE)
    assert_frame_equal(_core(reference), _core(globbed))
    assert_frame_equal(_core(reference), _core(listed))


def test_in_memory_frames(tiny: dict[str, Path]) -> None:
    frame = pl.read_parquet(tiny["parquet"])
    reference = _core(bubbleup.analyze(frame, where=WHERE))
    for source in (frame.lazy(), frame.to_arrow(), frame.to_pandas()):
        assert_frame_equal(
            reference, _core(bubbleup.analyze(source, where=WHERE)), check_dtypes=False
        )
    by_expr = bubbleup.analyze(frame, where=pl.col("outcome") == "error")
    assert_frame_equal(reference, _core(by_expr))


def test_json_document(runner: CliRunner, tiny: dict[str, Path]) -> None:
    result = runner.invoke(
        app,
        [
            "analyze",
            str(tiny["parquet"]),
            "--where",
            WHERE,
            "--format",
            "json",
            "--top",
            "0",
            "--context",
            "duration_ms",
        ],
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["version"] == 2
    assert doc["selection"]["predicate"] == WHERE
    assert doc["selection"]["events"] + doc["baseline"]["events"] == 3000
    assert doc["weight"] == {"column": "sample_rate", "auto": True}
    assert {x["column"] for x in doc["left_out"]} >= {"outcome", "sample_rate"}
    attrs = {a["attribute"]: a for a in doc["attributes"]}
    assert attrs["version"]["kind"] == "categorical"
    assert attrs["duration_ms"]["binned"] is True
    ops = set()
    for rank, e in enumerate(doc["explanations"], start=1):
        assert e["rank"] == rank
        for key in (
            "selection_count",
            "baseline_count",
            "selection_share",
            "baseline_share",
            "difference",
            "lift",
            "p_value",
            "q_value",
            "significant",
        ):
            assert key in e
        for item in e["items"]:
            ops.add(item["op"])
            if item["op"] == "between":
                assert item["low"] < item["high"]
            elif item["op"] in ("=", "<=", ">"):
                assert "value" in item
    assert {"=", "is_null"} <= ops
    assert ops & {"<=", ">", "between"}
    assert all(isinstance(e["aliases"], list) and "explained_by" in e for e in doc["explanations"])
    assert doc["parameters"]["tested"] >= len(doc["explanations"])
    typed = {
        e["items"][0]["attribute"]: e["items"][0]["value"]
        for e in doc["explanations"]
        if e["items"][0]["op"] == "="
    }
    assert isinstance(typed["memory_mb"], int)
    assert isinstance(typed["flag"], bool)
    assert isinstance(typed["region"], str)


def test_csv_and_markdown(runner: CliRunner, tiny: dict[str, Path]) -> None:
    out = runner.invoke(
        app, ["analyze", str(tiny["csv"]), "--where", WHERE, "-f", "csv", "--top", "5"]
    )
    assert out.exit_code == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == 5
    assert json.loads(rows[0]["items"])[0]["attribute"]
    md = runner.invoke(app, ["analyze", str(tiny["csv"]), "--where", WHERE, "-f", "markdown"])
    assert md.exit_code == 0
    assert "| # | explanation |" in md.stdout


def test_table_output_to_file_is_atomic(
    runner: CliRunner, tiny: dict[str, Path], tmp_path: Path
) -> None:
    target = tmp_path / "out.txt"
    out = runner.invoke(
        app, ["analyze", str(tiny["parquet"]), "--where", WHERE, "--output", str(target)]
    )
    assert out.exit_code == 0, out.stderr
    assert out.stdout == ""
    text = target.read_text()
    assert "selection" in text
    assert "version = 'v3'" in text
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_table_shows_cause_first(runner: CliRunner, tiny: dict[str, Path]) -> None:
    out = runner.invoke(app, ["analyze", str(tiny["parquet"]), "--where", WHERE])
    assert out.exit_code == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if ln.strip().startswith("1 ")]
    assert "version = 'v3'" in lines[0] or "region = 'eu'" in lines[0]
    assert "left out" in out.stdout


def test_columns_command(runner: CliRunner, tiny: dict[str, Path]) -> None:
    out = runner.invoke(app, ["columns", str(tiny["ndjson"]), "--format", "json"])
    assert out.exit_code == 0, out.stderr
    cols = {c["column"]: c for c in json.loads(out.stdout)}
    assert cols["duration_ms"]["kind"] == "numeric (ranges)"
    assert cols["region"]["kind"] == "categorical"
    assert 0 < cols["region"]["missing"] < 0.2
    table = runner.invoke(app, ["columns", str(tiny["parquet"])])
    assert "memory_mb" in table.stdout


def test_version_and_module_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bubbleup", "--version"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert out.stdout.strip() == f"bubbleup {bubbleup.__version__}"


def test_every_command_has_help(runner: CliRunner) -> None:
    for command in ("analyze", "columns"):
        out = runner.invoke(app, [command, "--help"])
        assert out.exit_code == 0
        assert len(out.stdout) > 200
    readme = (ROOT / "README.md").read_text()
    for command in ("analyze", "columns"):
        assert f"bubbleup {command}" in readme


def test_rich_and_html_views(tiny: dict[str, Path]) -> None:
    from rich.console import Console

    result = bubbleup.analyze(tiny["parquet"], where=WHERE)
    console = Console(record=True, width=140, file=io.StringIO())
    console.print(result)
    assert "selection" in console.export_text()
    page = result._repr_html_()
    assert page.startswith("<div class='bubbleup'>")
    assert "<table>" in page
    assert "bubbleup.Result" in repr(result)
