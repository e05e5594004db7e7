"""One validated options object: what the CLI, explore, MCP and the library share."""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
from typing import Any

import polars as pl
import pytest
import typer

import bubbleup
from bubbleup.errors import UsageError
from bubbleup.interfaces import cli
from bubbleup.options import DEFAULTS, OPTION_FLAGS, Options, command_line_names
from bubbleup.pipeline.analyze import analyze

SAMPLE = "sample_data/builds.parquet"


def _command(name: str) -> Any:
    group = typer.main.get_command(cli.app)
    return group.commands[name]  # type: ignore[attr-defined]


def _flags(name: str) -> dict[str, Any]:
    """Each long flag of a command, with its click parameter."""
    return {opt: p for p in _command(name).params for opt in p.opts if opt.startswith("--")}


def test_every_option_is_a_flag_of_analyze_with_the_options_own_spelling() -> None:
    flags = _flags("analyze")
    for name, spec in OPTION_FLAGS.items():
        assert spec.flag in flags, name
        param = flags[spec.flag]
        assert tuple(o for o in param.opts) == spec.names, name
        assert param.help == spec.help, name
        assert getattr(param, "rich_help_panel", None) == spec.panel, name


def test_rows_and_explore_spell_the_options_they_take_as_analyze_does() -> None:
    analyze_flags = _flags("analyze")
    for command in ("rows", "explore"):
        for flag, param in _flags(command).items():
            if flag in analyze_flags and flag not in ("--format", "--output", "--quiet"):
                assert param.help == analyze_flags[flag].help, (command, flag)
                assert param.opts == analyze_flags[flag].opts, (command, flag)


def test_the_librarys_keywords_are_the_options_with_the_same_defaults() -> None:
    params = inspect.signature(analyze).parameters
    keywords = {
        n: p.default for n, p in params.items() if p.kind is p.KEYWORD_ONLY and n != "progress"
    }
    assert keywords == dict(DEFAULTS)
    assert {f.name for f in dataclasses.fields(Options)} == set(keywords)


def _given() -> Options:
    """Every option away from its default."""
    return Options(
        where="exit_reason = 'oom'",
        baseline="exit_reason = 'ok'",
        filter="arch <> 'x'",
        weight="w",
        columns=("kernel_*", "build_tool"),
        exclude=("ts",),
        outcomes=("queue_ms",),
        context=("exit_code",),
        alpha=0.01,
        min_lift=2.0,
        min_share=0.1,
        max_order=2,
        time_column="ts",
        since="2026-11-19T00:00:00",
        until="2026-11-21T00:00:00",
        after="2026-11-20T14:00:00",
        skip_bad_lines=True,
        engine="spark",
        spark_master="local[2]",
    )


def test_every_option_given_is_a_flag_that_parses_back_to_it() -> None:
    options = _given()
    assert set(options.given()) == set(DEFAULTS)  # the test covers every option
    args = options.command_args()
    assert args is not None
    ctx = _command("analyze").make_context("analyze", ["e.parquet", *args])
    by_flag = {p.opts[0]: p.name for p in _command("analyze").params if p.opts}
    for name, value in options.given().items():
        parsed = ctx.params[by_flag[OPTION_FLAGS[name].flag]]
        if isinstance(value, tuple):
            parsed = tuple(cli._split_names(parsed) or ())
        elif name == "engine":
            parsed = parsed.value
        assert parsed == value, name


def test_no_weight_is_the_flag_of_weight_false() -> None:
    args = Options(where="a = 1", weight=False).command_args()
    assert args == ["--where", "a = 1", "--no-weight"]


@pytest.mark.parametrize(
    ("changes", "library", "command_line"),
    [
        ({"max_order": 4}, "max_order must be 1, 2 or 3", "--max-order must be 1, 2 or 3"),
        ({"max_order": True}, "max_order must be 1, 2 or 3", "--max-order must be 1, 2 or 3"),
        ({"alpha": 1.0}, "alpha must be between 0 and 1", "--alpha must be between 0 and 1"),
        ({"alpha": 0}, "alpha must be between 0 and 1", "--alpha must be between 0 and 1"),
        ({"min_lift": -1}, "min_lift must be a number >= 0", "--min-lift must be a number"),
        ({"min_lift": float("nan")}, "min_lift must be a number >= 0", "--min-lift must be"),
        ({"min_share": 1.5}, "min_share must be between 0 and 1", "--min-share must be"),
        ({"alpha": "0.1"}, "alpha must be a number", "--alpha must be a number"),
        ({"engine": "duckdb"}, "unknown engine 'duckdb'", "unknown engine 'duckdb'"),
        ({"where": 3}, "where must be SQL text or a polars", "--where must be SQL text"),
        ({"columns": [""]}, "columns takes column names", "--columns takes column names"),
        ({"since": 3.5}, "since must be ISO 8601 text", "--since must be ISO 8601 text"),
        ({"weight": 1.0}, "weight must be a column name", "--weight must be a column name"),
        ({"time_column": 7}, "time_column must be text", "--time-column must be text"),
    ],
)
def test_each_rule_is_one_message_in_the_callers_words(
    changes: dict[str, Any], library: str, command_line: str
) -> None:
    with pytest.raises(UsageError, match="^" + library.replace("(", r"\(")):
        Options(**changes)
    with command_line_names(), pytest.raises(UsageError, match="^" + command_line):
        Options(**changes)


def test_the_boundaries_of_each_rule_are_accepted() -> None:
    for changes in (
        {"max_order": 1},
        {"alpha": 0.999},
        {"min_lift": 0},
        {"min_share": 0},
        {"min_share": 1},
        {"engine": "polars"},
    ):
        Options(**changes)


def test_names_are_kept_as_given_and_a_date_is_its_midnight() -> None:
    opts = Options(columns="a,b", outcomes=["x", "y*"], since=dt.date(2026, 11, 20))
    assert opts.columns == ("a,b",)  # one string is one name: names may hold commas
    assert opts.outcomes == ("x", "y*")
    assert opts.since == dt.datetime(2026, 11, 20)


def test_unknown_options_have_a_did_you_mean() -> None:
    """Options by name (the notebook widget's ``**options``) are checked too."""
    with pytest.raises(UsageError, match="unknown option 'min_lfit'; did you mean 'min_lift'"):
        Options.build(where="exit_reason = 'oom'", min_lfit=2)
    with pytest.raises(UsageError, match="unknown option 'wieght'; did you mean 'weight'"):
        bubbleup.explore(SAMPLE, wieght="w")


def test_an_options_object_and_keywords_give_the_same_answer() -> None:
    opts = Options(
        where="exit_reason = 'oom'", max_order=2, columns=("kernel_version", "build_tool")
    )
    by_object = bubbleup.analyze(SAMPLE, opts)
    by_keywords = bubbleup.analyze(
        SAMPLE, where="exit_reason = 'oom'", max_order=2, columns=["kernel_version", "build_tool"]
    )
    assert by_object.to_json() == by_keywords.to_json()
    assert by_object.origin is not None
    assert by_object.origin.options == opts
    # keywords change an options object; defaults given as keywords leave it as it is
    narrower = bubbleup.analyze(SAMPLE, opts, max_order=1, alpha=0.05)
    assert narrower.origin is not None
    assert narrower.origin.options == opts.replace(max_order=1)


def test_a_polars_expression_is_a_predicate_but_no_command() -> None:
    opts = Options(where=pl.col("exit_reason") == "oom")
    assert opts.command_args() is None
    assert bubbleup.analyze(SAMPLE, opts).totals.selection_events > 0
