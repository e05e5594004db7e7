"""Text formats stream: bounded memory, widened types, bad input named by file and line, and a
text cache that is reused, bounded and leaves nothing behind after a failure."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

import bubbleup
from bubbleup.errors import SourceError
from bubbleup.io import cache
from bubbleup.io.paths import kind_of
from bubbleup.io.text import INFER_ROWS, scan_csv, scan_ndjson
from bubbleup.pipeline.load import load
from tests.conftest import ROOT
from tests.test_cli_errors import assert_error, run


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty text cache for one test."""
    root = tmp_path / "cache"
    monkeypatch.setenv("BUBBLEUP_CACHE_DIR", str(root))
    return root / f"text-v{cache.VERSION}"


def _entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def _events(n: int) -> pl.DataFrame:
    return pl.select(id=pl.int_range(0, n)).with_columns(
        region=pl.format("r{}", pl.col("id") % 3),
        status=pl.when(pl.col("id") % 50 == 0).then(pl.lit("error")).otherwise(pl.lit("ok")),
    )


@pytest.fixture(scope="module")
def million(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1,000,000-line NDJSON file whose line 500,001 is malformed."""
    path = tmp_path_factory.mktemp("big") / "events.ndjson"
    frame = _events(1_000_000)
    with open(path, "wb") as fh:
        frame.head(500_000).write_ndjson(fh)
        fh.write(b'{"id": 500000, "region": "eu", "status": oops}\n')
        frame.slice(500_001).write_ndjson(fh)
    return path


def test_malformed_line_in_the_middle_of_a_million(
    runner: CliRunner, million: Path, cache_dir: Path
) -> None:
    code, _, err = run(runner, "analyze", million, "--where", "status = 'error'")
    assert_error(code, err, 1, f"{million} line 500001 is not valid NDJSON")
    assert _entries(cache_dir) == []  # nothing left behind by the failed conversion


def test_skip_bad_lines_counts_the_skipped_line(
    runner: CliRunner, million: Path, cache_dir: Path
) -> None:
    result = bubbleup.analyze(million, where="status = 'error'", skip_bad_lines=True)
    assert result.skipped_lines == {str(million): 1}
    assert result.totals.scope_events == 999_999
    assert [p.suffix for p in cache_dir.iterdir()] == [".parquet"]  # the clean copy is gone
    code, out, err = run(runner, "analyze", million, "--where", "status = 'error'",
                         "--skip-bad-lines", "--format", "json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["skipped_lines"] == {str(million): 1}


@pytest.mark.parametrize("suffix", [".ndjson.gz", ".csv.gz"])
def test_truncated_gzip_names_file_and_line(
    runner: CliRunner, tmp_path: Path, cache_dir: Path, suffix: str
) -> None:
    frame = _events(50_000)
    buffer = tmp_path / "plain"
    if suffix.startswith(".csv"):
        frame.write_csv(buffer)
    else:
        frame.write_ndjson(buffer)
    whole = gzip.compress(buffer.read_bytes())
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(whole[: len(whole) // 2])
    code, _, err = run(runner, "analyze", path, "--where", "status = 'error'")
    assert_error(code, err, 1, f"could not read {path}: the gzip stream breaks off after line")
    assert "is it a complete file?" in err
    assert _entries(cache_dir) == []


def test_csv_row_with_too_many_fields(runner: CliRunner, tmp_path: Path, cache_dir: Path) -> None:
    path = tmp_path / "rows.csv"
    lines = ["id,region,status"] + [
        f"{i},us,{'error' if i % 7 == 0 else 'ok'}" for i in range(30_000)
    ]
    lines[20_001] = "20000,us,ok,surprise"
    path.write_text("\n".join(lines) + "\n")
    code, _, err = run(runner, "analyze", path, "--where", "status = 'error'")
    assert_error(code, err, 1, f"{path} line 20,002 has 4 fields where the header has 3")
    assert "--skip-bad-lines" in err
    assert _entries(cache_dir) == []
    result = bubbleup.analyze(path, where="status = 'error'", skip_bad_lines=True)
    assert result.skipped_lines == {str(path): 1}
    assert result.totals.scope_events == 29_999


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
@pytest.mark.parametrize(
    ("late", "dtype", "shown"),
    [(1.5, pl.Float64, 1.5), ("n/a", pl.String, "n/a")],
)
def test_type_change_after_the_guess_widens(
    tmp_path: Path, cache_dir: Path, fmt: str, late: object, dtype: pl.DataType, shown: object
) -> None:
    n = INFER_ROWS + 5_000
    values: list[object] = list(range(n))
    values[INFER_ROWS + 2_000] = late
    path = tmp_path / f"late.{fmt}"
    if fmt == "csv":
        path.write_text("code\n" + "\n".join(str(v) for v in values) + "\n")
    else:
        path.write_text("".join(json.dumps({"code": v}) + "\n" for v in values))
    frame = load(path).frame.collect()
    assert frame.schema["code"] == dtype
    assert frame["code"].null_count() == 0  # no later value silently turned into a null
    assert frame["code"][INFER_ROWS + 2_000] == shown
    assert frame["code"][INFER_ROWS + 2_001] in (INFER_ROWS + 2_001, str(INFER_ROWS + 2_001))


def test_late_value_that_is_not_a_date_keeps_the_column_text(
    tmp_path: Path, cache_dir: Path
) -> None:
    days = [f"2026-11-{1 + i % 28:02d}" for i in range(INFER_ROWS + 100)]
    days[-1] = "soon"
    path = tmp_path / "days.ndjson"
    path.write_text("".join(json.dumps({"day": d, "n": i}) + "\n" for i, d in enumerate(days)))
    frame = load(path).frame.collect()
    assert frame.schema["day"] == pl.String
    assert frame["day"][-1] == "soon"
    assert frame["day"].null_count() == 0
    good = tmp_path / "good.ndjson"
    good.write_text("".join(json.dumps({"day": d}) + "\n" for d in days[:-1]))
    assert load(good).frame.collect_schema()["day"] == pl.Date  # the date guess still works


def test_ndjson_nested_5000_levels(runner: CliRunner, tmp_path: Path, cache_dir: Path) -> None:
    path = tmp_path / "deep.ndjson"
    deep = '{"a":' * 5_000 + "1" + "}" * 5_000
    path.write_text('{"a": 1}\n' + deep + "\n")
    code, _, err = run(runner, "analyze", path, "--where", "a = 1")
    assert_error(code, err, 1, f"{path} line 2 is not valid NDJSON (nested too deeply)")
    assert "RecursionError" not in err


def _bomb(path: Path, rows: int) -> Path:
    """A gzip of ``rows`` CSV rows (10 bytes each) that compresses about 100 times."""
    with gzip.open(path, "wb", compresslevel=6) as fh:
        fh.write(b"region,status,size\n")
        block = b"us,ok,3.5\n" * 100_000
        for _ in range(rows // 100_000 - 1):
            fh.write(block)
        fh.write(b"eu,error,7.5\n" * 100_000)
    return path


def _peak_reading(path: Path, cache: Path) -> tuple[int, int]:
    """Rows read from ``path`` and the peak memory of the process that read them."""
    probe = (
        "import resource, sys, polars as pl\n"
        "from bubbleup.pipeline.load import load\n"
        "print(load(sys.argv[1]).frame.select(pl.len()).collect().item())\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), BUBBLEUP_CACHE_DIR=str(cache))
    proc = subprocess.run(
        [sys.executable, "-c", probe, str(path)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows, peak = (int(x) for x in proc.stdout.split())
    return rows, peak


def test_gzip_bomb_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """Memory stays flat as a compressed file grows: 8 times the rows (a 4 MB gzip of 400 MB
    of CSV) take at most a quarter more memory to read."""
    small = _peak_reading(_bomb(tmp_path / "small.csv.gz", 5_000_000), tmp_path / "c1")
    large = _peak_reading(_bomb(tmp_path / "large.csv.gz", 40_000_000), tmp_path / "c2")
    assert (small[0], large[0]) == (5_000_000, 40_000_000)
    assert large[1] < small[1] * 1.25, f"peaks {small[1] / 2**20:.0f}, {large[1] / 2**20:.0f} MiB"
    assert (tmp_path / "large.csv.gz").stat().st_size < 10 * 2**20


def test_cache_is_reused_keyed_and_bounded(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "e.csv"
    _events(1_000).write_csv(path)
    first = scan_csv(kind_of(str(path))).parquet
    stamp = os.stat(first).st_ino
    again = scan_csv(kind_of(str(path))).parquet
    assert again == first
    assert os.stat(again).st_ino == stamp  # reused, not converted again
    _events(1_001).write_csv(path)  # the file changes: a new entry
    changed = scan_csv(kind_of(str(path))).parquet
    assert changed != first
    assert pl.read_parquet(changed).height == 1_001
    monkeypatch.setenv("BUBBLEUP_CACHE_MAX_GB", "0")  # every older entry goes
    older = cache_dir.parent / f"text-v{cache.VERSION - 1}"  # and an older layout's entries
    older.mkdir()
    (older / "0123.parquet").write_bytes(b"PAR1")
    unrelated = cache_dir.parent / "text-vX"
    unrelated.mkdir()
    other = tmp_path / "f.ndjson"
    _events(10).write_ndjson(other)
    newest = scan_ndjson(kind_of(str(other))).parquet
    assert _entries(cache_dir) == [Path(newest).name]
    assert not older.exists()
    assert unrelated.exists()  # not ours to delete


def test_cache_entries_are_safe_to_delete(tmp_path: Path, cache_dir: Path) -> None:
    path = tmp_path / "e.ndjson"
    _events(300).write_ndjson(path)
    before = bubbleup.analyze(path, where="status = 'error'").to_json()
    for entry in cache_dir.iterdir():
        entry.unlink()
    assert bubbleup.analyze(path, where="status = 'error'").to_json() == before


def test_cache_off_uses_a_directory_removed_at_exit(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    _events(100).write_csv(path)
    probe = (
        "import sys; from bubbleup.io.cache import cache_dir\n"
        "from bubbleup.pipeline.load import load\n"
        "print(load(sys.argv[1]).frame.collect().height); print(cache_dir())\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), BUBBLEUP_CACHE_DIR="off")
    proc = subprocess.run(
        [sys.executable, "-c", probe, str(path)], capture_output=True, text=True, env=env,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    height, directory = proc.stdout.split()
    assert height == "100"
    assert not Path(directory).exists()


def test_failed_conversion_leaves_nothing(tmp_path: Path, cache_dir: Path) -> None:
    path = tmp_path / "bad.ndjson"
    path.write_text('{"a": 1}\n{"a": }\n')
    with pytest.raises(SourceError, match="line 2 is not valid NDJSON"):
        load(path)
    assert _entries(cache_dir) == []


def test_object_after_plain_values_names_the_line(
    runner: CliRunner, tmp_path: Path, cache_dir: Path
) -> None:
    """No column type holds both: one error naming the file, the line and the first line."""
    path = tmp_path / "shape.ndjson"
    lines = [json.dumps({"a": i, "b": "x"}) for i in range(INFER_ROWS + 2_000)]
    lines.append(json.dumps({"a": {"x": 1}, "b": "y"}))
    path.write_text("\n".join(lines) + "\n")
    code, _, err = run(runner, "columns", path)
    assert_error(code, err, 1, f"{path} line {INFER_ROWS + 2_001}: 'a' holds an object where "
                 "line 1 holds a plain value; make the lines agree")  # fmt: skip
    assert _entries(cache_dir) == []


def test_cached_copy_is_lz4_in_row_groups_bounded_in_memory(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy is lz4-compressed (cheaper to write and to read than zstd), in row groups of
    262,144 narrow events, and of fewer when the events are wide (bounded memory)."""
    import pyarrow.parquet as pq

    from bubbleup.io import text

    path = tmp_path / "e.csv"
    _events(300_000).write_csv(path)
    meta = pq.ParquetFile(scan_csv(kind_of(str(path))).parquet).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [262_144, 37_856]
    assert meta.row_group(0).column(0).compression == "LZ4"
    wide = tmp_path / "wide.ndjson"
    _events(10_000).with_columns(msg=pl.lit("x" * 1_000)).write_ndjson(wide)
    monkeypatch.setattr(text, "ROW_GROUP_BYTES", 4 << 20)  # about 4,100 such events
    copy = scan_ndjson(kind_of(str(wide))).parquet
    meta = pq.read_metadata(copy)
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sum(sizes) == 10_000
    assert len(sizes) == 3, sizes
    from_copy = bubbleup.analyze(wide, where="status = 'error'")
    in_memory = bubbleup.analyze(pl.read_ndjson(wide), where="status = 'error'")
    assert_frame_equal(from_copy.explanations, in_memory.explanations)
    assert_frame_equal(from_copy.attributes, in_memory.attributes)


def test_a_temporary_cache_deletes_nothing_beside_it(tmp_path: Path) -> None:
    """With the cache off, entries go to a temporary directory: folders beside that one
    (in the system's temporary folder) are not the cache's, even named like its layouts."""
    beside = tmp_path / "text-v1"
    beside.mkdir()
    session = tmp_path / "bubbleup-cache-abc"
    session.mkdir()
    assert cache.retire(session) == []
    assert beside.exists()
    assert cache.retire(tmp_path / f"text-v{cache.VERSION}") == [beside]
