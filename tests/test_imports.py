"""A quick start: the CLI answers ``--help``, ``--version`` and usage errors without loading
the heavy modules (scipy, numpy, pyarrow, Spark, matplotlib), which load where they are used.

Guarded by which modules a real process loads, not by time (timings are in bench/README.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("scipy", "numpy", "pyarrow", "pyspark", "matplotlib", "duckdb", "pandas")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _loaded(*args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Top-level packages a ``python -X importtime ARGS`` process imported, and the process."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(),
        timeout=120,
    )
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names, proc


def test_import_cli_loads_no_heavy_module() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import bubbleup.interfaces.cli, sys; print(' '.join(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    loaded = {m.split(".")[0] for m in proc.stdout.split()}
    assert {"bubbleup", "typer"} <= loaded  # the probe saw the real import
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--help"], 0),
        (["--version"], 0),
        (["analyze", "--help"], 0),
        (["analyze"], 2),  # a usage error: the source is missing
        (["analyze", "sample_data/builds.parquet", "--top", "x"], 2),
    ],
)
def test_quick_answers_load_no_heavy_module(args: list[str], code: int) -> None:
    loaded, proc = _loaded("-m", "bubbleup", *args)
    assert proc.returncode == code, proc.stderr[-2000:]
    assert {"bubbleup", "polars"} <= loaded  # importtime lines were read
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert "Traceback" not in proc.stderr


def test_an_analysis_still_loads_what_it_needs() -> None:
    """The guard above is not vacuous: running an analysis does load scipy and numpy."""
    loaded, proc = _loaded(
        "-m",
        "bubbleup",
        "analyze",
        "sample_data/builds.parquet",
        "--where",
        "exit_reason = 'oom'",
        "--format",
        "json",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {"scipy", "numpy", "pyarrow"} <= loaded
