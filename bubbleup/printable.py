"""Text from data or users, made safe to show a person: control characters escaped, cut.

Values, column names, file names and predicates reach the terminal, Markdown and error
messages through :func:`printable`, so that an escape sequence in the data (clear screen,
an OSC 0 window title, an OSC 8 hyperlink) or a bidi override shows as ``\\x1b`` or
``\\u202e`` instead of acting, and a 50 MB value shows its first characters and a
``…(+N chars)`` marker. JSON and CSV keep the data exact and never pass through here.
"""

from __future__ import annotations

import re

#: Characters shown escaped: C0 and C1 controls, DEL, bidi and zero-width format
#: characters, line and paragraph separators, lone surrogates, invisible tag characters.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    "\ufeff\ufff9-\ufffb\ud800-\udfff\U000e0000-\U000e007f]"
)

#: Characters of one value shown by default in human-facing output.
LONG_VALUE = 200


_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    if match.group() in _NAMED:
        return _NAMED[match.group()]
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def cut(text: str, limit: int | None = LONG_VALUE, *, marker: str = "…(+{n:,} chars)") -> str:
    """``text`` cut to ``limit`` characters with a ``…(+N chars)`` marker (``None``: whole).

    ``marker`` is formatted with ``n``, the number of characters cut.

    Examples
    --------
    >>> cut("abcdef", 4)
    'abcd…(+2 chars)'
    >>> cut("abc", 4)
    'abc'
    >>> cut("abcdef", 3, marker="…[{n} more]")
    'abc…[3 more]'
    """
    if limit is None or len(text) <= limit:
        return text
    return text[:limit] + marker.format(n=len(text) - limit)


def printable(text: object, *, limit: int | None = LONG_VALUE) -> str:
    """``text`` (or ``str(text)``) cut to ``limit`` characters, control characters escaped.

    Work is linear in ``limit``, not in the length of ``text``.

    Examples
    --------
    >>> printable("ok\\x1b]0;pwned\\x07 \\u202egnp.exe")
    'ok\\\\x1b]0;pwned\\\\x07 \\\\u202egnp.exe'
    >>> print(printable("two\\nlines\\t\\x9b"))
    two\\nlines\\t\\x9b
    >>> printable("x" * 300, limit=5)
    'xxxxx…(+295 chars)'
    """
    out = cut(text if isinstance(text, str) else str(text), limit)
    return out if _UNSAFE.search(out) is None else _UNSAFE.sub(_escape, out)


def percent(x: float) -> str:
    """Format a share as a percentage with sensible precision.

    Examples
    --------
    >>> percent(0.9234), percent(0.0004), percent(0.0)
    ('92.3%', '0.04%', '0%')
    """
    if x == 0:
        return "0%"
    if x < 0.001:
        return f"{x * 100:.2g}%"
    return f"{x * 100:.1f}%"
