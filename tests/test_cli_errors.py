"""Bad input: one line ``Error: ...`` on stderr, the right exit code, no traceback."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from bubbleup.interfaces.cli import app


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def assert_error(code: int, stderr: str, expected_code: int, fragment: str) -> None:
    assert code == expected_code, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    assert fragment in lines[0], stderr
    assert "Traceback" not in stderr


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bad") / "events.parquet"
    pl.DataFrame(
        {
            "status": ["ok", "ok", "error", "ok", None],
            "duration_ms": [10, 20, 300, 15, 12],
            "region": ["us", "eu", "us", "eu", "us"],
            "weight_text": ["1", "2", "3", "4", "5"],
            "neg": [1, -1, 1, 1, 1],
        }
    ).write_parquet(path)
    return path


def test_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    code, _, err = run(runner, "analyze", tmp_path / "nope.parquet", "--where", "a = 1")
    assert_error(code, err, 1, f"file not found: {tmp_path / 'nope.parquet'}")


def test_corrupt_parquet(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "corrupt.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    code, _, err = run(runner, "analyze", path, "--where", "a = 1")
    assert_error(code, err, 1, f"could not read {path}")


def test_truncated_parquet(runner: CliRunner, events: Path, tmp_path: Path) -> None:
    path = tmp_path / "truncated.parquet"
    path.write_bytes(events.read_bytes()[:-40])
    code, _, err = run(runner, "analyze", path, "--where", "status = 'error'")
    assert_error(code, err, 1, "could not read")


def test_unreadable_file(runner: CliRunner, events: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root reads everything: simulate with a directory named .parquet
        path = tmp_path / "dir.parquet"
        path.mkdir()
        code, _, err = run(runner, "analyze", path, "--where", "a = 1")
        assert_error(code, err, 1, "has no event files")
        return
    path = tmp_path / "locked.parquet"
    path.write_bytes(events.read_bytes())
    path.chmod(0)
    code, _, err = run(runner, "analyze", path, "--where", "status = 'error'")
    assert_error(code, err, 1, "could not read")


def test_unknown_file_type(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "events.xlsx"
    path.write_text("x")
    code, _, err = run(runner, "analyze", path, "--where", "a = 1")
    assert_error(code, err, 1, "unknown file type '.xlsx'")


def test_not_what_the_extension_says(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    path.write_text("status,duration\nok,1\n")
    code, _, err = run(runner, "analyze", path, "--where", "status = 'ok'")
    assert_error(code, err, 1, "could not read")


def test_unknown_column_did_you_mean(runner: CliRunner, events: Path) -> None:
    code, _, err = run(runner, "analyze", events, "--where", "stauts = 'error'")
    assert_error(code, err, 1, "column 'stauts' in --where not found; did you mean 'status'?")


def test_double_quoted_string_hint(runner: CliRunner, events: Path) -> None:
    code, _, err = run(runner, "analyze", events, "--where", 'status = "error"')
    assert_error(code, err, 1, "text values take single quotes")


def test_malformed_predicate(runner: CliRunner, events: Path) -> None:
    code, _, err = run(runner, "analyze", events, "--where", "status = = 'error'")
    assert_error(code, err, 1, "malformed --where predicate \"status = = 'error'\"")


def test_non_boolean_predicate(runner: CliRunner, events: Path) -> None:
    code, _, err = run(runner, "analyze", events, "--where", "duration_ms")
    assert_error(code, err, 1, "--where predicate 'duration_ms' gives Int64 values, not true/false")


def test_empty_selection(runner: CliRunner, events: Path) -> None:
    code, _, err = run(runner, "analyze", events, "--where", "status = 'nope'")
    assert_error(code, err, 1, "the selection is empty: no event matches \"status = 'nope'\"")


def test_empty_baseline(runner: CliRunner, events: Path) -> None:
    code, _, err = run(
        runner, "analyze", events, "--where", "status = 'error'", "--baseline", "region = 'mars'"
    )
    assert_error(code, err, 1, "the baseline is empty")


def test_selection_covers_everything(runner: CliRunner, events: Path) -> None:
    code, _, err = run(runner, "analyze", events, "--where", "duration_ms > 0")
    assert_error(code, err, 1, "the selection covers every event")


def test_zero_rows(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    pl.DataFrame(schema={"status": pl.String, "x": pl.Int64}).write_parquet(path)
    code, _, err = run(runner, "analyze", path, "--where", "status = 'error'")
    assert_error(code, err, 1, "no events to analyse")


def test_weight_missing(runner: CliRunner, events: Path) -> None:
    code, _, err = run(
        runner, "analyze", events, "--where", "status = 'error'", "--weight", "sample_rat"
    )
    assert_error(code, err, 1, "weight column 'sample_rat' not found")


def test_weight_not_numeric(runner: CliRunner, events: Path) -> None:
    code, _, err = run(
        runner, "analyze", events, "--where", "status = 'error'", "--weight", "weight_text"
    )
    assert_error(code, err, 1, "weight column 'weight_text' is String, not numeric")


def test_weight_negative(runner: CliRunner, events: Path) -> None:
    code, _, err = run(runner, "analyze", events, "--where", "status = 'error'", "--weight", "neg")
    assert_error(code, err, 1, "weight column 'neg' has negative values (minimum -1)")


def test_weight_and_no_weight_is_usage_error(runner: CliRunner, events: Path) -> None:
    code, _, err = run(
        runner, "analyze", events, "--where", "status = 'error'", "--weight", "neg", "--no-weight"
    )
    assert_error(code, err, 2, "--weight and --no-weight exclude each other")


def test_bad_alpha_is_usage_error(runner: CliRunner, events: Path) -> None:
    code, _, err = run(runner, "analyze", events, "--where", "status = 'error'", "--alpha", "2")
    assert_error(code, err, 2, "--alpha must be between 0 and 1")


def test_unknown_column_in_columns_option(runner: CliRunner, events: Path) -> None:
    code, _, err = run(
        runner, "analyze", events, "--where", "status = 'error'", "--columns", "regoin"
    )
    assert_error(code, err, 1, "column 'regoin' in --columns not found; did you mean 'region'?")


def test_missing_where_is_usage_error(runner: CliRunner, events: Path) -> None:
    result = runner.invoke(app, ["analyze", str(events)])
    assert result.exit_code == 2
    assert "--where" in result.stderr


def test_output_over_input_refused(runner: CliRunner, events: Path) -> None:
    before = events.read_bytes()
    code, _, err = run(
        runner,
        "analyze",
        events,
        "--where",
        "status = 'error'",
        "--format",
        "json",
        "--output",
        events,
    )
    assert_error(code, err, 1, "is an input file")
    assert events.read_bytes() == before


def test_output_in_missing_directory(runner: CliRunner, events: Path, tmp_path: Path) -> None:
    target = tmp_path / "nope" / "out.json"
    code, _, err = run(
        runner,
        "analyze",
        events,
        "--where",
        "status = 'error'",
        "--format",
        "json",
        "--output",
        target,
    )
    assert_error(code, err, 1, "does not exist")
    assert not target.parent.exists()


def test_columns_command_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    code, _, err = run(runner, "columns", tmp_path / "x.csv")
    assert_error(code, err, 1, "file not found")
