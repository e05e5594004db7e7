"""Bad input when reading: one line ``Error: ...`` naming the file (and line), exit code 1."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import bubbleup
from bubbleup.interfaces.cli import app
from tests.test_cli_errors import assert_error, run

LINES = [
    '{"status": "ok", "region": "us", "n": 1}',
    '{"status": "error", "region": "eu", "n": 2}',
    '{"status": "ok", "region": "eu", "n": oops}',
    '{"status": "ok", "region": "us", "n": 4}',
    "",
    '["not", "an", "object"]',
    '{"status": "error", "region": "eu", "n": 6}',
    '{"status": "ok", "region": "us", "n": 7}',
]


@pytest.fixture
def bad_ndjson(tmp_path: Path) -> Path:
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(LINES) + "\n")
    return path


def test_malformed_json_line_names_file_and_line(runner: CliRunner, bad_ndjson: Path) -> None:
    code, _, err = run(runner, "analyze", bad_ndjson, "--where", "status = 'error'")
    assert_error(
        code,
        err,
        1,
        (
            f"Error: {bad_ndjson} line 3 is not valid NDJSON (Expecting value at column 39): "
            '\'{"status": "ok", "region": "eu", "n": oops}\'; fix the line or pass '
            "--skip-bad-lines to skip such lines"
        ),
    )


def test_malformed_line_in_compressed_file(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson.gz"
    path.write_bytes(gzip.compress(("\n".join([*LINES[:2], "{truncated"]) + "\n").encode()))
    code, _, err = run(runner, "columns", path)
    assert_error(
        code,
        err,
        1,
        f"{path} line 3 is not valid NDJSON (Expecting property name "
        "enclosed in double quotes at column 2)",
    )


def test_skip_bad_lines_skips_counts_and_reports(runner: CliRunner, bad_ndjson: Path) -> None:
    out = runner.invoke(
        app,
        [
            "analyze",
            str(bad_ndjson),
            "--where",
            "status = 'error'",
            "--skip-bad-lines",
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 0, out.stderr
    assert out.stderr.strip() == (f"Warning: skipped 2 malformed lines ({bad_ndjson}: 2)")
    doc = json.loads(out.stdout)
    assert doc["skipped_lines"] == {str(bad_ndjson): 2}
    assert doc["scope"]["events"] == 5
    table = runner.invoke(
        app, ["analyze", str(bad_ndjson), "--where", "status = 'error'", "--skip-bad-lines"]
    )
    assert "skipped  2 malformed lines" in table.stdout
    result = bubbleup.analyze(bad_ndjson, where="status = 'error'", skip_bad_lines=True)
    assert result.skipped_lines == {str(bad_ndjson): 2}
    assert result.totals.selection_events == 2


def test_only_bad_lines(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "junk.jsonl"
    path.write_text("{oops\n{nope\n")
    code, _, err = run(runner, "analyze", path, "--where", "a = 1", "--skip-bad-lines")
    assert_error(
        code,
        err,
        1,
        f"{path} has no valid NDJSON line (2 malformed, the first at "
        "line 1: Expecting property name enclosed in double quotes at column 2)",
    )


def test_empty_directory(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.txt").write_text("no events here")
    code, _, err = run(runner, "analyze", tmp_path / "empty", "--where", "a = 1")
    assert_error(
        code,
        err,
        1,
        f"Error: directory {tmp_path / 'empty'} has no event files "
        "(.parquet, .csv, .ndjson, .arrow; CSV and NDJSON may end in .gz or .zst)",
    )


def test_glob_matching_nothing(runner: CliRunner, tmp_path: Path) -> None:
    pattern = str(tmp_path / "*.parquet")
    code, _, err = run(runner, "analyze", pattern, "--where", "a = 1")
    assert_error(
        code,
        err,
        1,
        f"Error: no files match {pattern}; check the pattern (and quote "
        "it so that the shell does not expand it)",
    )


@pytest.mark.parametrize(
    ("name", "what"),
    [("events.csv.bz2", "bzip2"), ("events.ndjson.xz", "xz"), ("logs.jsonl.lz4", "lz4")],
)
def test_unsupported_compression(runner: CliRunner, tmp_path: Path, name: str, what: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"whatever")
    code, _, err = run(runner, "analyze", path, "--where", "a = 1")
    assert_error(
        code,
        err,
        1,
        f"Error: unsupported compression {what} for {path}; decompress "
        "it or recompress it with gzip (.gz) or zstd (.zst)",
    )


def test_compressed_parquet_refused(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "events.parquet.gz"
    path.write_bytes(gzip.compress(b"PAR1"))
    code, _, err = run(runner, "columns", path)
    assert_error(code, err, 1, f"{path}: a compressed Parquet file is not read; decompress it")


def test_gz_name_but_not_gzip(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson.gz"
    path.write_text('{"a": 1}\n')
    code, _, err = run(runner, "analyze", path, "--where", "a = 1")
    assert_error(
        code,
        err,
        1,
        f"Error: could not read {path}: the name says gzip but the "
        "content is not gzip-compressed; rename the file to match its content",
    )


def test_plain_name_but_gzip_content(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    code, _, err = run(runner, "analyze", path, "--where", "a = 1")
    assert_error(
        code,
        err,
        1,
        f"Error: could not read {path}: the name says CSV but the file "
        f"looks like gzip-compressed; name it {path}.gz",
    )


def test_zst_name_but_parquet_content(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "events.csv.zst"
    pl.DataFrame({"a": [1]}).write_parquet(path)
    code, _, err = run(runner, "analyze", path, "--where", "a = 1")
    assert_error(
        code,
        err,
        1,
        f"Error: could not read {path}: the name says zstd but the "
        "content is not zstd-compressed (it looks like a Parquet file)",
    )


def test_ndjson_name_but_csv_content(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text("status,region\nok,us\n")
    code, _, err = run(runner, "analyze", path, "--where", "status = 'ok'")
    assert_error(
        code,
        err,
        1,
        f"Error: could not read {path}: the name says NDJSON but the "
        "file does not start with a JSON object (it starts with 'status,region'); "
        "rename it to match its content",
    )


def test_parquet_name_but_arrow_content(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    pl.DataFrame({"a": [1]}).write_ipc(path)
    code, _, err = run(runner, "analyze", path, "--where", "a = 1")
    assert_error(
        code,
        err,
        1,
        f"Error: could not read {path}: it is not a Parquet file (it "
        "looks like an Arrow IPC file); is it a valid, complete file?",
    )


def test_attribute_type_differs_across_files(runner: CliRunner, tmp_path: Path) -> None:
    pl.DataFrame({"status": ["ok"], "code": [200]}).write_parquet(tmp_path / "a.parquet")
    pl.DataFrame({"status": ["ok"], "code": ["E42"]}).write_parquet(tmp_path / "b.parquet")
    code, _, err = run(runner, "analyze", tmp_path, "--where", "status = 'ok'")
    assert_error(
        code,
        err,
        1,
        f"Error: column 'code' has different types in different files: "
        f"Int64 in {tmp_path / 'a.parquet'}, String in {tmp_path / 'b.parquet'}; "
        "make the files agree (or read them separately)",
    )


def test_attribute_type_differs_across_csv_and_ndjson(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("status,flag\nok,1\n")
    (tmp_path / "b.ndjson").write_text('{"status": "ok", "flag": true}\n')
    code, _, err = run(runner, "columns", tmp_path / "a.csv", tmp_path / "b.ndjson")
    assert_error(
        code,
        err,
        1,
        "column 'flag' has different types in different files: Int64 "
        f"in {tmp_path / 'a.csv'}, Boolean in {tmp_path / 'b.ndjson'}",
    )


def test_otlp_and_plain_events_not_mixed(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "a.ndjson").write_text('{"status": "ok"}\n')
    (tmp_path / "b.json").write_text('{"resourceSpans": []}\n')
    code, _, err = run(runner, "columns", tmp_path)
    assert_error(
        code,
        err,
        1,
        "Error: the source mixes OTLP spans and plain events; read each kind of file separately",
    )
