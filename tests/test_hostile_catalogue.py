"""Every case of the hostile-input catalogue (tests/hostile/cases.py) ends as it should:
the exit code, one ``Error: ...`` line that says what is wrong, and never a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bubbleup.interfaces.cli import app
from tests.hostile.cases import CASES, Case, argv, environment, expected_line, make_files

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("hostile")
    make_files(d)
    return d


def _run(case: Case, folder: Path) -> tuple[int, str]:
    args = argv(case, folder)
    if case.stdout is None:
        result = CliRunner().invoke(app, args)
        return result.exit_code, result.stderr
    with open(case.stdout.replace("{d}", str(folder)), "w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "bubbleup", *args], stdout=out, stderr=subprocess.PIPE,
            text=True, cwd=ROOT, env=environment(), timeout=300, check=False,
        )  # fmt: skip
    return done.returncode, done.stderr


def test_the_catalogue_is_large_and_names_are_unique() -> None:
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)
    assert all(c.code == 0 or (c.error is None) != (c.pattern is None) for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(case: Case, folder: Path) -> None:
    if case.setup is not None:
        case.setup(folder)
    code, stderr = _run(case, folder)
    assert "Traceback" not in stderr, stderr
    assert "╭─" not in stderr, stderr
    assert code == case.code, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error")]
    if case.code == 0:
        assert errors == [], stderr
        return
    lines = stderr.strip().splitlines()
    if case.usage:  # the option parser's "Usage: ... Try ... --help" comes first
        assert lines[0].startswith("Usage: "), stderr
        lines = lines[-1:]
    assert len(lines) == 1, stderr
    expected = expected_line(case, folder)
    if expected is not None:
        assert lines[0] == expected
    else:
        assert case.pattern is not None
        pattern = case.pattern.replace("{d}", re.escape(str(folder)))
        assert re.fullmatch("Error: " + pattern, lines[0]), lines[0]
