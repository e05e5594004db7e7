"""Shared fixtures: small event datasets written by the real writers, and a CLI runner."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from typer.testing import CliRunner


@pytest.fixture(autouse=True, scope="session")
def _text_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The text cache of the tests (and of the CLI processes they start): a temporary one."""
    import os

    os.environ["BUBBLEUP_CACHE_DIR"] = str(tmp_path_factory.mktemp("text-cache"))


def item_holds(item: dict, value: object) -> bool:
    """Whether one value satisfies an explanation's item, in plain Python: missing and NaN
    satisfy only ``is_null``; text and booleans compare as their text, numbers as floats."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if item["op"] == "is_null":
        return missing
    if missing:
        return False
    if item["op"] == "=":
        if isinstance(value, (bool, str)):
            return str(value).lower() == item["value"] or str(value) == item["value"]
        return float(value) == float(item["value"])  # type: ignore[arg-type]
    x = float(value)  # type: ignore[arg-type]
    if item["op"] == "<=":
        return x <= item["high"]
    if item["op"] == ">":
        return x > item["low"]
    return item["low"] < x <= item["high"]


ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "builds.parquet"


def make_events(
    n: int, seed: int, *, weights: bool = True, nulls: bool = True, planted: bool = False
) -> pl.DataFrame:
    """Random wide events with mixed kinds, optional nulls, weights and a planted cause."""
    rng = np.random.default_rng(seed)

    def maybe_null(values: np.ndarray, share: float) -> list:
        out = values.tolist()
        if nulls:
            for i in np.flatnonzero(rng.random(n) < share):
                out[i] = None
        return out

    region = rng.choice(["us", "eu", "ap", "sa"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    tier = rng.choice(["free", "pro", "ent"], size=n)
    mem = rng.choice([2048, 4096, 8192], size=n)
    flag = rng.random(n) < 0.3
    duration = np.round(rng.lognormal(8, 1, size=n), 1)
    customer = np.char.add("cust-", rng.integers(0, 400, size=n).astype(str))
    version = rng.choice(["v1", "v2", "v3"], size=n)
    outcome = np.where(rng.random(n) < 0.05, "error", "ok")
    if planted:
        bad = (version == "v3") & (region == "eu")
        outcome = np.where(bad & (rng.random(n) < 0.5), "error", outcome)
    frame = pl.DataFrame(
        {
            "region": maybe_null(region, 0.05),
            "tier": tier.tolist(),
            "memory_mb": maybe_null(mem, 0.02),
            "flag": maybe_null(flag, 0.1),
            "duration_ms": maybe_null(duration, 0.03),
            "customer": customer.tolist(),
            "version": version.tolist(),
            "outcome": outcome.tolist(),
        },
        schema={
            "region": pl.String,
            "tier": pl.String,
            "memory_mb": pl.Int64,
            "flag": pl.Boolean,
            "duration_ms": pl.Float64,
            "customer": pl.String,
            "version": pl.String,
            "outcome": pl.String,
        },
    )
    if weights:
        rate = np.where(outcome == "ok", rng.choice([1, 5, 10], size=n), 1)
        frame = frame.with_columns(sample_rate=pl.Series(rate, dtype=pl.Int64))
    return frame


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small dataset written as Parquet, CSV, NDJSON and Arrow IPC."""
    folder = tmp_path_factory.mktemp("tiny")
    frame = make_events(3000, seed=7, planted=True)
    paths = {
        "parquet": folder / "events.parquet",
        "csv": folder / "events.csv",
        "ndjson": folder / "events.ndjson",
        "arrow": folder / "events.arrow",
    }
    frame.write_parquet(paths["parquet"])
    frame.write_csv(paths["csv"])
    frame.write_ndjson(paths["ndjson"])
    frame.write_ipc(paths["arrow"])
    parts = folder / "parts"
    parts.mkdir()
    frame.head(1000).write_parquet(parts / "a.parquet")
    frame.slice(1000, 1000).write_parquet(parts / "b.parquet")
    frame.slice(2000).write_parquet(parts / "c.parquet")
    paths["dir"] = parts
    paths["frame"] = folder / "unused"
    return paths


def items_mask(df: pd.DataFrame, items: list[dict]) -> pd.Series:
    """Independent pandas evaluation of an explanation's items (all must hold)."""
    mask = pd.Series(True, index=df.index)
    for item in items:
        x = df[item["attribute"]]
        op = item["op"]
        if op == "is_null":
            m = x.isna()
        elif op == "<=":
            m = x <= item["high"]
        elif op == ">":
            m = x > item["low"]
        elif op == "between":
            m = (x > item["low"]) & (x <= item["high"])
        elif x.dtype == bool or str(x.dtype) == "boolean":
            m = x == (item["value"] == "true")
        elif pd.api.types.is_numeric_dtype(x):
            m = x == float(item["value"])
        else:
            m = x == item["value"]
        mask &= m.fillna(False).astype(bool)
    return mask
