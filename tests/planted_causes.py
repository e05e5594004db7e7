"""Generators of events whose selection comes with symptoms: outcomes, restatements, time.

Real wide events carry columns that say again what the selection says (an exit code), or
follow from it (a peak of memory, a short duration), next to the context that caused it.
Each scenario returns the events, the ``--where`` of the selection and the planted cause
as ``(attribute, op, value)`` tuples (``value`` ``None`` for time ranges, checked apart).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from planted import Cause, base_events

START = dt.datetime(2026, 11, 19, tzinfo=dt.UTC)
#: the planted outage: 2026-11-19 05:30 to 07:45 UTC in region 'ap'
OUTAGE = (
    dt.datetime(2026, 11, 19, 5, 30, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 19, 7, 45, tzinfo=dt.UTC),
)


def _times(n: int, rng: np.random.Generator) -> np.ndarray:
    """Event times spread over two days, to the second."""
    seconds = np.sort(rng.integers(0, 2 * 86400, size=n))
    return np.datetime64(START.replace(tzinfo=None), "us") + seconds.astype("timedelta64[s]")


def builds(name: str, *, n: int = 20_000, seed: int = 0) -> tuple[pl.DataFrame, str, Cause]:
    """CI builds OOM-killed by a pair (kernel 6.1 AND gradle), with their symptoms.

    ``code``: an ``exit_code`` that restates the selection (137 for every OOM kill);
    ``peak``: ``peak_memory_pct`` near 100 for the killed builds (a conventional name);
    ``declared``: the same measure as ``mem_hwm`` (no convention: ``--outcome`` names it);
    ``all``: every symptom at once, and a duration that ends early.
    """
    rng = np.random.default_rng(seed)
    c = base_events(n, rng)
    kernel = rng.choice(["5.4", "6.1"], size=n, p=[0.7, 0.3])
    tool = rng.choice(["gradle", "maven", "bazel", "make"], size=n)
    cause = (kernel == "6.1") & (tool == "gradle")
    oom = (rng.random(n) < 0.003) | (cause & (rng.random(n) < 0.4))
    cols: dict[str, object] = {**c, "kernel": kernel, "build_tool": tool}
    cols["exit_reason"] = np.where(oom, "oom", rng.choice(["success", "test_failure"], size=n))
    if name in ("code", "all"):
        cols["exit_code"] = np.where(oom, 137, np.where(cols["exit_reason"] == "success", 0, 1))
    peak = np.where(oom, rng.uniform(98.5, 100.0, size=n), rng.uniform(5.0, 96.0, size=n))
    if name in ("peak", "all"):
        cols["peak_memory_pct"] = np.round(peak, 1)
    if name in ("declared", "all"):
        cols["mem_hwm"] = np.round(peak, 1)
    if name == "all":
        cols["duration_ms"] = np.where(
            oom, rng.uniform(1_000, 20_000, size=n), rng.uniform(20_000, 600_000, size=n)
        ).round()
    cause_items = {("kernel", "=", "6.1"), ("build_tool", "=", "gradle")}
    return pl.DataFrame(cols), "exit_reason = 'oom'", cause_items


def outage(*, n: int = 40_000, seed: int = 0) -> tuple[pl.DataFrame, str, Cause]:
    """Builds in region 'ap' fail with ``infra_error`` during a two-hour outage.

    The failed builds also end fast (``duration_ms``), as infrastructure failures do.
    """
    rng = np.random.default_rng(seed)
    c = base_events(n, rng)
    ts = _times(n, rng)
    lo = np.datetime64(OUTAGE[0].replace(tzinfo=None), "us")
    hi = np.datetime64(OUTAGE[1].replace(tzinfo=None), "us")
    during = (ts >= lo) & (ts < hi) & (c["region"] == "ap")
    failed = (rng.random(n) < 0.004) | (during & (rng.random(n) < 0.6))
    fast, usual = rng.uniform(2_000, 90_000, size=n), rng.uniform(60_000, 900_000, size=n)
    duration = np.where(failed, fast, usual)
    frame = pl.DataFrame(
        {
            **c,
            "ts": pl.Series(ts).dt.replace_time_zone("UTC"),
            "duration_ms": duration.round().astype(np.int64),
            "exit_reason": np.where(failed, "infra_error", "success"),
        }
    )
    return frame, "exit_reason = 'infra_error'", {("region", "=", "ap"), ("ts", "between", None)}
