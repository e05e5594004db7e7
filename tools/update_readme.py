"""Rewrite the README's first example output with what the command prints now.

Run from the repository root after a change that alters the sample's output:
``python tools/update_readme.py`` (tests/test_docs.py fails until the README is current).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

from bubbleup.interfaces.cli import app

README = Path(__file__).resolve().parent.parent / "README.md"


def main() -> None:
    text = README.read_text()
    command = re.search(r"\.venv/bin/bubbleup (analyze [^\n]+)\n", text)
    assert command is not None
    out = CliRunner().invoke(app, shlex.split(command.group(1)))
    assert out.exit_code == 0, out.stderr
    start = text.index("```text\n") + len("```text\n")
    end = text.index("```", start)
    text = text[:start] + out.stdout.rstrip() + "\n" + text[end:]
    # excerpts: the first lines of an output, then "..." (see tests/test_cli_look.py)
    for marker, args in EXCERPTS:
        start = text.index("```text\n", text.index(marker)) + len("```text\n")
        end = text.index("```", start)
        lines = text[start:end].rstrip("\n").splitlines()
        out = CliRunner().invoke(app, [args[0], "sample_data/builds.parquet", "--where",
                                       "exit_reason = 'oom'", *args[1:]])
        assert out.exit_code == 0, out.stderr
        fresh = [*[x.rstrip() for x in out.stdout.splitlines()][:len(lines) - 1], "..."]
        text = text[:start] + "\n".join(fresh) + "\n" + text[end:]
    README.write_text(text)


EXCERPTS = [
    ("--drill 2 --top 5\n", ["analyze", "--drill", "2", "--top", "5"]),
    ("--explanation 1 --limit 2\n", ["rows", "--explanation", "1", "--limit", "2"]),
]


if __name__ == "__main__":
    main()
