"""Issue 12, the CLI's paper cuts: ``--help``, ``columns``, ``rows``, errors that blame
the right thing.

Every test drives the real CLI in-process (typer's runner) on real Parquet files.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from bubbleup import cli
from bubbleup.cli import app
from tests.conftest import SAMPLE
from tests.test_cli_errors import run

OOM = "exit_reason = 'oom'"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _help(runner: CliRunner, command: str) -> str:
    out = runner.invoke(app, [command, "--help"], terminal_width=100)
    assert out.exit_code == 0, out.stderr
    return out.stdout


# --- --help ---------------------------------------------------------------------------


def test_analyze_help_groups_options_into_panels(runner: CliRunner) -> None:
    text = _help(runner, "analyze")
    headings = [line[:-1] for line in text.splitlines() if re.fullmatch(r"[A-Z][a-z ]+:", line)]
    assert headings == ["Arguments", *cli.PANELS, "Options"]
    sections = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^([A-Z][a-z ]+):\n(.*?)(?=^[A-Z][a-z ]+:|\Z)", text, re.M | re.S)
    }
    assert "--where SQL" in sections["Selection"]
    assert "--columns NAMES" in sections["Columns"]
    assert "--min-lift" in sections["Statistics"]
    assert "--output FILE" in sections["Output"]
    assert "--since T" in sections["Time"]
    assert "--spark-master URL" in sections["Engine"]


@pytest.mark.parametrize("command", ["analyze", "columns", "rows"])
def test_help_metavars_are_readable(runner: CliRunner, command: str) -> None:
    text = _help(runner, command)
    for typed in ("<list[str]>", "<str>", "<int>", "<float>", "<int range>", "TEXT"):
        assert typed not in text, (command, typed)
    assert "SOURCE..." in text


def test_where_help_example_is_valid_shell(runner: CliRunner, tmp_path: Path) -> None:
    text = " ".join(_help(runner, "analyze").split())
    example = re.search(r"names with dots take double quotes: (.*?\.)\s", text)
    assert example is not None, text
    args = shlex.split(example.group(1).rstrip("."))
    assert args == ["--where", "\"http.route\" = '/checkout'"]
    path = tmp_path / "spans.parquet"
    pl.DataFrame(
        {
            "http.route": ["/checkout", "/home"] * 50,
            "region": ["eu", "us", "us", "eu"] * 25,
        }
    ).write_parquet(path)
    code, out, err = run(runner, "analyze", str(path), *args, "-f", "json")
    assert code == 0, err
    assert json.loads(out)["selection"]["predicate"] == args[1]


def test_significance_column_has_a_header(runner: CliRunner) -> None:
    code, out, err = run(runner, "analyze", str(SAMPLE), "--where", OOM, "--top", "3")
    assert code == 0, err
    header = next(line for line in out.splitlines() if "explanation" in line and "lift" in line)
    assert header.split()[-1] == "sig."
