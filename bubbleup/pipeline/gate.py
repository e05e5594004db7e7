"""The predicate gate: a predicate is a scalar condition over the event's own columns.

Every SQL predicate (``--where``, ``--baseline``, ``--filter``, drill scopes, the ``rows``
conditions, the library's string predicates) passes :func:`check` before any SQL parser
sees it, for both engines. The gate

1. bounds the cost: at most :data:`MAX_BYTES` bytes, :data:`MAX_DEPTH` nested
   parentheses and :data:`MAX_TERMS` ``AND``/``OR`` terms, measured before parsing;
2. reads the text into tokens the way the engine's SQL lexer does (strings, quoted
   names, numbers, words, operators) in one linear pass, and refuses what a condition on
   one event never needs: statements and subqueries (``SELECT``, ``FROM``, ``UNION``,
   ``WITH``, ``VALUES``...), table functions (``read_csv(...)``, ``read_files(...)``,
   ``range(...)``...), calls into the JVM (``reflect``, ``java_method``), comments, ``;``,
   dollar-quoted and prefixed strings, and characters outside quotes that are not plain
   SQL (unicode look-alikes, bidi controls, backslashes).

Why before parsing: polars' SQL parser *runs* the table functions of a subquery while it
parses (``pl.sql_expr("x IN (SELECT x FROM read_csv('f'))")`` opens ``f``; a missing file
raises from inside the parser), and Spark Connect parses on the server. A check of the
parsed tree alone would come after the file was read. After polars has parsed a predicate
that passed the gate, :func:`check_polars_tree` checks the parsed expression as well (no
sub-plan, no scan): a second lock should the lexer and the parser ever disagree.

Errors are one line, quote the predicate (escaped, cut to :data:`SHOWN_CHARS`) and never
anything the engine read.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from bubbleup.errors import PredicateError
from bubbleup.printable import cut

#: Largest predicate, in UTF-8 bytes (an ``IN`` list of about 1,500 short values).
MAX_BYTES = 16_384
#: Deepest nesting of parentheses.
MAX_DEPTH = 32
#: Most ``AND``/``OR`` terms in one predicate.
MAX_TERMS = 128
#: Characters of a predicate quoted in an error message.
SHOWN_CHARS = 200

Dialect = Literal["polars", "spark"]

#: Words that start a statement, a subquery or a set operation: never part of a condition.
FORBIDDEN_WORDS = frozenset(
    {
        "SELECT", "FROM", "UNION", "INTERSECT", "EXCEPT", "MINUS", "WITH", "VALUES",
        "TABLE", "JOIN", "LATERAL", "EXISTS", "INTO", "INSERT", "UPDATE", "DELETE",
        "MERGE", "DROP", "CREATE", "ALTER", "TRUNCATE", "GRANT", "COPY", "ATTACH",
        "PRAGMA", "LOAD", "CALL", "EXECUTE", "EXPLAIN", "DESCRIBE", "SHOW", "USE",
    }
)  # fmt: skip

#: Functions that read outside the event (table functions, readers, calls into the JVM).
FORBIDDEN_FUNCTIONS = frozenset(
    {
        "read_csv", "read_parquet", "read_json", "read_ndjson", "read_ipc", "read_files",
        "read_delta", "read_avro", "read_database", "scan_csv", "scan_parquet",
        "range", "explode", "explode_outer", "inline", "inline_outer", "posexplode",
        "posexplode_outer", "stack", "json_tuple", "sql_keywords", "variant_explode",
        "variant_explode_outer", "reflect", "java_method", "try_reflect", "input_file_name",
        "unnest", "generate_series", "generate_subscripts", "identifier",
    }
)  # fmt: skip

#: Keys of polars' serialized expression that only a query plan has.
_PLAN_KEYS = re.compile(r'[{,\[]"(SubPlan|IR|dsl|DataFrameScan|Scan|PythonScan|Union)"')

_OPERATORS = ("<=>", "<>", "!=", ">=", "<=", "||", "::", "==")
_SINGLE = frozenset("=<>+-*/%(),.[]:!|&^~")


@dataclass(frozen=True)
class Token:
    """One lexical token of a predicate: its kind, text and offset."""

    kind: Literal["word", "number", "string", "name", "op"]
    text: str
    at: int


def shown(text: str) -> str:
    """The predicate as quoted in an error: ``repr`` (control characters escaped), cut.

    Examples
    --------
    >>> print(shown("a = 'x\x1b[2J\u202e'"))
    "a = 'x\\x1b[2J\\u202e'"
    >>> shown("x" * 500)[-20:]
    "xxxxxx…(+300 chars)'"
    """
    return repr(cut(text, SHOWN_CHARS))


def named(option: str, text: str, name: str) -> PredicateError:
    """The error for a predicate that ends in a name for its condition: both SQL parsers
    read ``exit_reason = 'oom' AND`` as the condition ``exit_reason = 'oom'`` named ``AND``
    (an alias), which would hide an unfinished or mistyped predicate.

    Examples
    --------
    >>> str(named("--where", "x = 1 AND", "AND")).split(";")[0]
    "malformed --where predicate 'x = 1 AND': 'AND' after the condition would only name it"
    """
    return PredicateError(
        f"malformed {option} predicate {shown(text)}: {shown(name)} after the condition would "
        "only name it; finish or remove it (SQL WHERE syntax, e.g. \"exit_reason = 'oom' AND "
        'duration_ms > 5000")'
    )


def _refuse(option: str, text: str, why: str) -> PredicateError:
    return PredicateError(f"{option} predicate {shown(text)} {why}")


def _char_name(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


def tokens(text: str, option: str = "--where", *, dialect: Dialect = "polars") -> list[Token]:
    """Split a predicate into tokens the way the engine's SQL lexer does, in one pass.

    Polars reads ``'...'`` as text (``''`` is a quote, backslashes are plain) and
    ``"..."`` or backticks as names; Spark reads ``'...'`` and ``"..."`` as text with
    backslash escapes and backticks as names.

    Raises
    ------
    PredicateError
        On a comment, an unterminated string, or a character outside quotes that is not
        plain SQL.

    Examples
    --------
    >>> [t.text for t in tokens("a = 'it''s' AND \\"b c\\" >= 2")]
    ['a', '=', "'it''s'", 'AND', '"b c"', '>=', '2']
    """
    out: list[Token] = []
    i, n = 0, len(text)
    escapes = dialect == "spark"
    text_quotes = "'\"" if dialect == "spark" else "'"
    name_quotes = "`" if dialect == "spark" else '"`'
    while i < n:
        ch = text[i]
        if ch.isspace() and ch in " \t\r\n":
            i += 1
        elif ch in text_quotes or ch in name_quotes:
            if out and out[-1].kind == "word" and out[-1].at + len(out[-1].text) == i:
                raise _refuse(
                    option, text, f"has a prefixed quote ({out[-1].text}{ch}...); "
                    "write plain 'text' values"
                )  # fmt: skip
            j = i + 1
            while True:
                if j >= n:
                    what = "text value" if ch in text_quotes else "quoted name"
                    raise _refuse(option, text, f"has an unterminated {what} (a {ch} is missing)")
                if escapes and ch in text_quotes and text[j] == "\\":
                    j += 2
                    continue
                if text[j] == ch:
                    if j + 1 < n and text[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            kind: Literal["string", "name"] = "string" if ch in text_quotes else "name"
            out.append(Token(kind, text[i : j + 1], i))
            i = j + 1
        elif ch.isalpha() or ch == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            out.append(Token("word", text[i:j], i))
            i = j
        elif ch.isdigit() and ch.isascii():
            j = i + 1
            while j < n and (text[j].isascii() and (text[j].isalnum() or text[j] in "._")):
                j += 1
            out.append(Token("number", text[i:j], i))
            i = j
        elif text.startswith(("--", "/*", "*/", "//"), i) or ch == "#":
            raise _refuse(option, text, "has a comment; remove the comment")
        else:
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None and ch in _SINGLE:
                op = ch
            if op is None:
                what = repr(ch) if ch.isascii() and ch.isprintable() else _char_name(ch)
                raise _refuse(
                    option, text, f"has the character {what} outside quotes; a predicate is "
                    "SQL such as \"exit_reason = 'oom'\" (quote text values and odd names)"
                )  # fmt: skip
            out.append(Token("op", op, i))
            i += len(op)
    return out


def check(text: str, option: str = "--where", *, dialect: Dialect = "polars") -> str:
    """Check that a SQL predicate is a bounded scalar condition on the event's columns.

    Parameters
    ----------
    text
        The predicate, SQL ``WHERE`` syntax.
    option
        The option named in error messages.
    dialect
        Whose SQL lexer to follow: ``"polars"`` or ``"spark"``.

    Returns
    -------
    The predicate without surrounding white space.

    Raises
    ------
    PredicateError
        When the predicate is empty, too large, or reads outside the event.

    Examples
    --------
    >>> check("exit_reason = 'oom' AND duration_ms > 5000")
    "exit_reason = 'oom' AND duration_ms > 5000"
    >>> check("status IN (SELECT status FROM read_csv('~/.bashrc'))")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bubbleup.errors.PredicateError: --where predicate "status IN ... may not contain SELECT: ...
    """
    text = text.strip()
    if not text:
        raise PredicateError(
            f"{option} is empty; give a SQL condition such as \"exit_reason = 'oom'\""
        )
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise _refuse(
            option, text, f"is {size:,} bytes, more than the limit of {MAX_BYTES:,}; "
            "list many values with IN ('a', 'b', ...) or select on a derived column"
        )  # fmt: skip
    found = tokens(text, option, dialect=dialect)
    if dialect == "spark" and "\\" in text:
        # A session with spark.sql.parser.escapedStringLiterals reads backslashes plainly.
        found += tokens(text, option, dialect="polars")
    depth = terms = 0
    for k, tok in enumerate(found):
        if tok.kind == "op":
            if tok.text == "(":
                depth += 1
                if depth > MAX_DEPTH:
                    raise _refuse(
                        option, text, f"nests parentheses more than {MAX_DEPTH} deep; "
                        "write the condition flatter (AND/OR need no parentheses of their own)"
                    )  # fmt: skip
            elif tok.text == ")":
                depth = max(0, depth - 1)
            continue
        if tok.kind != "word":
            continue
        word = unicodedata.normalize("NFKC", tok.text)
        upper = word.upper()
        if upper in ("AND", "OR"):
            terms += 1
            if terms > MAX_TERMS:
                raise _refuse(
                    option, text, f"has more than {MAX_TERMS} AND/OR terms; "
                    "write many values of one column as col IN ('a', 'b', ...)"
                )  # fmt: skip
        elif upper in FORBIDDEN_WORDS:
            raise _refuse(
                option, text, f"may not contain {upper}: a predicate is a condition on each "
                "event's own columns (no subqueries, FROM, UNION or table functions)"
            )  # fmt: skip
        elif word != tok.text and upper in {w.upper() for w in FORBIDDEN_FUNCTIONS}:
            raise _refuse(option, text, f"spells {upper} with look-alike characters")
        following = found[k + 1] if k + 1 < len(found) else None
        if following is not None and following.text == "(":
            lower = word.lower()
            if lower in FORBIDDEN_FUNCTIONS or lower.startswith(("read_", "scan_")):
                raise _refuse(
                    option, text, f"may not call {lower}(): a predicate reads only the "
                    "event's own columns (no table functions or readers)"
                )  # fmt: skip
    return text


def spark_text(text: str) -> str:
    """A checked predicate in Spark SQL's words: ``TIMESTAMPTZ`` (polars' zoned timestamp,
    in bubbleup's labels) becomes ``TIMESTAMP``, which Spark reads as an instant in the
    session's time zone, the offset in the text honoured. Strings and quoted names are kept.

    So a label of a time window or a time range pastes into ``--engine spark --where`` as
    it pastes into ``--where``.

    Examples
    --------
    >>> print(spark_text("ts > TIMESTAMPTZ '2026-11-20 14:00:00+00:00' AND a = 'TIMESTAMPTZ'"))
    ts > TIMESTAMP '2026-11-20 14:00:00+00:00' AND a = 'TIMESTAMPTZ'
    >>> print(spark_text("CAST(ts AS timestamptz) <= TIMESTAMPTZ '2026-11-20 00:00:00+01:00'"))
    CAST(ts AS TIMESTAMP) <= TIMESTAMP '2026-11-20 00:00:00+01:00'
    """
    out, last = [], 0
    for tok in tokens(text, dialect="spark"):
        if tok.kind == "word" and tok.text.upper() == "TIMESTAMPTZ":
            out += [text[last : tok.at], "TIMESTAMP"]
            last = tok.at + len(tok.text)
    return "".join(out) + text[last:]


def check_polars_tree(serialized: str, text: str, option: str = "--where") -> None:
    """Refuse a parsed polars predicate whose tree holds a query plan (a sub-query, a scan).

    ``serialized`` is ``expr.meta.serialize(format="json")``. A quote inside a literal is
    escaped there (``\\"``), so only the tree's own keys match.

    Examples
    --------
    >>> import polars as pl
    >>> check_polars_tree(pl.sql_expr("x > 1").meta.serialize(format="json"), "x > 1")
    >>> tree = pl.sql_expr("x IN (SELECT 1)").meta.serialize(format="json")
    >>> check_polars_tree(tree, "?")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bubbleup.errors.PredicateError: --where predicate '?' reads a query plan (SubPlan); ...
    """
    match = _PLAN_KEYS.search(serialized)
    if match:
        raise _refuse(
            option, text, f"reads a query plan ({match.group(1)}); a predicate is a "
            "condition on each event's own columns"
        )  # fmt: skip
