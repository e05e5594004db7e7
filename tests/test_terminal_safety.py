"""Text from the data or the user reaches a person escaped and cut; JSON and CSV stay exact.

A data set whose values, column names and file name hold terminal escape sequences (clear
screen, an OSC 0 window title, an OSC 8 hyperlink), a bidi override, rich markup and an
emoji code, plus one 1 MB value, goes through every human-facing view.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import bubbleup
from bubbleup.interfaces.cli import app
from bubbleup.outputs import render
from bubbleup.printable import printable

ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x1b]8;;http://evil.example\x07click\x1b]8;;\x07"
BIDI = ":x: \u202egnp.exe"
TITLE_COLUMN = "ti\x1b]0;t\x07tle"
LONG = 1_000_000
RAW = ("\x1b", "\x07", "\u202e", "\x9b")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("esc") / "ev\x1b]0;file\x07.parquet"
    n = 400
    bad = [i % 10 == 3 for i in range(n)]

    # each value is in 50-80% of the selected events, none in the same ones: explanations,
    # not restatements, and not aliases of one another
    def has(share: int) -> list[bool]:
        return [b and (i // 10) % 10 < share for i, b in enumerate(bad)]

    pl.DataFrame(
        {
            "status": ["error" if b else "ok" for b in bad],
            "payload": [ESCAPES if h else "plain" for h in has(8)],
            "[/]col": [BIDI if h else "b" for h in has(7)],
            TITLE_COLUMN: ["y" if h else "n" for h in has(6)],
            "longv": ["L" * LONG if h else "s" for h in has(5)],
        }
    ).write_parquet(path)
    return path


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def assert_safe(text: str) -> None:
    for ch in RAW:
        assert ch not in text, f"raw {ch!r} reached the output"
    assert "❌" not in text  # :x: is not an emoji code here
    assert "Traceback" not in text
    assert "╭─" not in text


@pytest.fixture(scope="module")
def long_value(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("long") / "long.parquet"
    n = 400
    pl.DataFrame(
        {
            "status": ["error" if i % 10 == 3 else "ok" for i in range(n)],
            "longv": [
                "L" * LONG if i % 10 == 3 and (i // 10) % 5 != 0 else f"s{i % 7}" for i in range(n)
            ],
        }
    ).write_parquet(path)
    return path


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_analyze_views_escape(hostile: Path, fmt: str) -> None:
    code, out, err = run("analyze", hostile, "--where", "status = 'error'", "-f", fmt)
    assert code == 0, err
    assert_safe(out + err)
    assert "\"[/]col\" = ':x: \\u202egnp.exe'" in out
    assert "\\x1b]0;file\\x07.parquet" in out  # the file name in the header
    if fmt == "table":  # the other hostile columns, in their own explanations
        assert "\\x1b[2J\\x1b]0;pwned\\x07" in out
        assert "\"ti\\x1b]0;t\\x07tle\" = 'y'" in out


@pytest.mark.parametrize("fmt", ["table", "markdown", "html"])
def test_analyze_views_cut_long_values(long_value: Path, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"out.{fmt}"
    code, _, err = run(
        "analyze", long_value, "--where", "status = 'error'", "-f", fmt, "-o", target
    )
    assert code == 0, err
    text = target.read_text()
    assert "L" * LONG not in text
    label = f"longv = '{'L' * LONG}'"
    marker = f"…(+{len(label) - render.LABEL_CHARS:,} chars)"
    if fmt == "table":  # the cell wraps: compare without the table's lines and spaces
        assert marker.replace(" ", "") in "".join(text.replace("│", "").split())
    else:
        assert marker in text
    assert len(text) < LONG / 2


def test_json_and_csv_keep_the_data_exact(hostile: Path) -> None:
    code, out, _ = run("analyze", hostile, "--where", "status = 'error'", "-f", "json")
    assert code == 0
    values = {
        (item["attribute"], item.get("value"))
        for e in json.loads(out)["explanations"]
        for item in e["items"]
    }
    assert ("[/]col", BIDI) in values
    code, out, _ = run("rows", hostile, "--where", "status = 'error'", "-f", "csv", "-n", "1")
    assert code == 0
    frame = pl.read_csv(out.encode())
    assert frame.filter(pl.col("side") == "selection")["payload"].to_list() == [ESCAPES]
    assert TITLE_COLUMN in frame.columns
    assert frame.filter(pl.col("side") == "selection")["longv"].str.len_chars().to_list() == [LONG]


def test_rows_table_escapes_names_values_and_cuts(hostile: Path) -> None:
    code, out, err = run("rows", hostile, "--where", "status = 'error'", "-n", "1")
    assert code == 0, err
    assert_safe(out + err)
    assert "ti\\x1b]0;t\\x07tle" in out
    assert "\\x1b[2J" in out
    assert "…(+999,960 chars)" in out


def test_columns_table_escapes_names(hostile: Path) -> None:
    code, out, err = run("columns", hostile)
    assert code == 0, err
    assert_safe(out + err)
    assert "[/]col" in out
    assert "ti\\x1b]0;t\\x07tle" in out


def test_errors_print_user_text_literally(hostile: Path) -> None:
    code, _, err = run("analyze", hostile, "--where", "status = ':x:' AND [bold]")
    assert code == 1
    assert_safe(err)
    assert ":x:" in err
    assert err.count("\n") == 1
    code, _, err = run("analyze", hostile, "--where", '"[/]nope\x1b[2J" = 1')
    assert code == 1
    assert_safe(err)
    assert "column '[/]nope\\x1b[2J' in --where not found" in err
    code, _, err = run("analyze", str(hostile) + "\x1b]0;gone\x07", "--where", "a = 1")
    assert code == 1
    assert_safe(err)
    assert err.startswith("Error: file not found: ")
    assert "\\x1b]0;gone\\x07" in err


def test_library_rich_view_escapes(hostile: Path) -> None:
    from rich.console import Console

    result = bubbleup.analyze(str(hostile), where="status = 'error'")
    console = Console(record=True, width=100, file=io.StringIO())
    console.print(result)  # markup and emoji are on in a default console
    text = console.export_text()
    assert_safe(text)
    assert "[/]col" in text
    assert render.LABEL_CHARS < LONG


def test_printable_is_linear_in_its_limit() -> None:
    big = "\x1b" * 10_000_000
    shown = printable(big, limit=10)
    assert shown == "\\x1b" * 10 + "…(+9,999,990 chars)"
