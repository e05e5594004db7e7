"""Rewrite the README's first example output with what the command prints now.

Run from the repository root after a change that alters the sample's output:
``python tools/update_readme.py`` (tests/test_docs.py fails until the README is current).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

from bubbleup.cli import app

README = Path(__file__).resolve().parent.parent / "README.md"


def main() -> None:
    text = README.read_text()
    command = re.search(r"\.venv/bin/bubbleup (analyze [^\n]+)\n", text)
    assert command is not None
    out = CliRunner().invoke(app, shlex.split(command.group(1)))
    assert out.exit_code == 0, out.stderr
    start = text.index("```text\n") + len("```text\n")
    end = text.index("```", start)
    README.write_text(text[:start] + out.stdout.rstrip() + "\n" + text[end:])


if __name__ == "__main__":
    main()
