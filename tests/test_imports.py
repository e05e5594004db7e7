"""A quick start: ``import bubbleup``, ``import bubbleup.interfaces.cli`` and the CLI's
``--help``, ``--version`` and usage errors load none of the heavy modules (polars, numpy,
pyarrow, scipy, pandas, Spark, matplotlib, DuckDB), which load where they are used; and
``df.bubbleup`` still works whichever of polars and bubbleup is imported first.

Guarded by which modules a real process loads, not by time (timings are in bench/README.md).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import bubbleup

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("polars", "scipy", "numpy", "pyarrow", "pyspark", "matplotlib", "duckdb", "pandas")

#: Runs the console script's entry point, ``bubbleup.interfaces.cli:main``, with argv[2:] as
#: its arguments, then writes the top-level names in sys.modules to the file argv[1].
ENTRY_POINT = """
import sys
out, sys.argv = sys.argv[1], ["bubbleup", *sys.argv[2:]]
from bubbleup.interfaces.cli import main
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code
with open(out, "w") as fh:
    fh.write(" ".join(sorted(sys.modules)))
sys.exit(code)
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(),
        timeout=120,
    )


def _top_level(names: str) -> set[str]:
    return {m.split(".")[0] for m in names.split()}


def _heavy(loaded: set[str]) -> list[str]:
    return sorted(loaded & set(HEAVY))


@pytest.mark.parametrize("module", ["bubbleup", "bubbleup.interfaces.cli"])
def test_import_loads_no_heavy_module(module: str) -> None:
    proc = _python("-c", f"import {module}, sys; print(' '.join(sorted(sys.modules)))")
    assert proc.returncode == 0, proc.stderr
    loaded = _top_level(proc.stdout)
    assert "bubbleup" in loaded  # the probe saw the real import
    assert not _heavy(loaded), _heavy(loaded)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--help"], 0),
        (["--version"], 0),
        (["analyze", "--help"], 0),
        (["columns", "--help"], 0),
        (["rows", "--help"], 0),
        (["mcp", "--help"], 0),
        (["explore", "--help"], 0),
        ([], 2),  # no command: the help, as a usage error
        (["analyze"], 2),  # the source is missing
        (["analyze", "sample_data/builds.parquet", "--bogus"], 2),  # an unknown flag
        (["analyze", "sample_data/builds.parquet", "--top", "x"], 2),
        (["analyze", "sample_data/builds.parquet", "-w", "x = 1", "--max-order", "5"], 2),
        (["analyze", "sample_data/builds.parquet", "-w", "x = 1", "--max-order", "x"], 2),
        (["rows", "sample_data/builds.parquet", "--weight", "w", "--no-weight"], 2),
        (["nosuch"], 2),  # an unknown command
    ],
)
def test_quick_answers_load_no_heavy_module(args: list[str], code: int, tmp_path: Path) -> None:
    out = tmp_path / "modules.txt"
    proc = _python("-c", ENTRY_POINT, str(out), *args)
    assert proc.returncode == code, proc.stderr[-2000:]
    loaded = _top_level(out.read_text())
    assert {"bubbleup", "typer"} <= loaded  # the probe saw the real run
    assert not _heavy(loaded), _heavy(loaded)
    assert "Traceback" not in proc.stderr
    assert "╭─" not in proc.stderr
    if code == 0:
        assert proc.stdout.strip()
        assert not proc.stderr
        # help and version need no value coerced: typer then leaves pydantic unimported
        assert "pydantic" not in loaded
    else:  # one error line (with no arguments at all: the help, on stderr)
        assert "Error: " in proc.stderr if args else proc.stderr.startswith("Usage: ")


def test_python_m_bubbleup_help_loads_no_heavy_module() -> None:
    """``python -m bubbleup`` (bubbleup/__main__.py) starts as quickly as the console script."""
    proc = _python("-X", "importtime", "-m", "bubbleup", "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert {"bubbleup", "typer"} <= loaded  # importtime lines were read
    assert not _heavy(loaded), _heavy(loaded)


def test_an_analysis_still_loads_what_it_needs(tmp_path: Path) -> None:
    """The guards above are not vacuous: running an analysis does load the heavy modules."""
    out = tmp_path / "modules.txt"
    args = ["analyze", "sample_data/builds.parquet", "-w", "exit_reason = 'oom'", "-f", "json"]
    args += ["--max-order", "3"]  # the combinations too
    proc = _python("-c", ENTRY_POINT, str(out), *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = out.read_text().split()
    assert {"polars", "scipy", "numpy", "pyarrow"} <= _top_level(" ".join(loaded))
    assert '"explanations"' in proc.stdout
    # scipy.stats alone would add half a second to every analysis: score uses scipy.special
    assert "scipy.special" in loaded
    assert not [name for name in loaded if name.startswith("scipy.stats")]
    # nor pandas (another 0.2-0.3 s), which pyarrow imports to check a Python value's type
    assert "pandas" not in loaded


def test_the_lazy_names_are_the_real_ones() -> None:
    """``from bubbleup import ...``, ``__all__`` and ``dir()`` work as if imported eagerly."""
    from bubbleup import Result, analyze, describe_columns, explore

    assert analyze is importlib.import_module("bubbleup.pipeline.analyze").analyze
    assert Result is importlib.import_module("bubbleup.pipeline.result").Result
    assert describe_columns is importlib.import_module("bubbleup.pipeline.columns").describe_columns
    assert explore is importlib.import_module("bubbleup.interfaces.explore").explore
    assert set(bubbleup.__all__) <= set(dir(bubbleup))
    assert all(getattr(bubbleup, name) is not None for name in bubbleup.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        bubbleup.nope  # noqa: B018


def test_star_import_in_a_fresh_process() -> None:
    proc = _python(
        "-c",
        "import sys\nfrom bubbleup import *\n"
        "assert 'polars' in sys.modules  # analyze, Result: imported on demand\n"
        "print(analyze.__module__, Result.__module__, describe_columns.__module__)",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        "bubbleup.pipeline.analyze",
        "bubbleup.pipeline.result",
        "bubbleup.pipeline.columns",
    ]


#: Runs in a fresh process after the imports under test; prints what df.bubbleup gave.
USE_NAMESPACE = """
df = pl.read_parquet("sample_data/builds.parquet")
frame = df.bubbleup.analyze(where="exit_reason = 'oom'").explanations
lazy = df.lazy().bubbleup.analyze(where="exit_reason = 'oom'").explanations
assert frame.equals(lazy)
direct = bubbleup.analyze(df, where="exit_reason = 'oom'").explanations
assert frame.equals(direct)
from bubbleup.interfaces.namespace import _AfterPolars
assert not any(isinstance(f, _AfterPolars) for f in sys.meta_path), sys.meta_path
print(frame.height, frame["label"][1])
"""


@pytest.mark.parametrize(
    "imports",
    [
        "import polars as pl\nimport bubbleup",  # polars first
        "import bubbleup\nassert 'polars' not in sys.modules\nimport polars as pl",
        "import bubbleup\nfrom polars import DataFrame\nimport polars as pl",  # a name first
        # asking whether polars is installed does not use up the hook
        "import bubbleup, importlib.util\nassert importlib.util.find_spec('polars')\n"
        "assert 'polars' not in sys.modules\nimport polars as pl",
        "import bubbleup.interfaces.cli\nimport polars as pl\nimport bubbleup",
    ],
    ids=["polars-first", "bubbleup-first", "polars-name-first", "find-spec-first", "cli-first"],
)
def test_namespace_whichever_is_imported_first(imports: str) -> None:
    """``df.bubbleup`` on DataFrame and LazyFrame, with no warning (``-W error``)."""
    proc = _python("-c", f"import sys\n{imports}\n{USE_NAMESPACE}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    height, label = proc.stdout.split(" ", 1)
    assert int(height) > 0
    assert label.strip() == "kernel_version = '5.15.0-91-generic'"


def test_namespace_waits_for_polars_without_importing_it() -> None:
    """Before polars is imported, bubbleup has left a hook, not polars, in the process."""
    proc = _python(
        "-c",
        "import sys, bubbleup\n"
        "from bubbleup.interfaces.namespace import _AfterPolars\n"
        "print('polars' in sys.modules, sum(isinstance(f, _AfterPolars) for f in sys.meta_path))\n"
        "import polars\n"
        "print(hasattr(polars.DataFrame, 'bubbleup'), hasattr(polars.LazyFrame, 'bubbleup'))",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["False", "1", "True", "True"]
