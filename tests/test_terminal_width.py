"""The table in a real terminal of 80 columns: bars give way, figures never do."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

from tests.conftest import SAMPLE

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _in_terminal(args: list[str], columns: int) -> str:
    """Run ``args`` with stdout on a pseudo-terminal of ``columns`` x 50; its screen text."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(args, stdout=slave, stderr=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(master)
    return ANSI.sub("", b"".join(chunks).decode()).replace("\r\n", "\n")


def test_every_figure_fits_in_80_columns() -> None:
    screen = _in_terminal(
        [sys.executable, "-m", "bubbleup", "analyze", str(SAMPLE), "--where",
         "exit_reason = 'oom'", "--top", "8"], 80,
    )  # fmt: skip
    lines = screen.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    rows = [line for line in lines if re.match(r"^\s*\d+ │", line)]
    assert len(rows) == 8
    for row in rows:
        cells = [c.strip() for c in row.split("│")]
        # rank, label, selection, baseline, lift, q, significance: none cut
        assert re.fullmatch(r"\d+(\.\d)?%", cells[2]), row
        assert re.fullmatch(r"\d+(\.\d+)?%", cells[3]), row
        assert re.fullmatch(r"[\d,.]+x", cells[4]), row
        assert re.fullmatch(r"<1e-300|[\d.e-]+", cells[5]), row
        assert cells[6] == "✔", row
    assert "kernel_version =" in screen


def test_wide_terminal_keeps_the_bars() -> None:
    screen = _in_terminal(
        [sys.executable, "-m", "bubbleup", "analyze", str(SAMPLE), "--where",
         "exit_reason = 'oom'", "--top", "3"], 140,
    )  # fmt: skip
    first = next(line for line in screen.splitlines() if re.match(r"^\s*1 │", line))
    assert "██████████" in first
    assert "86.0%" in first
