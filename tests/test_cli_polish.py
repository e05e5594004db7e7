"""Issue 12, the CLI's paper cuts: ``--help``, ``columns``, ``rows``, errors that blame
the right thing.

Every test drives the real CLI in-process (typer's runner) on real Parquet files.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

import bubbleup
from bubbleup.interfaces import cli
from bubbleup.interfaces.cli import app
from tests.conftest import ROOT, SAMPLE
from tests.test_cli_errors import assert_error, run

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


# --- rows -------------------------------------------------------------------------------


def _rows(runner: CliRunner, *args: str) -> pl.DataFrame:
    code, out, err = run(runner, "rows", str(SAMPLE), "-f", "json", "-q", *args)
    assert code == 0, err
    return pl.read_json(out.encode())


def test_rows_show_the_identifier_and_the_time_first(runner: CliRunner) -> None:
    rows = _rows(runner, "--where", OOM, "-n", "2")
    assert rows.columns[:3] == ["side", "build_id", "ts"]
    code, out, err = run(runner, "rows", str(SAMPLE), "--where", OOM, "-n", "1")
    assert code == 0, err
    names = [line.split()[0] for line in out.splitlines() if line[:1].isalpha()]
    assert names[:4] == ["selection:", "column", "build_id", "ts"], names


def _times(rows: pl.DataFrame, side: str) -> list[str]:
    times = rows.filter(pl.col("side") == side)["ts"].cast(pl.String).to_list()
    return sorted(t.replace("T", " ") for t in times)


def test_rows_take_the_time_window_of_analyze(runner: CliRunner) -> None:
    rows = _rows(runner, "--after", "2026-11-20T14:00", "-n", "20", "--seed", "3")
    assert rows.height == 40
    after = _times(rows, "selection")
    before = _times(rows, "baseline")
    assert after[0] >= "2026-11-20 14:00"
    assert before[-1] < "2026-11-20 14:00"
    assert before[0] >= "2026-11-20 04:00"  # the same length of time before: 10 hours
    rows = _rows(
        runner,
        "--where",
        OOM,
        "--since",
        "2026-11-20T15:00",
        "--until",
        "2026-11-20T16:00",
        "-n",
        "20",
    )
    stamps = _times(rows, "selection") + _times(rows, "baseline")
    assert len(stamps) == 40
    assert all("2026-11-20 15:00" <= s < "2026-11-20 16:00" for s in stamps), stamps


def test_rows_drill_into_an_explanation(runner: CliRunner) -> None:
    rows = _rows(runner, "--where", OOM, "--drill", "1", "-n", "10")
    assert rows.height == 20
    assert set(rows["kernel_version"]) == {"5.15.0-91-generic"}
    assert set(rows["build_tool"]) == {"gradle"}
    code, out, err = run(runner, "rows", str(SAMPLE), "--where", OOM, "--drill", "1", "-n", "1")
    assert code == 0, err
    scope = "(scope: kernel_version = '5.15.0-91-generic' AND build_tool = 'gradle')"
    lines = [line.strip() for line in out.splitlines()]
    titles = [line for line in lines if line.startswith(("selection:", "baseline:"))]
    assert len(titles) == 2
    assert all(scope in t for t in titles), titles


def test_rows_time_column_and_bad_lines(runner: CliRunner, tmp_path: Path) -> None:
    lines = []
    for i in range(200):
        hour = i % 10
        lines.append(
            f'{{"id": "e{i}", "status": "{"error" if i % 4 == 0 else "ok"}", '
            f'"created": "2026-11-20T0{hour}:00:00Z", "done": "2026-11-21T0{9 - hour}:30:00Z", '
            f'"region": "{["eu", "us"][i % 2]}"}}'
        )
    lines.insert(7, '{"id": "broken", ')
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(lines) + "\n")
    base = ["rows", str(path), "--where", "status = 'error'", "-f", "json", "-n", "50"]
    code, _out, err = run(runner, *base)
    assert_error(code, err, 1, "line 8")
    window = ["--time-column", "done", "--since", "2026-11-21T05:00", "--skip-bad-lines"]
    code, out, err = run(runner, *base, *window)
    assert code == 0, err
    rows = pl.read_json(out.encode())
    assert rows.columns[:3] == ["side", "id", "done"]
    done = rows["done"].cast(pl.String).to_list()
    assert done
    assert all(d >= "2026-11-21T05:00" for d in done), done
    errors_in_window = sum(1 for i in range(200) if i % 4 == 0 and 9 - i % 10 >= 5)
    assert rows.filter(pl.col("side") == "selection").height == errors_in_window


# --- columns ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ties(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same events in two row orders: unique ids, and values exactly as common."""
    n = 3000
    frame = pl.DataFrame(
        {
            "id": [f"evt-{i:05d}" for i in range(n)],
            "reason": ["ok"] * 2964 + ["oom"] * 12 + ["timeout"] * 12 + ["a|b"] * 12,
            "shard": [i % 6 for i in range(n)],  # six values, 500 events each
            "pool": pl.Series([f"p{i % 4}" for i in range(n)], dtype=pl.Categorical),
        }
    )
    folder = tmp_path_factory.mktemp("ties")
    frame.write_parquet(folder / "a.parquet")
    frame.sample(fraction=1.0, shuffle=True, seed=7).write_parquet(folder / "b.parquet")
    return folder / "a.parquet", folder / "b.parquet"


def _columns_process(path: Path, *args: str) -> bytes:
    done = subprocess.run(
        [sys.executable, "-m", "bubbleup", "columns", str(path), *args],
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    return done.stdout


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "markdown"])
def test_columns_is_deterministic(ties: tuple[Path, Path], fmt: str) -> None:
    first = _columns_process(ties[0], "-f", fmt)
    assert first == _columns_process(ties[0], "-f", fmt)  # two runs, byte for byte
    assert first == _columns_process(ties[1], "-f", fmt)  # any row order


def test_columns_top_values_and_shares(runner: CliRunner, ties: tuple[Path, Path]) -> None:
    code, out, err = run(runner, "columns", str(ties[1]), "-f", "json")
    assert code == 0, err
    cols = {c["column"]: c for c in json.loads(out)}
    top = [(v["value"], v["share"]) for v in cols["reason"]["top_values"]]
    assert top == [("ok", 2964 / 3000), ("a|b", 12 / 3000), ("oom", 12 / 3000)]
    assert cols["reason"]["example"] == "ok"  # still the most common value
    assert [v["value"] for v in cols["id"]["top_values"]] == ["evt-00000", "evt-00001", "evt-00002"]
    assert [v["value"] for v in cols["shard"]["top_values"]] == ["0", "1", "2"]
    assert [v["value"] for v in cols["pool"]["top_values"]] == ["p0", "p1", "p2"]
    code, out, err = run(runner, "columns", str(ties[1]), "--top", "4")
    assert code == 0, err
    cells: dict[str, list[str]] = {}
    name = ""
    for line in out.splitlines()[2:]:
        parts = [p.strip() for p in line.split("\u2502")]
        name = parts[0] or name
        cells.setdefault(name, []).append(parts[-1])
    assert cells["reason"] == ["'ok' 98.8%", "'a|b' 0.4%", "'oom' 0.4%", "'timeout' 0.4%"]
    assert cells["shard"] == ["0 16.7%", "1 16.7%", "2 16.7%", "3 16.7%"]


def test_columns_formats_and_output(
    runner: CliRunner, ties: tuple[Path, Path], tmp_path: Path
) -> None:
    code, out, err = run(runner, "columns", str(ties[0]), "-f", "markdown")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "| column | type | kind | distinct | missing | top values |"
    reason = next(line for line in lines if line.startswith("| reason "))
    assert "'a\\|b' 0.4%" in reason
    assert reason.count(" | ") == 5  # the escaped pipe does not add a cell
    code, out, err = run(runner, "columns", str(ties[0]), "-f", "csv")
    assert code == 0, err
    frame = pl.read_csv(out.encode())
    assert frame.filter(pl.col("column") == "reason")["top_values"].item() == (
        "'ok' 98.8%, 'a|b' 0.4%, 'oom' 0.4%"
    )
    for fmt in ("json", "markdown", "table"):
        target = tmp_path / f"cols.{fmt}"
        code, shown, err = run(runner, "columns", str(ties[0]), "-f", fmt)
        assert code == 0, err
        code, out, err = run(runner, "columns", str(ties[0]), "-f", fmt, "-o", str(target))
        assert code == 0, err
        assert out == ""
        assert target.read_text() == shown
    code, out, err = run(runner, "columns", str(ties[0]), "-f", "html")
    assert code == 2
    assert "'html' is not one of 'table', 'json', 'csv', 'markdown'" in err
    code, _, err = run(runner, "columns", str(ties[0]), "-o", str(ties[0]))
    assert_error(code, err, 1, "is an input file")


# --- errors that blame the right thing --------------------------------------------------

#: (library keyword arguments, CLI arguments, the message; {} is where, --where...)
NAMED = [
    (
        {"where": "exit_reasn = 'oom'"},
        ["--where", "exit_reasn = 'oom'"],
        "column 'exit_reasn' in {where} not found; did you mean 'exit_reason'?",
    ),
    (
        {"where": OOM, "baseline": "regoin = 'eu'"},
        ["--where", OOM, "--baseline", "regoin = 'eu'"],
        "column 'regoin' in {baseline} not found; did you mean 'region'?",
    ),
    (
        {"where": OOM, "filter": "regoin = 'eu'"},
        ["--where", OOM, "--filter", "regoin = 'eu'"],
        "column 'regoin' in {filter} not found; did you mean 'region'?",
    ),
    (
        {"where": OOM, "columns": ["regoin"]},
        ["--where", OOM, "--columns", "regoin"],
        "column 'regoin' in {columns} not found; did you mean 'region'?",
    ),
    (
        {"where": OOM, "exclude": ["nope*"]},
        ["--where", OOM, "--exclude", "nope*"],
        "{exclude} pattern 'nope*' matches no column",
    ),
    (
        {"where": OOM, "outcomes": ["peak"]},
        ["--where", OOM, "--outcome", "peak"],
        "column 'peak' in {outcomes} not found",
    ),
    (
        {"where": OOM, "context": ["exit_cod"]},
        ["--where", OOM, "--context", "exit_cod"],
        "column 'exit_cod' in {context} not found; did you mean 'exit_code'?",
    ),
    (
        {"where": OOM, "weight": "region"},
        ["--where", OOM, "--weight", "region"],
        "weight column 'region' is String, not numeric; choose a numeric column or pass "
        "{no_weight}",
    ),
    (
        {"where": "duration_ms > '5000'"},
        ["--where", "duration_ms > '5000'"],
        "cannot evaluate {where} predicate \"duration_ms > '5000'\": cannot compare string with "
        "numeric type (i64)",
    ),
    (
        {"where": OOM, "since": "yesterday"},
        ["--where", OOM, "--since", "yesterday"],
        "{since} 'yesterday' is not a time",
    ),
]
LIBRARY = {"no_weight": "weight=False"}
FLAGS = {"where": "--where", "baseline": "--baseline", "filter": "--filter",
         "columns": "--columns", "exclude": "--exclude", "outcomes": "--outcome",
         "context": "--context", "no_weight": "--no-weight", "since": "--since"}  # fmt: skip


@pytest.mark.parametrize(("kwargs", "args", "message"), NAMED, ids=[m[2][:30] for m in NAMED])
def test_errors_name_the_callers_parameter(
    runner: CliRunner, kwargs: dict[str, Any], args: list[str], message: str
) -> None:
    with pytest.raises(bubbleup.BubbleupError) as info:
        bubbleup.analyze(SAMPLE, **kwargs)
    library = message.format(**{k: LIBRARY.get(k, k) for k in FLAGS})
    assert str(info.value).startswith(library)
    assert "--" not in str(info.value)
    code, _, err = run(runner, "analyze", str(SAMPLE), *args)
    cli_message = message.format(**FLAGS)
    assert_error(code, err, 2 if "since" in kwargs else 1, cli_message)
    assert err.startswith(f"Error: {cli_message}")


#: Predicates whose columns and types are right but that fail on the events.
FAILING = [
    ({"where": "CAST(region AS INT) > 1"}, "where"),
    ({"where": OOM, "baseline": "CAST(region AS INT) > 1"}, "baseline"),
    ({"where": OOM, "filter": "CAST(branch AS INT) > 1"}, "filter"),
    ({"where": OOM, "after": "2026-11-20T14:00", "baseline": "CAST(region AS INT) > 1"},
     "baseline"),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "blamed"), FAILING)
def test_errors_on_the_data_blame_the_predicate(
    runner: CliRunner, kwargs: dict[str, str], blamed: str
) -> None:
    with pytest.raises(bubbleup.PredicateError) as info:
        bubbleup.analyze(SAMPLE, **kwargs)
    text = kwargs[blamed]
    assert str(info.value).startswith(f"cannot evaluate {blamed} predicate ")
    assert text in str(info.value)
    assert "conversion from `str` to `i32` failed" in str(info.value)
    args = [a for k, v in kwargs.items() for a in (f"--{k}", v)]
    code, _, err = run(runner, "analyze", str(SAMPLE), "-q", *args)
    assert_error(code, err, 1, f"cannot evaluate --{blamed} predicate ")
    assert "could not read" not in err


def test_mcp_command_keeps_the_library_names() -> None:
    # the MCP server's tools take the library's parameters: no --flags in their errors
    with cli.errors(flags=False), pytest.raises(bubbleup.BubbleupError) as info:
        bubbleup.analyze(SAMPLE, where="exit_reasn = 'oom'")
    assert "in where not found" in str(info.value)
    with pytest.raises(typer.Exit), cli.errors():
        bubbleup.analyze(SAMPLE, where="exit_reasn = 'oom'")


def test_readme_says_what_ci_installs() -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("To run the test suite")
    section = readme[start : readme.index("bash .ci/run", start)]
    ci = (ROOT / ".ci" / "run").read_text()
    installed = re.findall(r"apt-get install [^\n]*?(\S+) >/dev/null", ci)
    assert sorted(installed) == ["chromium", "openjdk-17-jre-headless"]
    for package in installed:
        assert f"`{package}`" in section, package
    assert "Java" in section
    assert "Spark tests" in section


def test_empty_selection_shows_the_values(runner: CliRunner) -> None:
    from bubbleup.outputs.render import percent

    events = pl.read_parquet(SAMPLE, columns=["exit_reason"])
    share = events.filter(pl.col("exit_reason") == "oom").height / events.height
    code, _, err = run(runner, "analyze", str(SAMPLE), "--where", "exit_reason = 'OOM'")
    assert_error(code, err, 1, "the selection is empty: no event matches \"exit_reason = 'OOM'\"")
    assert "most common values of exit_reason: 'success' " in err
    assert f"'oom' {percent(share)}" in err  # the value the user meant, and how common it is
    code, _, err = run(
        runner, "analyze", str(SAMPLE), "--where", "exit_reason = 'oom' AND cpu_count > 100"
    )
    assert_error(code, err, 1, "most common values of cpu_count: 2 ")
    assert "; of exit_reason: 'success' " in err


def test_columns_top_must_be_positive(runner: CliRunner, ties: tuple[Path, Path]) -> None:
    from bubbleup.pipeline.columns import describe_columns

    with pytest.raises(bubbleup.UsageError, match="top must be at least 1, not 0"):
        describe_columns(ties[0], top=0)
    code, _, err = run(runner, "columns", str(ties[0]), "--top", "0")
    assert code == 2
    assert "--top" in err
    assert "greater than or equal to 1" in err
    assert len(describe_columns(ties[0], top=1)["top_values"][0]) == 1
