"""The command line of issue 5: --format html, --histograms, --drill, rows, progress.

Bad input gives one line ``Error: ...`` on stderr with the right exit code, and a failed
write leaves no file behind.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

import bubbleup
from bubbleup.interfaces import cli
from bubbleup.interfaces.cli import app
from tests.conftest import ROOT, SAMPLE
from tests.test_cli_errors import assert_error, run

OOM = "exit_reason = 'oom'"


def analyze(runner: CliRunner, *args: str | Path) -> tuple[int, str, str]:
    return run(runner, "analyze", SAMPLE, "--where", OOM, *(str(a) for a in args))


@pytest.fixture(scope="module")
def sample() -> bubbleup.Result:
    return bubbleup.analyze(SAMPLE, where=OOM)


def _rank(result: bubbleup.Result, label: str) -> int:
    return int(result.explanations.filter(pl.col("label") == label)["rank"].item())


KERNEL = "kernel_version = '5.15.0-91-generic'"


def test_html_to_a_terminal_is_refused(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_stdout_is_terminal", lambda: True)
    code, out, err = analyze(runner, "--format", "html")
    assert_error(code, err, 2, "--format html writes a whole page; give --output report.html")
    assert out == ""


def test_html_to_a_pipe_and_to_a_file(runner: CliRunner, tmp_path: Path) -> None:
    code, out, err = analyze(runner, "--format", "html")
    assert code == 0, err
    assert out.startswith("<!DOCTYPE html>")
    target = tmp_path / "oom.html"
    code, out2, err = analyze(runner, "--format", "html", "--output", target)
    assert code == 0, err
    assert out2 == ""
    written = target.read_text(encoding="utf-8")
    assert written == out.replace("--output report.html", f"--output {target}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["oom.html"]


def test_html_output_in_a_missing_directory(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "report.html"
    code, _, err = analyze(runner, "--format", "html", "--output", target)
    assert_error(code, err, 1, f"cannot write {target}: directory {target.parent} does not exist")
    assert list(tmp_path.iterdir()) == []


def test_html_output_onto_a_directory(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.mkdir()
    code, _, err = analyze(runner, "--format", "html", "--output", target)
    assert_error(code, err, 1, f"cannot write {target}: Is a directory")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert list(target.iterdir()) == []


def test_failed_write_leaves_no_partial_file(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(src: str, dst: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cli.os, "replace", full)
    target = tmp_path / "report.html"
    code, _, err = analyze(runner, "--format", "html", "--output", target)
    assert_error(code, err, 1, f"cannot write {target}: No space left on device")
    assert list(tmp_path.iterdir()) == []


def _can_run_as_nobody() -> bool:
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import bubbleup"], user=65534, group=65534,
            extra_groups=[], capture_output=True, check=False, cwd="/",
        )  # fmt: skip
    except OSError:  # the interpreter itself is not readable by others
        return False
    return probe.returncode == 0


def test_html_output_without_write_permission(tmp_path: Path) -> None:
    """A real permission error: as a normal user, or as root dropped to 'nobody'."""
    shared = Path(tempfile.mkdtemp(prefix="bubbleup-perm-"))
    try:
        shared.chmod(0o755)
        source = shared / "events.parquet"
        shutil.copy(SAMPLE, source)
        source.chmod(0o644)
        locked = shared / "locked"
        locked.mkdir(mode=0o555)
        locked.chmod(0o555)
        target = locked / "report.html"
        args = [sys.executable, "-m", "bubbleup", "analyze", str(source), "--where", OOM,
                "--format", "html", "--output", str(target)]  # fmt: skip
        as_user: dict[str, object] = {}
        if os.geteuid() == 0:
            if _can_run_as_nobody():
                as_user = {"user": 65534, "group": 65534, "extra_groups": []}
            else:  # Python or the checkout is not readable by others: /sys refuses root too
                target = Path("/sys/bubbleup-report.html")
                args[-1] = str(target)
        out = subprocess.run(args, capture_output=True, text=True, check=False, cwd="/",
                             **as_user)  # type: ignore[call-overload]  # fmt: skip
        assert_error(out.returncode, out.stderr, 1, f"cannot write {target}: Permission denied")
        assert not target.exists()
        assert list(locked.iterdir()) == []
    finally:
        shutil.rmtree(shared)


def test_drill_from_the_command_line(runner: CliRunner, sample: bubbleup.Result) -> None:
    kernel = _rank(sample, KERNEL)
    code, out, err = analyze(runner, "--drill", kernel, "--top", "3")
    assert code == 0, err
    assert f"scope  {KERNEL}: 14,276 events" in out
    first = next(line for line in out.splitlines() if line.startswith("1 "))
    assert "build_tool = 'gradle'" in first
    assert "99.2%" in first
    code, out, err = analyze(runner, "--drill", kernel, "--drill", "1", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["scope"]["filter"] == f"({KERNEL}) AND (build_tool = 'gradle')"


def test_drill_out_of_range(runner: CliRunner, sample: bubbleup.Result) -> None:
    code, _, err = analyze(runner, "--drill", "5000")
    count = sample.explanations.height
    assert_error(code, err, 2, f"there is no explanation 5000 to drill into; they are numbered "
                 f"1 to {count}")  # fmt: skip


def test_histograms(runner: CliRunner, sample: bubbleup.Result) -> None:
    code, out, err = analyze(runner, "--histograms", "--top", "3")
    assert code == 0, err
    assert "value distributions, selection vs baseline" in out
    charted = sample.attributes.filter((pl.col("role") == "context") & (pl.col("kind") != "time"))
    for a in charted.head(6).iter_rows(named=True):
        kind = a["kind"] + (" ranges" if a["binned"] else "")
        assert f"{a['attribute']}  ({kind}, distance {a['distance']:.2f})" in out
    line = next(x for x in out.splitlines() if x.startswith("5.15.0-91-generic "))
    assert "86.7%" in line
    assert "6.3%" in line
    code, _, err = analyze(runner, "--histograms", "--format", "json")
    assert_error(code, err, 2, "--histograms draws in the table format")


def test_rows_command(runner: CliRunner, sample: bubbleup.Result) -> None:
    code, out, err = run(runner, "rows", SAMPLE, "--where", OOM, "--explanation", "1",
                         "--limit", "2")  # fmt: skip
    assert code == 0, err
    first = sample.explanations.row(0, named=True)
    label = first["label"]
    assert f"selection: {OOM} AND {label}: 2 of {first['selection_events']:,} events" in out
    assert f"baseline: NOT ({OOM}) AND {label}: 2 of {first['baseline_events']:,} events" in out
    lines = out.splitlines()
    assert lines[3].startswith("build_id ")  # which event, and when
    assert lines[4].startswith("ts ")
    assert lines[5].startswith("kernel_version ")  # then the explanation's attributes
    assert lines[6].startswith("build_tool ")
    code, out, err = run(runner, "rows", SAMPLE, "--where", OOM, "--format", "json", "-n", "3")
    assert code == 0, err
    records = json.loads(out)
    assert [r["side"] for r in records] == ["selection"] * 3 + ["baseline"] * 3
    assert all((r["exit_reason"] == "oom") == (r["side"] == "selection") for r in records)
    code, out, err = run(runner, "rows", SAMPLE, "--where", OOM, "--format", "csv", "-n", "1")
    assert code == 0, err
    frame = pl.read_csv(io.StringIO(out))
    assert frame["side"].to_list() == ["selection", "baseline"]


def test_rows_bad_explanation(runner: CliRunner, sample: bubbleup.Result) -> None:
    code, _, err = run(runner, "rows", SAMPLE, "--where", OOM, "--explanation", "0")
    count = sample.explanations.height
    assert_error(code, err, 2, f"there is no explanation 0; they are numbered 1 to {count}")
    out = runner.invoke(app, ["rows", str(SAMPLE), "--where", OOM, "--limit", "0"])
    assert out.exit_code == 2


def test_rows_to_a_file(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "rows.txt"
    code, out, err = run(runner, "rows", SAMPLE, "--where", OOM, "--output", target)
    assert code == 0, err
    assert out == ""
    assert "selection: exit_reason = 'oom': 5 of 2,421 events" in target.read_text()


def _terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    buffer = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=buffer, force_terminal=True, width=100))
    return buffer


def test_progress_only_on_a_terminal(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = analyze(runner, "--format", "json")
    assert code == 0
    assert err == ""  # stderr is not a terminal here: no progress
    buffer = _terminal(monkeypatch)
    code, _, _ = analyze(runner, "--format", "json")
    assert code == 0
    shown = buffer.getvalue()
    # which intermediate stages get painted depends on timing; the last one always is
    stages: list[str] = []
    bubbleup.analyze(SAMPLE, where=OOM, progress=stages.append)
    assert f"bubbleup: {stages[-1]}" in shown
    buffer = _terminal(monkeypatch)
    code, _, _ = analyze(runner, "--format", "json", "--quiet")
    assert code == 0
    assert buffer.getvalue() == ""


def _readme_block(after: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("```text", text.index(after)) + len("```text\n")
    return [line.rstrip() for line in text[start : text.index("```", start)].splitlines()]


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("--drill 2 --top 5\n", ["analyze", "--drill", "2", "--top", "5"]),
        ("--explanation 1 --limit 2\n", ["rows", "--explanation", "1", "--limit", "2"]),
    ],
)
def test_readme_examples_are_real(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, command: str, args: list[str]
) -> None:
    monkeypatch.chdir(ROOT)
    code, out, err = run(runner, args[0], "sample_data/builds.parquet", "--where", OOM, *args[1:])
    assert code == 0, err
    shown = _readme_block(command)
    assert shown[-1] == "..."  # the start of the output
    assert shown[:-1] == [x.rstrip() for x in out.splitlines()][: len(shown) - 1]


def test_rows_command_has_help_and_docs(runner: CliRunner) -> None:
    out = runner.invoke(app, ["rows", "--help"])
    assert out.exit_code == 0
    assert "--explanation" in out.stdout
    readme = (ROOT / "README.md").read_text()
    assert "bubbleup rows" in readme
    assert "--drill N" in readme
    assert "--histograms" in readme
