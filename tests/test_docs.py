"""Docs that cannot drift: the README's example output is what the command prints."""

from __future__ import annotations

import re
import shlex

from typer.testing import CliRunner

from bubbleup.interfaces.cli import app
from tests.conftest import ROOT


def test_readme_example_output_is_current() -> None:
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"\.venv/bin/bubbleup (analyze [^\n]+)\n", readme)
    assert command is not None
    shown = re.search(r"```text\n(.*?)```", readme, re.S)
    assert shown is not None
    out = CliRunner().invoke(app, shlex.split(command.group(1)))
    assert out.exit_code == 0, out.stderr
    assert out.stdout.rstrip() == shown.group(1).rstrip()


def test_readme_documents_every_analyze_option() -> None:
    readme = (ROOT / "README.md").read_text()
    out = CliRunner().invoke(app, ["analyze", "--help"])
    options = set(re.findall(r"(--[a-z][a-z-]+)", out.stdout)) - {"--help"}
    missing = sorted(o for o in options if o not in readme)
    assert not missing, f"options not in README.md: {missing}"


def test_json_doc_lists_every_explanation_field() -> None:
    import bubbleup

    doc = (ROOT / "docs" / "json.md").read_text()
    result = bubbleup.analyze(ROOT / "sample_data" / "builds.parquet", where="exit_reason = 'oom'")
    data = result.to_dict(top=1)
    for key in [*data["explanations"][0], *data["attributes"][0]]:
        assert f"`{key}`" in doc or f"`{key}[]`" in doc, key
    for key in data:
        assert f"`{key}" in doc, key


def test_roles_doc_lists_every_convention() -> None:
    from bubbleup.pipeline.roles import CONVENTIONS

    doc = (ROOT / "docs" / "roles.md").read_text()
    for c in CONVENTIONS:
        row = next((line for line in doc.splitlines() if line.startswith(f"| {c.what} |")), None)
        assert row is not None, c.what
        for name in (*c.names, *c.words):
            assert f"`{name}`" in row, (c.what, name)
