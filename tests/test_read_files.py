"""Many files, hive partitions, compression, differing schemas and nested attributes.

Every file is written by the real writer: polars and pyarrow for Parquet (hive partitions
included), polars for CSV and NDJSON, Python's gzip and the zstandard package for
compressed text.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

import bubbleup
from bubbleup.interfaces.cli import app
from bubbleup.pipeline.load import load
from tests.conftest import make_events

WHERE = "outcome = 'error'"


def _core(result: bubbleup.Result) -> pl.DataFrame:
    return result.explanations.select(
        "label",
        "selection_count",
        "baseline_count",
        "selection_events",
        "baseline_events",
        "p_value",
    ).sort("label")


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return make_events(3000, seed=11, planted=True)


@pytest.fixture(scope="module")
def texts(tmp_path_factory: pytest.TempPathFactory, frame: pl.DataFrame) -> dict[str, Path]:
    """The same events as CSV and NDJSON: plain, gzip and zstd."""
    folder = tmp_path_factory.mktemp("texts")
    paths: dict[str, Path] = {}
    for fmt in ("csv", "ndjson"):
        plain = folder / f"events.{fmt}"
        getattr(frame, f"write_{fmt}")(plain)
        data = plain.read_bytes()
        paths[fmt] = plain
        paths[f"{fmt}.gz"] = folder / f"events.{fmt}.gz"
        paths[f"{fmt}.gz"].write_bytes(gzip.compress(data))
        paths[f"{fmt}.zst"] = folder / f"events.{fmt}.zst"
        paths[f"{fmt}.zst"].write_bytes(zstandard.ZstdCompressor(level=3).compress(data))
    return paths


@pytest.mark.parametrize("name", ["csv.gz", "csv.zst", "ndjson.gz", "ndjson.zst"])
def test_compressed_text_reads_like_plain(texts: dict[str, Path], name: str) -> None:
    plain = bubbleup.analyze(texts[name.split(".")[0]], where=WHERE)
    packed = bubbleup.analyze(texts[name], where=WHERE)
    assert_frame_equal(_core(plain), _core(packed))


def test_hive_partitions_become_attributes(tmp_path: Path, frame: pl.DataFrame) -> None:
    """pyarrow writes region=.../ directories; the partition key is ranked like a column."""
    root = tmp_path / "hive"
    table = frame.drop_nulls("region").to_arrow()
    pq.write_to_dataset(table, root, partition_cols=["region"])
    assert sorted(p.name for p in root.iterdir()) == [
        "region=ap",
        "region=eu",
        "region=sa",
        "region=us",
    ]
    assert "region" not in pq.read_schema(next(root.rglob("*.parquet"))).names
    result = bubbleup.analyze(root, where=WHERE)
    reference = bubbleup.analyze(frame.drop_nulls("region"), where=WHERE)
    assert_frame_equal(_core(result), _core(reference))
    assert "region = 'eu'" in result.explanations["label"][0]


def test_polars_hive_partitions_with_integer_key(tmp_path: Path, frame: pl.DataFrame) -> None:
    root = tmp_path / "by_mem"
    frame.drop_nulls("memory_mb").write_parquet(root, partition_by=["memory_mb", "tier"])
    loaded = load(root)
    schema = loaded.frame.collect_schema()
    assert schema["memory_mb"] == pl.Int64
    assert schema["tier"] == pl.String
    counts = loaded.frame.group_by("memory_mb").len().collect().sort("memory_mb")
    expected = frame.drop_nulls("memory_mb").group_by("memory_mb").len().sort("memory_mb")
    assert_frame_equal(counts, expected, check_dtypes=False)


def test_several_paths_globs_and_recursive_directories(tmp_path: Path, frame: pl.DataFrame) -> None:
    (tmp_path / "a" / "deep").mkdir(parents=True)
    frame.slice(0, 1000).write_parquet(tmp_path / "a" / "one.parquet")
    frame.slice(1000, 1000).write_parquet(tmp_path / "a" / "deep" / "two.parquet")
    frame.slice(2000).write_ndjson(tmp_path / "three.ndjson")
    (tmp_path / "a" / "_SUCCESS").write_text("")
    (tmp_path / "a" / "notes.txt").write_text("not events")
    reference = _core(bubbleup.analyze(frame, where=WHERE))
    both = bubbleup.analyze([tmp_path / "a", tmp_path / "three.ndjson"], where=WHERE)
    assert_frame_equal(_core(both), reference)
    globbed = bubbleup.analyze(
        [str(tmp_path / "**" / "*.parquet"), str(tmp_path / "*.ndjson")], where=WHERE
    )
    assert_frame_equal(_core(globbed), reference)
    assert "3 files" in globbed.source or "(+1 more" in globbed.source


def test_schemas_differ_union_by_name_with_widening(tmp_path: Path) -> None:
    pl.DataFrame(
        {"status": ["ok", "error"], "code": pl.Series([1, 2], dtype=pl.Int32), "x": [1, 2]}
    ).write_parquet(tmp_path / "a.parquet")
    pl.DataFrame(
        {"code": pl.Series([3], dtype=pl.Int64), "status": ["ok"], "x": [0.5], "only_b": [True]}
    ).write_parquet(tmp_path / "b.parquet")
    pl.DataFrame({"status": ["ok"], "code": [None], "x": [None]}).write_parquet(
        tmp_path / "c.parquet"
    )
    got = load(tmp_path).frame.collect()
    assert got.schema == pl.Schema(
        {"status": pl.String, "code": pl.Int64, "x": pl.Float64, "only_b": pl.Boolean}
    )
    assert got.to_dict(as_series=False) == {
        "status": ["ok", "error", "ok", "ok"],
        "code": [1, 2, 3, None],
        "x": [1.0, 2.0, 0.5, None],
        "only_b": [None, None, True, None],
    }


def test_csv_and_ndjson_mix_by_name(tmp_path: Path) -> None:
    pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}).write_csv(tmp_path / "p.csv")
    (tmp_path / "q.ndjson").write_text('{"b": "z", "c": {"d": 1.5}}\n')
    got = load([tmp_path / "p.csv", tmp_path / "q.ndjson"]).frame.collect()
    assert got.columns == ["a", "b", "c.d"]
    assert got["b"].to_list() == ["x", "y", "z"]


def test_nested_ndjson_flattened_to_dotted_names(tmp_path: Path, runner: CliRunner) -> None:
    rows = []
    for i in range(400):
        bad = i % 4 == 0
        rows.append(
            {
                "http": {
                    "request": {"method": "POST" if bad else "GET"},
                    "route": "/checkout" if bad else f"/item/{i % 7}",
                },
                "k8s": {"pod": {"name": f"pod-{i % 3}"}},
                "tags": ["a", "b"] if i % 2 else ["c"],
                "error": bad and i % 8 == 0,
            }
        )
    path = tmp_path / "nested.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = runner.invoke(app, ["columns", str(path), "--format", "json"])
    assert out.exit_code == 0, out.stderr
    names = [c["column"] for c in json.loads(out.stdout)]
    assert names == ["http.request.method", "http.route", "k8s.pod.name", "tags", "error"]
    result = bubbleup.analyze(path, where="error")
    assert result.explanations["label"][0] in (
        "\"http.request.method\" = 'POST'",
        "\"http.route\" = '/checkout'",
    )
    left = {x.column: x.reason for x in result.left_out}
    assert left["tags"].startswith("list: not ranked yet")
    quoted = bubbleup.analyze(path, where="\"http.route\" = '/checkout'")
    assert quoted.totals.selection_events == 100
    listed = bubbleup.analyze(path, where="array_contains(tags, 'c')")
    assert listed.totals.selection_events == 200


def test_parquet_struct_columns_flattened(tmp_path: Path) -> None:
    table = pa.table(
        {
            "resource": pa.array(
                [{"service": {"name": "cart", "version": "1.2"}}] * 3
                + [{"service": {"name": "cart", "version": "1.3"}}] * 3
            ),
            "ok": [True, True, True, False, False, True],
        }
    )
    pq.write_table(table, tmp_path / "s.parquet")
    loaded = load(tmp_path / "s.parquet")
    assert loaded.frame.collect_schema().names() == [
        "resource.service.name",
        "resource.service.version",
        "ok",
    ]
    in_memory = load(pl.from_arrow(table))
    assert in_memory.frame.collect_schema().names()[0] == "resource.service.name"


def test_unquoted_dotted_name_gets_a_hint(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "e.ndjson"
    path.write_text('{"http": {"route": "/a"}, "n": 1}\n{"http": {"route": "/b"}, "n": 2}\n')
    out = runner.invoke(app, ["analyze", str(path), "--where", "http.route = '/a'"])
    assert out.exit_code == 1
    assert out.stderr.strip() == (
        "Error: column 'http' in --where not found; names with dots take double quotes in "
        'SQL: "http.route"'
    )


def test_input_files_are_not_modified(texts: dict[str, Path]) -> None:
    before = {k: (p.read_bytes(), p.stat().st_mtime_ns) for k, p in texts.items()}
    for p in texts.values():
        bubbleup.analyze(p, where=WHERE)
    assert before == {k: (p.read_bytes(), p.stat().st_mtime_ns) for k, p in texts.items()}
