"""The same events give byte-identical JSON answers whichever format they come from."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import polars as pl
import pytest
import zstandard
from typer.testing import CliRunner

from bubbleup.interfaces.cli import app
from tests.planted import scenario

FORMATS = ("csv", "csv.gz", "tsv", "ndjson", "ndjson.gz", "ndjson.zst", "json")


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The 'pair' scenario with a timestamp, as Parquet and as every text format."""
    frame, _ = scenario("pair", n=30_000, seed=7)
    start = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    frame = frame.with_columns(
        ts=pl.datetime_range(start, start + dt.timedelta(seconds=29_999), "1s", eager=True)
        .dt.cast_time_unit("us"),
        day=pl.lit(dt.date(2026, 11, 20)),
    )  # fmt: skip
    root = tmp_path_factory.mktemp("formats")
    out = {"parquet": root / "events.parquet"}
    frame.write_parquet(out["parquet"])
    texts = frame.with_columns(ts=pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
    plain = {"csv": root / "plain.csv", "tsv": root / "events.tsv", "ndjson": root / "plain.ndjson"}
    texts.write_csv(plain["csv"])
    texts.write_csv(plain["tsv"], separator="\t")
    texts.write_ndjson(plain["ndjson"])
    for name in ("csv", "ndjson"):
        out[name] = root / f"events.{name}"
        out[name].write_bytes(plain[name].read_bytes())
        out[f"{name}.gz"] = root / f"events.{name}.gz"
        out[f"{name}.gz"].write_bytes(gzip.compress(plain[name].read_bytes()))
    out["tsv"] = plain["tsv"]
    out["ndjson.zst"] = root / "events.ndjson.zst"
    out["ndjson.zst"].write_bytes(zstandard.compress(plain["ndjson"].read_bytes()))
    out["json"] = root / "events.json"  # one JSON array, read whole
    texts.write_json(out["json"])
    return out


def _answer(path: Path, *options: str) -> str:
    result = CliRunner().invoke(
        app, ["analyze", str(path), "--where", "outcome = 'error'", "--format", "json", *options]
    )
    assert result.exit_code == 0, result.stderr
    return result.stdout.replace(json.dumps(str(path)), '"SOURCE"')


@pytest.mark.parametrize("fmt", FORMATS)
def test_same_json_from_every_format(planted: dict[str, Path], fmt: str) -> None:
    reference = _answer(planted["parquet"])
    assert '"SOURCE"' in reference
    assert json.loads(reference)["explanations"]  # a real answer, not an empty one
    assert _answer(planted[fmt]) == reference
    again = _answer(planted[fmt])  # now from the text cache
    assert again == reference


def test_time_window_same_from_text(planted: dict[str, Path]) -> None:
    window = ("--time-column", "ts", "--since", "2026-11-20T02:00:00Z")
    reference = _answer(planted["parquet"], *window)
    assert _answer(planted["ndjson.gz"], *window) == reference


@pytest.mark.parametrize("fmt", ["csv", "ndjson.gz"])
def test_same_json_when_statistics_come_from_samples(
    planted: dict[str, Path], fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above a million events the statistics come from a sample: it must not depend on how
    the Parquet files are cut into row groups (the text cache cuts them its own way)."""
    from bubbleup.pipeline import count, profile

    # small sizes stand for large ones: 30,000 events sampled like 30 million
    monkeypatch.setattr(profile, "EXACT_QUANTILE_ROWS", 4_000)
    monkeypatch.setattr(profile, "QUANTILE_SAMPLE", 2_000)
    monkeypatch.setattr(count, "QUANTILE_SAMPLE", 2_000)
    monkeypatch.setattr(count, "SELECTION_SAMPLE", 500)
    monkeypatch.setenv("BUBBLEUP_CACHE_DIR", str(tmp_path / "cache"))
    cut = tmp_path / "events.parquet"  # 10 row groups, where the cache writes one
    pl.read_parquet(planted["parquet"]).write_parquet(cut, row_group_size=3_000)
    reference = _answer(cut).replace(json.dumps(str(cut)), '"SOURCE"')
    assert '"SOURCE"' in reference
    assert json.loads(reference)["explanations"]
    assert _answer(planted[fmt]) == reference
    assert _answer(planted["parquet"]).replace('"SOURCE"', "") == reference.replace('"SOURCE"', "")
    # the same events in three files of a folder: blocks by position in the whole source
    folder = tmp_path / "parts"
    folder.mkdir()
    frame = pl.read_parquet(planted["parquet"])
    for number, start in enumerate((0, 7_000, 19_000)):
        end = {0: 7_000, 7_000: 19_000, 19_000: frame.height}[start]
        frame.slice(start, end - start).write_parquet(folder / f"part-{number}.parquet")
    parts = _answer(folder).replace(json.dumps(f"{folder} (3 files)"), '"SOURCE"')
    assert parts == reference
