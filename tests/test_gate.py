"""The predicate gate: a predicate reads only the event's own columns, at bounded cost.

Hostile predicates run through the CLI on both engines (the Spark ones share the session
of tests/test_spark_parity.py's kind); each must end with exit code 1 and one exact
``Error:`` line, no traceback, and never show the content of the file it names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import bubbleup
from bubbleup.errors import PredicateError
from bubbleup.interfaces.cli import app
from bubbleup.pipeline import gate
from tests.conftest import SAMPLE

SECRET = "TOPSECRET-7f3a9c"

#: Every predicate used in tests/, README.md, docs/ and notebooks/ (collected with a
#: script over those files: --where/--baseline/--filter arguments and where=/baseline=/
#: filter= strings), plus common shapes. The gate must let each through; the ones that
#: are malformed on purpose must reach the SQL parser to get its message.
VALID = [
    "\"http.route\" = '/checkout'",
    "\"status.code\" = 'error'",
    "...",
    "CAST(region AS INT) > 1",
    "NOT ok",
    "a = 1",
    "array_contains(tags, 'c')",
    "b = 1",
    "bad",
    "duration_ms",
    "duration_ms > 0",
    "error",
    "exit_reasn = 'oom'",
    "exit_reason =\n  'oom'",
    "exit_reason = 'infra_error'",
    "exit_reason = 'nope'",
    "exit_reason = 'oom'",
    "exit_reason = 'oom' AND\n  duration_ms > 5000",
    "exit_reason = 'test_failure'",
    "exit_reason = 'timeout'",
    "exit_reason = = 'oom'",
    "http.route = '/a'",
    "id = 1",
    "kind = 'server'",
    "module",
    "nosuchfunc(region)",
    "ok",
    "outcome = 'error'",
    "outcome = 'error' AND region = 'eu'",
    "picked",
    "region = 'ap-southeast-1'",
    "region = 'eu'",
    "region = 'eu-west-1'",
    "region = 'mars'",
    "region = 'us'",
    "s",
    "session",
    "severity_text = 'ERROR'",
    'status = "error"',
    "status = 'error'",
    "status = 'nope'",
    "status = 'ok'",
    "status = 500",
    "status = = 'error'",
    "stauts = 'error'",
    "team IS NOT NULL",
    "tier = 'pro'",
    "timestamp >= '2026-11-20 14:00:00'::timestamptz AND status = 500",
    "version = 'v1'",
    "x = 1",
    "team = 'a'",
    "team LIKE 'b%' OR team IS NULL",
    "outcome <> 'ok'",
    "upper(region) = 'EU'",
    "duration_ms BETWEEN 100 AND 5000",
    "region IN ('eu', 'us', 'it''s')",
    "regexp_like(region, '^e[u]\\d*$')",
    "region ~ 'e.'",
    "message = 'error from server; select a node -- retry'",
    "\"weird name\" = 'x' AND `b c` > 1",
    "cpu_count * 2 >= memory_limit_mb / 1024",
    "ts >= '2026-11-20 14:00'",
    "memory_limit_mb <= 4096 AND NOT cache_hit",
    "duration_ms > 1e3 OR queue_ms < -5",
    "coalesce(region, 'none') != 'eu'",
    "length(branch) > 3",
]

WHY_SELECT = (
    "may not contain SELECT: a predicate is a condition on each event's own columns "
    "(no subqueries, FROM, UNION or table functions)"
)


def call(name: str) -> str:
    return (
        f"may not call {name}(): a predicate reads only the event's own columns "
        "(no table functions or readers)"
    )


def outside(what: str) -> str:
    return (
        f"has the character {what} outside quotes; a predicate is SQL such as "
        "\"exit_reason = 'oom'\" (quote text values and odd names)"
    )


DEEP = "(" * 40 + "status = 'ok'" + ")" * 40
MANY_TERMS = " OR ".join(f"status = 'v{i}'" for i in range(300))
HUGE = "status IN (" + ", ".join(f"'value-{i:06d}'" for i in range(2000)) + ")"

#: (predicate with {secret} for the secret file's path, the error after the quoted text).
#: A pair is (polars, Spark) where the two SQL dialects read the text differently.
HOSTILE: list[tuple[str, str | tuple[str, str]]] = [
    ("status IN (SELECT status FROM read_csv('{secret}'))", WHY_SELECT),
    ("status = (SELECT max(status) FROM read_parquet('{secret}'))", WHY_SELECT),
    ("status IN (SELECT * FROM read_json('{secret}'))", WHY_SELECT),
    ("status IN (SELECT * FROM read_ndjson('{secret}'))", WHY_SELECT),
    ("status IN (SELECT * FROM read_ipc('{secret}'))", WHY_SELECT),
    ("status IN (SELECT * FROM read_files('{secret}'))", WHY_SELECT),
    ("duration_ms IN (SELECT id FROM range(10))", WHY_SELECT),
    ("duration_ms = (SELECT count(*) FROM csv.`{secret}`)", WHY_SELECT),
    ("status IN (SELECT * FROM read_parquet('/nonexistent/dir/x.parquet'))", WHY_SELECT),
    ("status = read_csv('{secret}')", call("read_csv")),
    ("status = read_files('{secret}')", call("read_files")),
    ("duration_ms = range(3)", call("range")),
    ("java_method('java.lang.System', 'getenv', 'HOME') IS NOT NULL", call("java_method")),
    # Spark's IDENTIFIER clause names a function with a string
    ("IDENTIFIER('java_method')('java.lang.System', 'getenv', 'HOME') = 'x'", call("identifier")),
    ("reflect('java.nio.file.Files', 'readString', '{secret}') = 'x'", call("reflect")),
    (
        "status = 'ok' UNION SELECT 1",
        "may not contain UNION: a predicate is a condition on "
        "each event's own columns (no subqueries, FROM, UNION or table functions)",
    ),
    (
        "EXISTS (SELECT 1)",
        "may not contain EXISTS: a predicate is a condition on each "
        "event's own columns (no subqueries, FROM, UNION or table functions)",
    ),
    (
        "status = 'ok' FROM events",
        "may not contain FROM: a predicate is a condition on each "
        "event's own columns (no subqueries, FROM, UNION or table functions)",
    ),
    ("status = 'ok' -- AND 1 = 0", "has a comment; remove the comment"),
    ("status = 'ok' /* IN (SELECT 1) */", "has a comment; remove the comment"),
    ("status = 'ok'; SELECT 1", outside("';'")),
    (
        DEEP,
        "nests parentheses more than 32 deep; write the condition flatter (AND/OR need "
        "no parentheses of their own)",
    ),
    ("status IN (\uff33\uff25\uff2c\uff25\uff23\uff34 1)", WHY_SELECT),
    (
        "\uff52\uff45\uff41\uff44_csv('{secret}') = 'x'",
        "spells READ_CSV with look-alike characters",
    ),
    ("status = 'ok' OR status \uff08\uff09", outside("U+FF08 FULLWIDTH LEFT PARENTHESIS")),
    ("status = 'ok' \u202e OR 1 = 1", outside("U+202E RIGHT-TO-LEFT OVERRIDE")),
    # polars reads 'ok\\' as text and sees the sub-query; Spark reads \\' as a quote.
    (
        "status = 'ok\\' OR status IN (SELECT 1) OR status = 'x'",
        (WHY_SELECT, "has a prefixed quote (x'...); write plain 'text' values"),
    ),
    ("status = \\'ok\\'", outside("'\\\\'")),
    ("status = $$ok$$", outside("'$'")),
    ("status = r'ok'", "has a prefixed quote (r'...); write plain 'text' values"),
    ("status = 'ok", "has an unterminated text value (a ' is missing)"),
    (
        MANY_TERMS,
        "has more than 128 AND/OR terms; write many values of one column as col IN ('a', 'b', ...)",
    ),
    (
        HUGE,
        f"is {len(HUGE.encode()):,} bytes, more than the limit of 16,384; list many values with "
        "IN ('a', 'b', ...) or select on a derived column",
    ),
]


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gate") / "events.parquet"
    pl.DataFrame(
        {
            "status": ["ok", "ok", "error", "ok", "error", "ok"],
            "duration_ms": [10, 20, 300, 15, 250, 12],
            "region": ["us", "eu", "us", "eu", "us", "eu"],
        }
    ).write_parquet(path)
    return path


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("home") / "secret.csv"
    path.write_text(f"status\n{SECRET}\n")
    return path


def expected_line(option: str, predicate: str, tail: str) -> str:
    return f"Error: {option} predicate {gate.shown(predicate)} {tail}"


def assert_one_error(code: int, stderr: str, stdout: str, line: str) -> None:
    assert code == 1, stderr
    assert stderr.strip().splitlines() == [line]
    assert "Traceback" not in stderr
    assert "\u256d\u2500" not in stderr
    assert SECRET not in stderr
    assert SECRET not in stdout


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module", params=["polars", "spark"])
def engine(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "spark":
        pytest.importorskip("pyspark")
        from bubbleup.engines import spark as spark_engine

        problem = spark_engine.java_problem()
        if problem:
            pytest.skip(problem)
        spark_engine.session("local[1]")
    return request.param


@pytest.mark.parametrize(("predicate", "tail"), HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_where(
    engine: str, events: Path, secret: Path, predicate: str, tail: str | tuple[str, str]
) -> None:
    text = predicate.replace("{secret}", str(secret))
    if isinstance(tail, tuple):
        tail = tail[engine == "spark"]
    code, out, err = run("analyze", events, "--where", text, "--engine", engine)
    assert_one_error(code, err, out, expected_line("--where", text, tail))


@pytest.mark.parametrize("option", ["--baseline", "--filter"])
def test_hostile_other_options(engine: str, events: Path, secret: Path, option: str) -> None:
    text = f"status IN (SELECT status FROM read_csv('{secret}'))"
    code, out, err = run(
        "analyze", events, "--where", "status = 'error'", option, text, "--engine", engine
    )
    assert_one_error(code, err, out, expected_line(option, text, WHY_SELECT))


def test_hostile_rows_command(events: Path, secret: Path) -> None:
    text = f"status = (SELECT status FROM read_csv('{secret}'))"
    code, out, err = run("rows", events, "--where", text)
    assert_one_error(code, err, out, expected_line("--where", text, WHY_SELECT))


def test_library_string_predicates(events: Path, secret: Path) -> None:
    text = f"status IN (SELECT status FROM read_csv('{secret}'))"
    for kwargs in ({"where": text}, {"where": "status = 'error'", "filter": text}):
        with pytest.raises(PredicateError, match="may not contain SELECT") as info:
            bubbleup.analyze(str(events), **kwargs)
        assert SECRET not in str(info.value)


def test_drill_scope_and_rows_condition_pass_the_gate(events: Path) -> None:
    result = bubbleup.analyze(str(events), where="status = 'error'")
    drilled = result.drill(1)
    assert drilled.filter is not None
    assert gate.check(drilled.filter) == drilled.filter.strip()
    assert result.rows(explanation=1, limit=2).height > 0


@pytest.mark.parametrize("predicate", VALID)
def test_every_predicate_in_use_passes(predicate: str) -> None:
    assert gate.check(predicate) == predicate.strip()
    assert gate.check(predicate, dialect="spark") == predicate.strip()


def test_valid_predicates_still_analyse(engine: str, events: Path) -> None:
    for text in [
        "status = 'error' AND duration_ms > 100",
        "region IN ('us') AND status LIKE 'err%'",
    ]:
        code, out, err = run("analyze", events, "--where", text, "--engine", engine, "-f", "json")
        assert code == 0, err
        assert '"explanations"' in out


def test_polars_tree_lock_refuses_a_subplan() -> None:
    tree = pl.sql_expr("x IN (SELECT 1)").meta.serialize(format="json")
    with pytest.raises(PredicateError, match=r"reads a query plan \(SubPlan\)"):
        gate.check_polars_tree(tree, "x IN (SELECT 1)")
    quoted = pl.sql_expr("""x = '{"SubPlan": 1}'""").meta.serialize(format="json")
    gate.check_polars_tree(quoted, "x = '...'")  # a literal's text is not the tree


def test_spark_tree_lock_refuses_a_subquery(events: Path) -> None:
    pytest.importorskip("pyspark")
    from bubbleup.engines import spark as spark_engine

    if spark_engine.java_problem():
        pytest.skip("no Java")
    frame = spark_engine.session("local[1]").read.parquet(str(events))
    spark_engine._check_parsed(frame, "status = 'ok' AND duration_ms > 1", "--where")
    for text in [
        "duration_ms IN (SELECT id FROM range(3))",
        "EXISTS (SELECT 1)",
        "duration_ms = (SELECT 1)",
    ]:
        with pytest.raises(PredicateError, match="runs a query"):
            spark_engine._check_parsed(frame, text, "--where")


def test_gate_work_is_linear_and_bounded() -> None:
    # The largest text the gate accepts is lexed once; a larger one is refused unread.
    values = ", ".join(f"'{i:05d}'" for i in range(1800))
    assert gate.check(f"status IN ({values})").startswith("status IN")
    assert len(gate.tokens(f"status IN ({values})")) == 3 + 2 * 1800
    with pytest.raises(PredicateError, match="more than the limit of 16,384"):
        gate.check("x = '" + "a" * 10**7 + "'")


def test_bad_regex_reason_is_whole(events: Path) -> None:
    code, _out, err = run("analyze", events, "--where", "status ~ '('")
    line = (
        "Error: cannot evaluate --where predicate \"status ~ '('\": regex error: regex parse "
        "error: ( ^ error: unclosed group"
    )
    assert code == 1
    assert err.strip().splitlines() == [line]


def test_error_shows_control_characters_escaped(events: Path) -> None:
    text = "nosuch\x1b]0;owned\x07 = 1"
    code, _out, err = run("analyze", events, "--where", text)
    assert code == 1
    assert "\x1b" not in err
    assert "\x07" not in err
    assert "'nosuch\\x1b]0;owned\\x07 = 1'" in err, err


@pytest.mark.parametrize(
    ("where", "name"),
    [("exit_reason = 'oom' oops", "oops"), ("exit_reason = 'oom' AS kills", "kills")],
)
def test_a_name_after_the_condition_is_refused(where: str, name: str) -> None:
    """polars' SQL reads a word after the condition as its name (an alias): refused, so that
    an unfinished or mistyped predicate is not analysed as a shorter one."""
    with pytest.raises(PredicateError) as info:
        bubbleup.analyze(SAMPLE, where=where)
    assert str(info.value).startswith(
        f"malformed where predicate \"{where}\": '{name}' after the condition would only name it; "
    )
